package storage

import "time"

// ClientType is OAuth 2.0's client type (RFC 6749 §2.1).
type ClientType string

// Client types.
const (
	Confidential ClientType = "confidential"
	Public       ClientType = "public"
)

// Client is a registered relying party.
type Client struct {
	ID   string
	Name string
	Type ClientType
	// SecretHash is the SHA-256 digest of the secret; empty for public clients.
	SecretHash []byte
	// SecretSealed is the secret encrypted with the system key, kept for
	// HS256 ID tokens; empty for public clients.
	SecretSealed []byte
	// PreviousSecretHash is the digest of the secret a rotation replaced;
	// the token endpoint still accepts it before PreviousSecretExpiresAt,
	// so that relying parties can switch to the new secret without an
	// outage. Empty (or a past PreviousSecretExpiresAt): only SecretHash
	// works.
	PreviousSecretHash      []byte
	PreviousSecretExpiresAt time.Time
	// ResponseTypes are the allowed response_type values, each a
	// space-separated set in canonical (sorted) order, e.g. "code id_token".
	ResponseTypes          []string
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	// JWTAlg signs this client's ID tokens: "RS256", "ES256", "HS256".
	JWTAlg         string
	RequireConsent bool
	ReuseConsent   bool
	// Scope is the client's registered scope: what client_credentials may
	// obtain, and which audiences it may introspect. When set, it also bounds
	// what every other grant may ask for (docs/security.md).
	Scope        []string
	Website      string
	TermsURL     string
	ContactEmail string
	LogoURL      string
	// FrontchannelLogoutURI is loaded in an iframe when a session the
	// client took part in ends (Front-Channel Logout 1.0 §2); with
	// FrontchannelLogoutSessionRequired it gets iss and sid.
	FrontchannelLogoutURI             string
	FrontchannelLogoutSessionRequired bool
	// BackchannelLogoutURI receives a logout token when a session the client
	// took part in ends (Back-Channel Logout 1.0 §2.2); with
	// BackchannelLogoutSessionRequired the token always carries sid.
	BackchannelLogoutURI             string
	BackchannelLogoutSessionRequired bool
	CreatedAt                        time.Time

	// Registration metadata beyond django-oidc-provider's (RFC 7591 §2, OpenID Connect
	// Dynamic Client Registration 1.0 §2, RFC 9126 §6, RFC 9068 §2).
	ClientMetadata
	// RegistrationTokenHash is the digest of the registration access token
	// (RFC 7592 §1.2) of a client made at /register; empty otherwise.
	RegistrationTokenHash []byte
	// LogoImage is the client's logo as oidcd serves it (PNG, JPEG, GIF or
	// WebP; LogoType its media type): uploaded, or fetched once at
	// registration. Pages show only this, never LogoURL, so that no other
	// host learns who visits them (docs/security.md "Browser pages").
	LogoImage []byte
	LogoType  string
	// PublicPasswordGrant lets a public client list the password grant: the
	// operator's decision (oidcd clients create
	// --allow-public-password-grant), never a registration property, as the
	// grant then has no client secret behind it.
	PublicPasswordGrant bool
	// TokensRevokedAt, when set, ends every token issued to the client at
	// or before it: RevokeClientTokens sets it, and UpdateClient leaves it
	// as stored. Stored tokens are revoked with their grants at once; the
	// provider checks it for the tokens that have no row (stateless
	// client_credentials tokens).
	TokensRevokedAt time.Time
}

