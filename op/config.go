package op

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/oidcd/oidcd/keys"
	"github.com/oidcd/oidcd/storage"
	"github.com/oidcd/oidcd/web"
)

// Config configures a Provider. Zero values take the defaults named in each
// field's comment (django-oidc-provider's defaults where django-oidc-provider has the setting).
type Config struct {
	// Issuer is the provider's identifier and the base URL of its endpoints,
	// e.g. "https://id.example.com" or "https://example.com/openid". Required
	// (django-oidc-provider's SITE_URL); never derived from request headers (SECURITY G2).
	Issuer string
	// Storage keeps clients, codes, grants, tokens, consents, signing keys and
	// throttle counters: storage.Provider, which a host implements without
	// any user accounts (storage/memstore and storage/sqlstore are two
	// backends). Required.
	Storage storage.Provider
	// Users tells who is logged in and what their claims are. Required.
	Users Users
	// Sealer holds the system key: it seals secrets at rest and keys CSRF
	// MACs. keys.NewSealer(secret) is the default; a host may keep the key in
	// a KMS or HSM with its own keys.Sealer. Required.
	Sealer keys.Sealer
	// LoginURL is where a browser without a logged-in user is sent, with the
	// authorization request in the "next" query parameter. Defaults to "/login".
	LoginURL string

	// CodeExpire bounds an authorization code's life. Defaults to 10m.
	CodeExpire time.Duration
	// IDTokenExpire bounds an ID token's life. Defaults to 10m.
	IDTokenExpire time.Duration
	// TokenExpire bounds an access token's life. Defaults to 1h.
	TokenExpire time.Duration
	// RefreshTokenExpire is the absolute life of a grant's refresh tokens,
	// counted from the authorization. Defaults to 30 days.
	RefreshTokenExpire time.Duration
	// RefreshTokenIdleExpire ends a refresh token not used for this long.
	// Defaults to 14 days.
	RefreshTokenIdleExpire time.Duration
	// SkipConsentExpire is how long a remembered consent lasts. Defaults to
	// 90 days.
	SkipConsentExpire time.Duration
	// IDTokenIncludeClaims puts the standard claims of the granted scopes
	// into ID tokens (django-oidc-provider's OIDC_IDTOKEN_INCLUDE_CLAIMS).
	IDTokenIncludeClaims bool
	// Scopes adds scopes beyond openid, profile, email, phone, address and
	// offline_access (django-oidc-provider's OIDC_EXTRA_SCOPE_CLAIMS).
	Scopes []Scope
	// Templates overlays the embedded page templates: a file named like an
	// embedded one (authorize.html, error.html, form_post.html) replaces it.
	Templates fs.FS
	// Translations adds page languages or rewords messages: gettext files
	// named <BCP 47 tag>.po (es.po, pt-BR.po), each read before the
	// built-in catalog of its language (see web.Options). Defaults to none.
	Translations fs.FS
	// Languages restricts the pages' languages (discovery's
	// ui_locales_supported). Defaults to every catalog: the built-in en,
	// es, fr and pl and those Translations adds.
	Languages []string
	// DefaultLanguage is the pages' language when neither ui_locales, the
	// user's locale claim nor Accept-Language names an offered one.
	// Defaults to "en".
	DefaultLanguage string
	// ClaimsLocales are the languages that users' localized claims may be
	// in (discovery's claims_locales_supported; Claims.Localized holds the
	// values). Defaults to the pages' languages.
	ClaimsLocales []string
	// Branding puts a site name, logo, primary colour, extra stylesheet and
	// footer links on every page without replacing the templates.
	Branding web.Branding
	// OnMissingTranslation, when set, is called for every message a page
	// shows without a translation in its language (the English text is
	// shown). Tests set it to fail on a missing translation.
	OnMissingTranslation func(lang, msgid string)
	// ClientAuthMaxFailures slows down secret guessing (SECURITY E6): after
	// this many failed authentications of one client from one IP within
	// ClientAuthFailureWindow, further attempts from that IP are refused
	// unchecked until the window passes. Counted in storage, so shared by
	// nodes; keyed by IP so that nobody can lock a client out for everyone.
	// Defaults to 20.
	ClientAuthMaxFailures int
	// ClientAuthFailureWindow defaults to 1m.
	ClientAuthFailureWindow time.Duration
	// ClientIP returns the IP a request comes from (for the throttle above).
	// Defaults to the TCP peer; a host behind proxies supplies its own.
	ClientIP func(*http.Request) string
	// ClientCacheTTL is how long a client read from storage is reused: a
	// client changed through another node or the CLI is seen within it.
	// Defaults to 5s; negative disables the cache.
	ClientCacheTTL time.Duration
	// KeyRefresh is how often signing keys are re-read from storage, so a key
	// created or rotated through another node is used here too: by Run, and
	// on demand when a request finds the keys older. Defaults to 30s.
	KeyRefresh time.Duration
	// JWKSMaxAge is the JWKS cache lifetime sent to relying parties
	// (Cache-Control max-age). A new key must be published for KeyRefresh +
	// JWKSMaxAge before it signs (keys.AddKey). Defaults to 5 minutes.
	JWKSMaxAge time.Duration
	// CleanupInterval is how often Run deletes expired rows
	// (Storage.DeleteExpired). Defaults to 5m; negative disables the
	// deletion (for a host that schedules DeleteExpired itself).
	CleanupInterval time.Duration
	// PasswordGrant enables the resource owner password credentials grant
	// (RFC 6749 §4.3; django-oidc-provider's OIDC_GRANT_TYPE_PASSWORD_ENABLE). It also
	// needs Users to implement PasswordAuthenticator. Off by default.
	PasswordGrant bool
	// InsecureIntrospectionAnyAudience lets a client introspect tokens of
	// any audience. By default the token's client must be in the caller's
	// scope (django-oidc-provider's OIDC_INTROSPECTION_VALIDATE_AUDIENCE_SCOPE=True).
	InsecureIntrospectionAnyAudience bool
	// DisableQueryToken refuses access tokens sent in the URL query (
	// django-oidc-provider accepts them at userinfo; SECURITY D11 keeps that default but lets
	// it be switched off). Tokens in the header or form body still work.
	DisableQueryToken bool
	// PARExpire is how long a request_uri from the pushed authorization
	// request endpoint (RFC 9126) may be used: it must outlast the user's
	// login. Defaults to 5m.
	PARExpire time.Duration
	// RequirePAR refuses authorization requests that were not pushed to
	// /par first, for every client (RFC 9126 §5); a client can also require
	// it for itself (require_pushed_authorization_requests).
	RequirePAR bool
	// InsecureAllowPrivateTargets lets the provider's outgoing requests to
	// URLs that clients supply (jwks_uri, back-channel logout) reach loopback, private and
	// link-local addresses (tests, relying parties on an internal network).
	// Off: such targets are refused after DNS resolution (SECURITY K1).
	InsecureAllowPrivateTargets bool
	// FirstKeyInBackground lets New return before the first signing key of
	// an empty storage exists: the RS256 key, whose generation takes from 50
	// to several hundred milliseconds and is most of a first start, is made
	// in the background. Until it is stored, requests that sign or publish
	// keys (token, JWKS, …) wait for it, and Ready reports that no key is
	// loaded; every other endpoint answers. Off: New makes the key itself.
	// A program that adds keys of its own right after New keeps it off.
	FirstKeyInBackground bool
	// StatelessClientCredentials issues client_credentials access tokens
	// that are not stored: the token carries its client, scope, audience
	// and times under a MAC keyed by the system secret, so issuing one
	// writes nothing (about half of such a token's CPU on SQLite). They
	// introspect, revoke (RFC 7009), bind to DPoP keys and serve token
	// exchange as stored ones do, but are not listed among a client's
	// grants, end when the system secret changes, and end within
	// ClientCacheTTL when their client is deleted through another node.
	// Tokens a client asked to be JWTs are stored as before. Storage must
	// implement storage.ReplayLookups (revocations are recorded with
	// Replays.UseOnce). Off by default.
	StatelessClientCredentials bool
	// Registration configures dynamic client registration at /register
	// (RFC 7591, RFC 7592). Off by default.
	Registration Registration

	// DeviceFlow enables the device authorization grant (RFC 8628): the
	// /device_authorization endpoint, the /device verification page and the
	// device_code grant, for clients whose GrantTypes list
	// GrantTypeDeviceCode. Off by default.
	DeviceFlow bool
	// DeviceCodeExpire bounds the life of a device code and its user code.
	// Defaults to 10m.
	DeviceCodeExpire time.Duration
	// DevicePollInterval is the minimum time between a device's polls
	// (RFC 8628 §3.2 interval), rounded up to whole seconds. Defaults to 5s.
	DevicePollInterval time.Duration
	// UserCodeMaxFailures wrong user codes from one client IP within
	// UserCodeFailureWindow make the verification page refuse further codes
	// unchecked until the window has passed (RFC 8628 §5.1). Counted in
	// storage, so shared by nodes. Defaults to 10.
	UserCodeMaxFailures int
	// UserCodeFailureWindow defaults to 5m.
	UserCodeFailureWindow time.Duration
	// SessionManagement enables OpenID Connect Session Management 1.0 (django-oidc-provider's
	// OIDC_SESSION_MANAGEMENT_ENABLE): the check_session_iframe, a
	// session_state in every successful authorization response and the
	// browser-state cookie. Off by default.
	SessionManagement bool
	// UnauthenticatedSessionKey fixes the browser state of a browser
	// without a session (django-oidc-provider's
	// OIDC_UNAUTHENTICATED_SESSION_MANAGEMENT_KEY). Defaults to a value
	// derived from the Sealer's key, which is already the same on every
	// node that shares the system secret.
	UnauthenticatedSessionKey string
	// LogoutDeliveryInterval is how often an idle Run looks for
	// due back-channel logout messages queued by other nodes or waiting for
	// a retry (this node's own logouts wake it at once). Defaults to 2s.
	LogoutDeliveryInterval time.Duration
	// LogoutRetryBackoff is the wait after a failed delivery; it doubles
	// with every further failure, up to an hour. Defaults to 10s.
	LogoutRetryBackoff time.Duration
	// LogoutRetryFor is how long a logout token is retried before it is
	// given up. Defaults to 24h.
	LogoutRetryFor time.Duration
	// LogoutLease is how long a node holds a message it is delivering;
	// a node that dies meanwhile leaves it to another node after this. One
	// attempt takes at most a third of it (and at most 10s), so a lease
	// never lapses while its holder may still deliver. Defaults to 30s.
	LogoutLease time.Duration

	// DPoP enables sender-constrained tokens (RFC 9449): a token request
	// with a DPoP proof gets tokens bound to the proof's key, which are then
	// accepted at userinfo and by Protect only with a proof by that key.
	// Off by default (a DPoP header is then ignored).
	DPoP bool
	// DPoPProofWindow bounds how far a proof's iat may lie from now; its
	// jti is remembered (in storage, for every node) twice as long.
	// Defaults to 1m.
	DPoPProofWindow time.Duration
	// DPoPRequireNonce makes every proof carry a nonce from this server
	// (RFC 9449 §8), given in the DPoP-Nonce header; nonces are stateless
	// (a MAC over a 30 s time step), so every node accepts every node's.
	DPoPRequireNonce bool
	// DPoPNonceExpire is how long a nonce is accepted. Defaults to 5m.
	DPoPNonceExpire time.Duration

	// TokenExchange enables OAuth 2.0 Token Exchange (RFC 8693) for clients
	// whose GrantTypes list GrantTypeTokenExchange. Without
	// Hooks.TokenExchange a client may only exchange its own access token
	// for another audience or a narrower scope. Off by default.
	TokenExchange bool
	// TokenExchangeIssuers are other issuers whose JWTs may be exchanged
	// (subject_token_type TokenTypeJWT); Hooks.TokenExchange must then map
	// the JWT's subject to a user. Defaults to none.
	TokenExchangeIssuers []TrustedIssuer
	// Resources are the protected resources (RFC 8707) every client may
	// ask tokens for with the resource parameter; a client that registers
	// its own list ("resources") may ask only for those. A resource named
	// in neither is refused with invalid_target. Defaults to none: the
	// resource parameter is then refused except for clients with a list.
	Resources []Resource
	// GrantTypes registers extension grants (RFC 6749 §4.5) by their
	// grant_type, an absolute URI such as
	// "urn:ietf:params:oauth:grant-type:jwt-bearer". The token endpoint
	// authenticates the client, runs the handler and issues the access token
	// it decides; discovery advertises the grant type. Which clients may use
	// it is the handler's decision (GrantRequest.Client); a client registered
	// with an explicit list of grant types is refused before the handler
	// runs, as for any grant type it does not list.
	GrantTypes map[string]GrantHandler

	Hooks  Hooks
	Logger *slog.Logger     // Defaults to a logger that discards.
	Now    func() time.Time // Defaults to time.Now.
}