// ClientMetadata are a client's registration properties that django-oidc-provider does
// not have. The zero value of each is the behaviour of a client made
// before they existed.
type ClientMetadata struct {
	// TokenEndpointAuthMethod is how the client authenticates (RFC 7591
	// §2): client_secret_basic, client_secret_post, client_secret_jwt,
	// private_key_jwt or none. Empty: client_secret_basic or _post for
	// confidential clients, none for public ones.
	TokenEndpointAuthMethod string
	// TokenEndpointAuthSigningAlg, if set, is the only alg accepted for the
	// client's assertions (OIDC Registration §2).
	TokenEndpointAuthSigningAlg string
	// GrantTypes limits the grants the client may use; empty allows every
	// grant the provider enables (clients made before the property existed)
	// except password (docs/security.md) and the extension grants (RFC
	// 8628's device grant), which a client must list to use.
	GrantTypes []string
	// JWKS is the client's public JWK Set as JSON; JWKSURI where to fetch
	// it. At most one is set (RFC 7591 §2).
	JWKS    string
	JWKSURI string
	// SubjectType is "public" (or empty) or "pairwise" (OIDC Core §8);
	// SectorIdentifierURI lists the client's redirect URIs (§8.1).
	SubjectType         string
	SectorIdentifierURI string
	// DPoPBoundAccessTokens makes the client's token requests need a DPoP
	// proof, so that all its tokens are bound to a key (RFC 9449 §5.2).
	DPoPBoundAccessTokens bool
	// RequirePushedAuthorizationRequests refuses authorization requests
	// that do not come through /par (RFC 9126 §6).
	RequirePushedAuthorizationRequests bool
	// RequestURIs are the request_uri values the client may use besides
	// its own pushed requests (OIDC Core §6.2, RFC 9101 §5.2).
	RequestURIs []string
	// RequestObjectSigningAlg, if set, is the only alg accepted for the
	// client's request objects; "none" must be registered to be accepted.
	RequestObjectSigningAlg string
	// AccessTokenSignedResponseAlg makes the client's access tokens JWTs
	// signed with this alg (RFC 9068).
	AccessTokenSignedResponseAlg string
	// Resources are the resource indicators (RFC 8707 absolute URIs) the
	// client may ask tokens for. Empty: those the provider declares for
	// every client.
	Resources []string
	// IDTokenEncryptedResponseAlg/Enc encrypt the client's ID tokens; the
	// Userinfo* fields sign and encrypt its userinfo responses (OIDC
	// Registration §2).
	IDTokenEncryptedResponseAlg  string
	IDTokenEncryptedResponseEnc  string
	UserinfoSignedResponseAlg    string
	UserinfoEncryptedResponseAlg string
	UserinfoEncryptedResponseEnc string
	// SoftwareID and SoftwareVersion identify the client software (RFC 7591 §2).
	SoftwareID      string
	SoftwareVersion string
	// PolicyURI is the client's privacy policy, linked from the consent
	// page (RFC 7591 §2 policy_uri).
	PolicyURI string `json:",omitempty"`
}

// AuthCode is an authorization code, stored by its digest.
type AuthCode struct {
	Hash        []byte
	GrantID     string // the grant the code's tokens will belong to
	ClientID    string
	UserID      string
	SessionID   string
	RedirectURI string
	Scope       []string
	Nonce       string
	// Claims is the JSON of the "claims" request parameter, if any.
	Claims              string
	CodeChallenge       string
	CodeChallengeMethod string
	// ClaimsLocales is the claims_locales of the authorization request
	// (OIDC Core §5.2): space-separated BCP 47 tags, "" when not sent.
	ClaimsLocales string
	// DPoPJKT is the dpop_jkt of the authorization request (RFC 9449 §10):
	// the key the code's tokens must be bound to; empty when not sent.
	DPoPJKT string
	// Resources are the resource indicators of the authorization request
	// (RFC 8707 §2.1): absolute URIs the code's tokens may be for.
	Resources  []string
	AuthTime   time.Time
	CreatedAt  time.Time
	ExpiresAt  time.Time
	ConsumedAt time.Time // zero until redeemed
}

// Grant groups the tokens issued from one authorization.
type Grant struct {
	ID        string
	ClientID  string
	UserID    string // empty for client_credentials
	SessionID string
	Scope     []string
	Claims    string
	Nonce     string
	AuthTime  time.Time
	CreatedAt time.Time
	// ExpiresAt bounds the whole grant: no refresh after it.
	ExpiresAt time.Time
	RevokedAt time.Time // zero while active
	// ClaimsLocales is the claims_locales of the authorization request
	// (OIDC Core §5.2), "" when not sent.
	ClaimsLocales string
	// Actor is the JSON "act" claim (RFC 8693 §4.1) of a grant made by
	// token exchange with an actor token: who acts for UserID. Empty
	// otherwise.
	Actor string
	// Resources are the resources (RFC 8707 absolute URIs) the grant was
	// authorized for; each access token's Audience is a subset. Empty: the
	// grant is not restricted to resources.
	Resources []string
}

// TokenKind tells access tokens from refresh tokens.
type TokenKind string

// Token kinds.
const (
	AccessToken  TokenKind = "access"
	RefreshToken TokenKind = "refresh"
)

// Token is an access or refresh token, stored by its digest.
type Token struct {
	Hash      []byte
	Kind      TokenKind
	GrantID   string
	ClientID  string
	UserID    string
	Scope     []string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // refresh tokens: when rotated; zero while usable
	// Audience is the token's "aud": the resources (RFC 8707 URIs) and,
	// from token exchange, the audiences (client ids, RFC 8693 §2.1) it
	// is for; empty means the client itself.
	Audience []string
	// JKT is the JWK SHA-256 thumbprint of the key a DPoP-bound token is
	// bound to (RFC 9449 §6); empty for bearer tokens.
	JKT string
}

// Consent records scopes a user allowed a client.
type Consent struct {
	UserID   string
	ClientID string
	Scope    []string
	// Claims are the claims the user saw asked for individually (the
	// "claims" request parameter) beyond those of Scope; a remembered
	// consent covers only what was shown.
	Claims    []string
	GivenAt   time.Time
	ExpiresAt time.Time
}

// SigningKey is a JWS signing key. The private key is a PKCS #8 DER sealed
// with the system key.
type SigningKey struct {
	ID            string // the JWK kid
	Alg           string // RS256, ES256, EdDSA
	PrivateSealed []byte
	CreatedAt     time.Time
	// ActivatesAt is when the key starts signing; zero: at once. Until then
	// it is "next": published, so that every node and every relying party's
	// cached JWKS knows it before any token carries its kid
	// (docs/security.md "Signing keys").
	ActivatesAt time.Time
	// RetiredAt is when the key stops signing (zero: never); a retired key
	// stays published while a token it signed can live.
	RetiredAt time.Time
}

// Session is a browser login session of the oidcd server.
type Session struct {
	Hash      []byte // digest of the cookie value
	ID        string // a public identifier (the sid claim)
	UserID    string
	AuthTime  time.Time
	CreatedAt time.Time
	ExpiresAt time.Time
}

// User is an account of the oidcd server, with the standard claims of
// OIDC Core §5.1. (op.User, by contrast, is who is logged in on a request.)
type User struct {
	ID           string
	Username     string
	PasswordHash string // PHC string, e.g. $argon2id$...
	Admin        bool
	// Locked accounts cannot sign in (the login page and the password
	// grant answer as for a wrong password); locking also ends their
	// sessions and grants.
	Locked bool
	// Claims are the account's standard claims; Claims.UpdatedAt is when the
	// account last changed.
	Claims
	CreatedAt time.Time
}

// Claims are a user's standard claims (OIDC Core §5.1): one model for the op
// library (op.Claims is this type, filled by a host's Users.Claims), the
// oidcd server's accounts (User embeds it) and the command line's JSON
// (the tags are the claim names). Empty values are never released.
type Claims struct {
	Name                string    `json:"name,omitempty"`
	GivenName           string    `json:"given_name,omitempty"`
	FamilyName          string    `json:"family_name,omitempty"`
	MiddleName          string    `json:"middle_name,omitempty"`
	Nickname            string    `json:"nickname,omitempty"`
	PreferredUsername   string    `json:"preferred_username,omitempty"`
	Profile             string    `json:"profile,omitempty"`
	Picture             string    `json:"picture,omitempty"`
	Website             string    `json:"website,omitempty"`
	Gender              string    `json:"gender,omitempty"`
	Birthdate           string    `json:"birthdate,omitempty"`
	Zoneinfo            string    `json:"zoneinfo,omitempty"`
	Locale              string    `json:"locale,omitempty"`
	UpdatedAt           time.Time `json:"updated_at"`
	Email               string    `json:"email,omitempty"`
	EmailVerified       bool      `json:"email_verified"`
	PhoneNumber         string    `json:"phone_number,omitempty"`
	PhoneNumberVerified bool      `json:"phone_number_verified"`
	Address             Address   `json:"address,omitzero"`
	// Localized are values of the claims above in other languages and
	// scripts, keyed "<claim>#<BCP 47 tag>" ("name#ja-Kana-JP"; OIDC Core
	// §5.2), for the claims in LocalizableClaims. They are released only
	// to a request whose claims_locales asks for their language.
	Localized map[string]string `json:"localized,omitempty"`
}

// LocalizableClaims are the standard claims that may have values in
// several languages (Claims.Localized): the human-readable ones.
var LocalizableClaims = []string{"name", "given_name", "family_name", "middle_name", "nickname", "profile", "website"}

// Address is the structured address claim (OIDC Core §5.1.1).
type Address struct {
	Formatted     string `json:"formatted,omitempty"`
	StreetAddress string `json:"street_address,omitempty"`
	Locality      string `json:"locality,omitempty"`
	Region        string `json:"region,omitempty"`
	PostalCode    string `json:"postal_code,omitempty"`
	Country       string `json:"country,omitempty"`
}