// Users is the host application's view of its users (django-oidc-provider's
// request.user and OIDC_USERINFO).
type Users interface {
	// CurrentUser returns the user logged in on the browser making r, or
	// nil and no error when nobody is.
	CurrentUser(r *http.Request) (*User, error)
	// Claims fills c with the standard claims of the user with this id.
	Claims(ctx context.Context, userID string, c *Claims) error
}

// User is who is logged in on a request, as the host's session knows it:
// the user's id in the host application, when they authenticated, and the
// browser session. It is not an account (the oidcd server keeps those as
// storage.User; a host keeps its own).
type User struct {
	ID       string
	AuthTime time.Time
	// SessionID identifies the browser session (the "sid" claim); optional.
	SessionID string
}

// Scope is a scope with its consent-page text and the claims it releases.
type Scope struct {
	Name        string
	Title       string
	Description string
	// Claims returns the claims this scope releases for a user; empty values
	// are dropped. Nil for scopes that release no claims.
	Claims func(ctx context.Context, userID string) (map[string]any, error)
}

// Hooks are optional callbacks; nil means the default behaviour.
type Hooks struct {
	// Subject returns the "sub" for a user and client (django-oidc-provider's
	// OIDC_IDTOKEN_SUB_GENERATOR). Defaults to the user id.
	Subject func(ctx context.Context, a SubjectArgs) (string, error)
	// IDToken hooks run in order and may add or change claims (django-oidc-provider's
	// OIDC_IDTOKEN_PROCESSING_HOOK list).
	IDToken []func(ctx context.Context, a *IDTokenArgs) error
	// AfterLogin runs when an authorization request arrives with a logged-in
	// user, before consent. If it reports handled, it has written the response
	// (e.g. a redirect elsewhere, returning later to the same request).
	AfterLogin func(w http.ResponseWriter, r *http.Request, a AfterLoginArgs) (handled bool, err error)
	// Introspection may change an introspection response of an active
	// token (django-oidc-provider's OIDC_INTROSPECTION_PROCESSING_HOOK).
	Introspection func(ctx context.Context, a *IntrospectionArgs) error
	// TokenExchange decides a token exchange (RFC 8693): return nil to
	// allow it, an error to refuse it (an *Error is sent as it is, anything
	// else as invalid_request). It sees the verified subject and actor
	// tokens, may narrow a.Scope and must set a.UserID for a subject from
	// a trusted issuer. Without it only the default policy applies (see
	// Config.TokenExchange).
	TokenExchange func(ctx context.Context, a *TokenExchangeArgs) error
	// OnConsent is told when a user accepts or declines the consent page
	// (django-oidc-provider's user_accept_consent / user_decline_consent
	// signals).
	OnConsent func(ctx context.Context, e ConsentEvent)
	// Registration is the policy for dynamic registration and its updates
	// (RFC 7591 §3, RFC 7592 §2.2): it may change a.Metadata, or refuse with
	// an error (an *Error is sent as it is, e.g. invalid_client_metadata or
	// invalid_redirect_uri; any other error as invalid_client_metadata with
	// a generic description). The result is validated like any client.
	Registration func(ctx context.Context, a *RegistrationArgs) error
	// Event is told of every Event the provider emits or a host passes to
	// Provider.Emit, after it is logged: the place for metrics and audit
	// trails. It runs on the request's goroutine and must not block.
	Event func(ctx context.Context, e Event)
	// AfterEndSession runs at the end-session endpoint once the logout is
	// decided, just before the session ends (django-oidc-provider's
	// OIDC_AFTER_END_SESSION_HOOK). An error stops the logout and shows the
	// error page.
	AfterEndSession func(ctx context.Context, a AfterEndSessionArgs) error
}

// PasswordAuthenticator is what Users implements to allow the password
// grant: the same check the login page makes, with the request at hand
// (for its client IP). It returns ErrInvalidCredentials, a *ThrottledError,
// or another error for a failure of its own.
type PasswordAuthenticator interface {
	AuthenticatePassword(r *http.Request, username, password string) (*User, error)
}

// ErrInvalidCredentials is a wrong username or password, whoever checked it
// (a PasswordAuthenticator, the oidcd server's login page).
var ErrInvalidCredentials = errors.New("op: invalid username or password")

// ThrottledError refuses an attempt without checking it, after too many
// failures; RetryAfter says when to try again.
type ThrottledError struct{ RetryAfter time.Duration }

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("op: too many failed attempts, retry after %s", e.RetryAfter)
}

// IntrospectionArgs are the inputs of Hooks.Introspection.
type IntrospectionArgs struct {
	// Response is the introspection response; change it in place.
	Response map[string]any
	// Client is the client the token was issued to.
	Client *storage.Client
	// IDToken holds the ID token claims of the token's authorization (iss,
	// sub, aud, auth_time, nonce), nil for client-credentials tokens.
	IDToken map[string]any
}

// SubjectArgs are the inputs of Hooks.Subject.
type SubjectArgs struct {
	UserID string
	Client *storage.Client
}