// DeviceStatus is where a device authorization stands (RFC 8628 §3.3-3.5).
type DeviceStatus string

// Device authorization states.
const (
	DevicePending  DeviceStatus = "pending"
	DeviceApproved DeviceStatus = "approved"
	DeviceDenied   DeviceStatus = "denied"
)

// DeviceAuth is a device authorization request (RFC 8628 §3.1), stored by
// the digests of its device code and user code.
type DeviceAuth struct {
	DeviceCodeHash []byte
	UserCodeHash   []byte
	ClientID       string
	Scope          []string
	Status         DeviceStatus
	// GrantID is the grant its tokens will belong to.
	GrantID string
	// Resources are the resource indicators of the request (RFC 8707).
	Resources []string
	// UserID, SessionID and AuthTime are set when a user decides.
	UserID    string
	SessionID string
	AuthTime  time.Time
	// Interval is the current minimum polling interval (RFC 8628 §3.5);
	// every poll that comes too soon lengthens it by 5 seconds.
	Interval     time.Duration
	CreatedAt    time.Time
	ExpiresAt    time.Time
	LastPolledAt time.Time // zero until first polled
	ConsumedAt   time.Time // zero until its tokens are issued
}

// DeviceDecision is a user's answer to a device authorization.
type DeviceDecision struct {
	Approved  bool
	UserID    string
	SessionID string
	AuthTime  time.Time
}

// SessionClient records that a client was issued a code or tokens in a
// browser session, so that logging out of the session can notify it
// (Back-Channel Logout 1.0 §2.3, Front-Channel Logout 1.0 §3).
type SessionClient struct {
	SessionID string
	ClientID  string
	UserID    string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// LogoutMessage is a back-channel logout token waiting to be delivered to
// one client (Back-Channel Logout 1.0 §2.5). The token is signed at each
// attempt, so it is never stale; ID is its jti.
type LogoutMessage struct {
	ID        string
	ClientID  string
	URI       string // the client's backchannel_logout_uri when queued
	Subject   string // the sub claim; empty when not sent
	SessionID string // the sid claim; empty when not sent
	Attempts  int    // deliveries tried, the current one included
	// NextAttemptAt is when the message is due.
	NextAttemptAt time.Time
	// LeaseUntil is when a node's claim on the message lapses: while it
	// holds no other node delivers the message. Zero when not leased.
	LeaseUntil time.Time
	LastError  string
	CreatedAt  time.Time
	// ExpiresAt is when delivery is given up.
	ExpiresAt time.Time
}

// GrantQuery selects live grants (neither revoked nor expired) by user,
// by client, or both; an empty field matches every value.
type GrantQuery struct {
	UserID   string
	ClientID string
}

// SessionQuery selects live browser sessions: those of a user, those a
// client took part in (it was given a code or tokens in them), the one
// with a public id; an empty field matches every value.
type SessionQuery struct {
	UserID   string
	ClientID string
	ID       string
}

// UserQuery selects a page of users ordered by username.
type UserQuery struct {
	// Search, if not empty, keeps users whose username, name, email or id
	// contains it, ignoring ASCII case.
	Search string
	// Offset skips that many matching users; Limit returns at most that
	// many (0: all).
	Offset, Limit int
}

// AuditRecord is one administrative change (through the console or the
// command line): who made it, when, from where, what it did. It never
// holds a secret.
type AuditRecord struct {
	// ID is unique and sorts by time (storage orders by At, then ID).
	ID string
	At time.Time
	// ActorID is the acting account's id; empty for the command line.
	ActorID string
	// Actor is who acted: an admin's username, or "cli" plus the operating
	// system user for the command line.
	Actor string
	// IP is the address the change came from; empty for the command line.
	IP string
	// Action is a stable name such as "client.update" or "key.retire".
	Action string
	// Target names what changed: "client:ID", "user:ID", "key:KID", ...
	Target string
	// Detail says how, for a reader (e.g. the properties changed).
	Detail string
}

// AuditQuery selects audit records, newest first.
type AuditQuery struct {
	// Action, Target and ActorID, when set, must match exactly.
	Action  string
	Target  string
	ActorID string
	// Before, when not zero, keeps records strictly older (paging: pass
	// the At of the last record seen, with BeforeID its ID).
	Before   time.Time
	BeforeID string
	// Limit returns at most that many (0: 100).
	Limit int
}