// IDTokenArgs are the inputs of Hooks.IDToken; Claims may be changed in place.
type IDTokenArgs struct {
	Claims  map[string]any
	UserID  string
	Client  *storage.Client
	Scope   []string
	Request *http.Request
}

// AfterLoginArgs are the inputs of Hooks.AfterLogin.
type AfterLoginArgs struct {
	User   *User
	Client *storage.Client
	// Next is the authorization request's URL, to come back to.
	Next string
}

// ConsentEvent reports a consent decision.
type ConsentEvent struct {
	UserID string
	Client *storage.Client
	Scope  []string
	// Claims are the claims asked for individually beyond Scope (the
	// "claims" request parameter), as the consent page listed them.
	Claims   []string
	Accepted bool
}

func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.CodeExpire, 10*time.Minute)
	def(&c.IDTokenExpire, 10*time.Minute)
	def(&c.TokenExpire, time.Hour)
	def(&c.RefreshTokenExpire, 30*24*time.Hour)
	def(&c.RefreshTokenIdleExpire, 14*24*time.Hour)
	def(&c.SkipConsentExpire, 90*24*time.Hour)
	def(&c.KeyRefresh, 30*time.Second)
	def(&c.JWKSMaxAge, 5*time.Minute)
	def(&c.PARExpire, 5*time.Minute)
	def(&c.CleanupInterval, 5*time.Minute)
	def(&c.ClientCacheTTL, 5*time.Second)
	def(&c.ClientAuthFailureWindow, time.Minute)
	def(&c.DeviceCodeExpire, 10*time.Minute)
	def(&c.DPoPProofWindow, time.Minute)
	def(&c.DPoPNonceExpire, 5*time.Minute)
	def(&c.DevicePollInterval, 5*time.Second)
	def(&c.UserCodeFailureWindow, 5*time.Minute)
	if c.UserCodeMaxFailures == 0 {
		c.UserCodeMaxFailures = 10
	}
	def(&c.LogoutDeliveryInterval, 2*time.Second)
	def(&c.LogoutRetryBackoff, 10*time.Second)
	def(&c.LogoutRetryFor, 24*time.Hour)
	def(&c.LogoutLease, 30*time.Second)
	if c.ClientAuthMaxFailures == 0 {
		c.ClientAuthMaxFailures = 20
	}
	if c.ClientIP == nil {
		c.ClientIP = peerIP
	}
	if c.LoginURL == "" {
		c.LoginURL = "/login"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	c.Issuer = strings.TrimSuffix(c.Issuer, "/")
	if c.Registration.Open {
		c.Registration.Enabled = true
	}
}

// validate reports every problem at once.
func (c *Config) validate() error {
	errs := c.validateResources()
	if c.Issuer == "" {
		errs = append(errs, errors.New("op: Issuer is required"))
	} else if u, err := url.Parse(c.Issuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		errs = append(errs, fmt.Errorf("op: Issuer %q must be an http(s) URL without query or fragment (OIDC Discovery §2)", c.Issuer))
	}
	if c.Storage == nil {
		errs = append(errs, errors.New("op: Storage is required"))
	} else if _, ok := c.Storage.(storage.ReplayLookups); c.StatelessClientCredentials && !ok {
		errs = append(errs, errors.New("op: StatelessClientCredentials needs a Storage that implements storage.ReplayLookups"))
	}
	for _, l := range c.ClaimsLocales {
		if normalizeLocales(l) != l {
			errs = append(errs, fmt.Errorf("op: ClaimsLocales: %q is not a canonical BCP 47 tag", l))
		}
	}
	if c.Users == nil {
		errs = append(errs, errors.New("op: Users is required"))
	}
	if c.Sealer == nil {
		errs = append(errs, errors.New("op: Sealer is required"))
	}
	if _, ok := c.Users.(PasswordAuthenticator); c.PasswordGrant && c.Users != nil && !ok {
		errs = append(errs, errors.New("op: PasswordGrant needs Users to implement PasswordAuthenticator"))
	}
	for name, d := range map[string]time.Duration{
		"CodeExpire": c.CodeExpire, "IDTokenExpire": c.IDTokenExpire, "TokenExpire": c.TokenExpire,
		"RefreshTokenExpire": c.RefreshTokenExpire, "RefreshTokenIdleExpire": c.RefreshTokenIdleExpire,
		"SkipConsentExpire": c.SkipConsentExpire, "KeyRefresh": c.KeyRefresh, "JWKSMaxAge": c.JWKSMaxAge, "PARExpire": c.PARExpire,
		"ClientAuthFailureWindow": c.ClientAuthFailureWindow,
		"DeviceCodeExpire":        c.DeviceCodeExpire, "DevicePollInterval": c.DevicePollInterval,
		"UserCodeFailureWindow": c.UserCodeFailureWindow,
		"DPoPProofWindow":       c.DPoPProofWindow, "DPoPNonceExpire": c.DPoPNonceExpire,
		"LogoutDeliveryInterval": c.LogoutDeliveryInterval, "LogoutRetryBackoff": c.LogoutRetryBackoff,
		"LogoutRetryFor": c.LogoutRetryFor, "LogoutLease": c.LogoutLease,
	} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("op: %s must not be negative", name))
		}
	}
	if c.UserCodeMaxFailures < 0 {
		errs = append(errs, errors.New("op: UserCodeMaxFailures must not be negative"))
	}
	if c.ClientAuthMaxFailures < 0 {
		errs = append(errs, errors.New("op: ClientAuthMaxFailures must not be negative"))
	}
	for gt, h := range c.GrantTypes {
		u, err := url.Parse(gt)
		switch {
		case h == nil:
			errs = append(errs, fmt.Errorf("op: GrantTypes[%q] has no handler", gt))
		case err != nil || u.Scheme == "" || strings.ContainsAny(gt, " \"\\"):
			errs = append(errs, fmt.Errorf("op: extension grant type %q must be an absolute URI (RFC 6749 §4.5)", gt))
		case gt == GrantTypeDeviceCode:
			errs = append(errs, fmt.Errorf("op: grant type %q is built in (Config.DeviceFlow)", gt))
		case gt == GrantTypeTokenExchange:
			errs = append(errs, fmt.Errorf("op: grant type %q is built in (Config.TokenExchange)", gt))
		}
	}
	seen := map[string]bool{}
	for _, s := range standardScopes {
		seen[s.Name] = true
	}
	for _, s := range c.Scopes {
		if s.Name == "" || strings.ContainsAny(s.Name, " \"\\") {
			errs = append(errs, fmt.Errorf("op: invalid scope name %q", s.Name))
		}
		if seen[s.Name] {
			errs = append(errs, fmt.Errorf("op: scope %q defined twice", s.Name))
		}
		seen[s.Name] = true
	}
	return errors.Join(errs...)
}

// validateResources checks Config.Resources: each an RFC 8707 resource
// indicator, none declared twice.
func (c *Config) validateResources() []error {
	var errs []error
	seen := map[string]bool{}
	for _, r := range c.Resources {
		if err := parseResource(r.URI); err != nil {
			errs = append(errs, fmt.Errorf("op: resource %q %s (RFC 8707 §2)", r.URI, err.Error()))
		}
		if seen[r.URI] {
			errs = append(errs, fmt.Errorf("op: resource %q declared twice", r.URI))
		}
		seen[r.URI] = true
	}
	return errs
}
