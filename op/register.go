package op

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/oidcd/oidcd/storage"
)

// Registration error codes (RFC 7591 §3.2.2).
const (
	errInvalidRedirectURI          = "invalid_redirect_uri"
	errInvalidClientMetadata       = "invalid_client_metadata"
	errInvalidSoftwareStatement    = "invalid_software_statement"
	errUnapprovedSoftwareStatement = "unapproved_software_statement"
)

// maxRegistrationBody bounds a registration request (SECURITY L6).
const maxRegistrationBody = 64 << 10

// Registration configures dynamic client registration (RFC 7591) and its
// management protocol (RFC 7592) at /register.
type Registration struct {
	// Enabled serves /register. Each registration then needs an initial
	// access token (NewRegistrationToken) as its Bearer token, unless Open.
	// Off by default: discovery lists registration_endpoint only when on.
	Enabled bool
	// Open lets anyone register a client without an initial access token
	// (what MCP clients expect of a public server). Implies Enabled.
	Open bool
	// SoftwareStatementKeys verify software statements (RFC 7591 §2.3);
	// their claims then take precedence over the request's metadata. Nil
	// refuses every request that carries a software statement.
	SoftwareStatementKeys *jose.JSONWebKeySet
	// InsecureAllowHTTP accepts http redirect URIs on hosts other than
	// loopback (development only; SECURITY A4).
	InsecureAllowHTTP bool
}

// RegistrationArgs are the inputs of Hooks.Registration.
type RegistrationArgs struct {
	// Metadata is what the client asked for; the hook may change it. The
	// result is validated like any registration.
	Metadata *ClientMetadata
	// ClientID is empty for a new registration and names the client for an
	// update (RFC 7592 §2.2).
	ClientID string
	// Request is the registration request (its headers, client IP).
	Request *http.Request
}

// NewRegistrationToken makes an initial access token for /register that
// allows uses registrations (0: any number) until ttl has passed, stores its
// digest and returns it; it is shown once.
func NewRegistrationToken(ctx context.Context, store storage.RegistrationTokens, uses int, ttl time.Duration, now time.Time) (string, error) {
	if uses < 0 {
		return "", errors.New("op: a registration token needs a positive number of uses (or 0 for no limit)")
	}
	if ttl <= 0 {
		return "", errors.New("op: a registration token needs a positive lifetime")
	}
	tok := newSecret()
	err := store.CreateRegistrationToken(ctx, &storage.RegistrationToken{
		Hash: digest(tok), UsesLeft: uses, CreatedAt: now.UTC(), ExpiresAt: now.Add(ttl).UTC(),
	})
	if err != nil {
		return "", fmt.Errorf("op: create registration token: %w", err)
	}
	return tok, nil
}

// register is the client registration endpoint (RFC 7591 §3).
func (p *Provider) register(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	ctx := r.Context()
	var initial []byte
	if !p.cfg.Registration.Open {
		// RFC 7591 §3: the initial access token is a Bearer token (RFC 6750).
		tok, e := registrationBearer(r)
		if e != nil {
			p.writeBearerError(w, r, e, "")
			return
		}
		initial = digest(tok)
		if _, err := p.store.RegistrationToken(ctx, initial, p.now()); errors.Is(err, storage.ErrNotFound) {
			p.writeBearerError(w, r, &Error{Code: errInvalidToken, Description: "The initial access token is unknown, expired or used up.", Status: http.StatusUnauthorized}, "")
			return
		} else if err != nil {
			p.writeJSONError(w, r, err)
			return
		}
	}
	md, err := p.readRegistration(r, "")
	if err != nil {
		p.writeJSONError(w, r, err)
		return
	}
	c, secret, err := p.clientFromMetadata(md, "")
	if err != nil {
		p.writeJSONError(w, r, err)
		return
	}
	if err := p.checkFetched(ctx, c); err != nil {
		p.writeJSONError(w, r, err)
		return
	}
	p.fetchRegisteredLogo(ctx, c, nil)
	regToken := newSecret()
	c.RegistrationTokenHash = digest(regToken)
	if initial != nil {
		// Taken only now, so that a refused registration costs no use; the
		// conditional update lets no more registrations through than allowed.
		if err := p.store.UseRegistrationToken(ctx, initial, p.now()); errors.Is(err, storage.ErrNotFound) {
			p.writeBearerError(w, r, &Error{Code: errInvalidToken, Description: "The initial access token is unknown, expired or used up.", Status: http.StatusUnauthorized}, "")
			return
		} else if err != nil {
			p.writeJSONError(w, r, err)
			return
		}
	}
	if err := p.store.CreateClient(ctx, c); err != nil {
		p.writeJSONError(w, r, err)
		return
	}
	p.log.InfoContext(ctx, "client registered", "event", "client_registered", "client_id", c.ID, "open", p.cfg.Registration.Open)
	writeJSON(w, http.StatusCreated, p.registrationResponse(c, secret, regToken))
}

// checkFetched checks what a registration names by URL: the
// sector_identifier_uri's list (OIDC Registration §5) and the encryption
// keys at jwks_uri (§2), fetched with the SSRF rules.
func (p *Provider) checkFetched(ctx context.Context, c *storage.Client) *Error {
	if err := checkSector(ctx, c, p.fetchHTTP); err != nil {
		return &Error{Code: errInvalidClientMetadata, Description: err.Error()}
	}
	if err := checkEncryptionKeys(ctx, c, p.assertions); err != nil {
		return asError(err)
	}
	return nil
}

// registrationResponse is RFC 7591 §3.2.1's body with RFC 7592 §3's
// registration_access_token and registration_client_uri.
func (p *Provider) registrationResponse(c *storage.Client, secret, regToken string) ClientMetadata {
	m := MetadataOf(c)
	m.ClientSecret = secret
	if secret != "" {
		m.ClientSecretExpiresAt = secretNeverExpires
	}
	m.RegistrationAccessToken = regToken
	m.RegistrationClientURI = p.endpoint(PathRegister + "/" + c.ID)
	return m
}

// registrationBearer reads the Authorization: Bearer header; a missing
// token is a challenge without error code (RFC 6750 §3.1).
func registrationBearer(r *http.Request) (string, *Error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", &Error{Description: "An access token is required.", Status: http.StatusUnauthorized}
	}
	scheme, tok, ok := strings.Cut(h, " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return "", &Error{Code: errInvalidRequest, Description: "The Authorization header is not a Bearer token.", Status: http.StatusUnauthorized}
	}
	return tok, nil
}

// readRegistration parses a registration (or RFC 7592 update) request's
// JSON, applies a verified software statement, and runs the policy hook.
func (p *Provider) readRegistration(r *http.Request, clientID string) (*ClientMetadata, error) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return nil, newErr(errInvalidClientMetadata, "The request body must be application/json.")
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxRegistrationBody))
	if err != nil {
		return nil, newErr(errInvalidClientMetadata, "The request body is too large or unreadable.")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		return nil, newErr(errInvalidClientMetadata, "The request body is not a JSON object.")
	}
	if raw, ok := fields["software_statement"]; ok {
		claims, err := p.softwareStatement(raw)
		if err != nil {
			return nil, err
		}
		// RFC 7591 §2.3: the statement's values take precedence.
		for k, v := range claims {
			fields[k] = v
		}
	}
	delete(fields, "software_statement")
	// Values a client may not choose (RFC 7591 §3.1, RFC 7592 §2.2).
	for _, k := range []string{"client_secret_expires_at", "client_id_issued_at", "registration_access_token", "registration_client_uri"} {
		delete(fields, k)
	}
	merged, _ := json.Marshal(fields)
	var md ClientMetadata
	if err := json.Unmarshal(merged, &md); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, newErr(errInvalidClientMetadata, "The value of %s has the wrong type.", te.Field)
		}
		return nil, newErr(errInvalidClientMetadata, "The client metadata could not be read.")
	}
	if h := p.cfg.Hooks.Registration; h != nil {
		if err := h(r.Context(), &RegistrationArgs{Metadata: &md, ClientID: clientID, Request: r}); err != nil {
			var e *Error
			if errors.As(err, &e) {
				return nil, e
			}
			return nil, &Error{Code: errInvalidClientMetadata, Description: "The registration was refused.", Err: err}
		}
	}
	return &md, nil
}

// softwareStatement verifies a software statement (RFC 7591 §2.3) and
// returns its claims.
func (p *Provider) softwareStatement(raw json.RawMessage) (map[string]json.RawMessage, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, newErr(errInvalidSoftwareStatement, "software_statement must be a JWT string.")
	}
	set := p.cfg.Registration.SoftwareStatementKeys
	if set == nil {
		return nil, newErr(errUnapprovedSoftwareStatement, "This server accepts no software statements.")
	}
	tok, err := jwt.ParseSigned(s, assertionAlgs)
	if err != nil {
		return nil, newErr(errInvalidSoftwareStatement, "The software statement is not a signed JWT with an accepted algorithm.")
	}
	var claims map[string]json.RawMessage
	var std jwt.Claims
	verified := false
	for _, k := range set.Keys {
		if kid := tok.Headers[0].KeyID; kid != "" && k.KeyID != kid {
			continue
		}
		if tok.Claims(k.Key, &claims, &std) == nil {
			verified = true
			break
		}
	}
	if !verified {
		return nil, newErr(errUnapprovedSoftwareStatement, "The software statement is not signed by a trusted key.")
	}
	if err := std.ValidateWithLeeway(jwt.Expected{Time: p.now()}, maxClockSkew); err != nil {
		return nil, newErr(errInvalidSoftwareStatement, "The software statement has expired or is not yet valid.")
	}
	for _, k := range []string{"iss", "iat", "exp", "nbf", "jti", "aud", "sub"} {
		delete(claims, k)
	}
	return claims, nil
}

// assertionAlgs are the asymmetric JWS algorithms accepted for signed
// inputs from clients and software publishers; "none" is never among them.
var assertionAlgs = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512, jose.EdDSA,
}

// maxClockSkew is how far the clocks of clients may differ from ours.
const maxClockSkew = time.Minute

// clientFromMetadata validates registration metadata with the same rules
// as the CLI (NewClient) and returns the client to store and its secret.
// For an update, id is the client's and its secret is kept.
func (p *Provider) clientFromMetadata(md *ClientMetadata, id string) (*storage.Client, string, error) {
	asked, err := md.Client()
	if err != nil {
		return nil, "", newErr(errInvalidClientMetadata, "%s", err.Error())
	}
	// A registered client asks only for scopes this provider knows: a scope
	// also grants client_credentials and introspection rights, which no
	// outsider may give itself (token_introspection, other clients' ids).
	for _, s := range asked.Scope {
		if !p.knownScope(s) {
			return nil, "", newErr(errInvalidClientMetadata, "The scope %q is not one this server offers.", s)
		}
	}
	// Nor does it name resources the operator did not declare: a token
	// for a resource is one its server accepts.
	for _, r := range asked.Resources {
		if _, ok := p.declaredResource(r); !ok {
			return nil, "", newErr(errInvalidClientMetadata, "The resource %q is not one this server issues tokens for.", r)
		}
	}
	c, secret, err := NewClient(asked, p.cfg.Sealer, p.now(), &ClientOptions{InsecureAllowHTTP: p.cfg.Registration.InsecureAllowHTTP})
	if err != nil {
		code := errInvalidClientMetadata
		if strings.Contains(err.Error(), "redirect URI") {
			code = errInvalidRedirectURI
		}
		return nil, "", &Error{Code: code, Description: strings.ReplaceAll(err.Error(), "\n", "; ")}
	}
	if id != "" {
		c.ID = id
	}
	return c, secret, nil
}

// knownScope reports whether scope is a standard scope or one of Config.Scopes.
func (p *Provider) knownScope(scope string) bool {
	for _, s := range standardScopes {
		if s.Name == scope {
			return true
		}
	}
	for _, s := range p.cfg.Scopes {
		if s.Name == scope {
			return true
		}
	}
	return false
}

// registrationClient is the client configuration endpoint (RFC 7592 §2):
// GET reads, PUT replaces, DELETE removes the client named in the path,
// for the bearer of its registration access token.
func (p *Provider) registrationClient(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	ctx := r.Context()
	c, e := p.registeredClient(r)
	if e != nil {
		p.writeBearerError(w, r, e, "")
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		writeJSON(w, http.StatusOK, p.registrationResponse(c, "", ""))
	case http.MethodDelete:
		// RFC 7592 §2.3
		if err := p.store.DeleteClient(ctx, c.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
			p.writeJSONError(w, r, err)
			return
		}
		p.ForgetClient(c.ID)
		p.log.InfoContext(ctx, "client deleted through registration", "event", "client_deregistered", "client_id", c.ID)
		w.WriteHeader(http.StatusNoContent)
	case http.MethodPut:
		md, err := p.readRegistration(r, c.ID)
		if err != nil {
			p.writeJSONError(w, r, err)
			return
		}
		// RFC 7592 §2.2: the body names the client; a secret, if sent,
		// must be the client's own.
		if md.ClientID != c.ID {
			p.writeJSONError(w, r, newErr(errInvalidRequest, "client_id in the body must be the client's."))
			return
		}
		if md.ClientSecret != "" && subtle.ConstantTimeCompare(digest(md.ClientSecret), c.SecretHash) != 1 {
			p.writeJSONError(w, r, newErr(errInvalidRequest, "client_secret does not match."))
			return
		}
		next, _, err := p.clientFromMetadata(md, c.ID)
		if err != nil {
			p.writeJSONError(w, r, err)
			return
		}
		if err := p.checkFetched(ctx, next); err != nil {
			p.writeJSONError(w, r, err)
			return
		}
		next.CreatedAt = c.CreatedAt
		next.RegistrationTokenHash = c.RegistrationTokenHash
		p.fetchRegisteredLogo(r.Context(), next, c)
		next.SecretHash, next.SecretSealed = nil, nil
		if NeedsSecret(next) {
			if len(c.SecretHash) == 0 {
				// It becomes confidential: it needs a secret of its own.
				secret, err := SetClientSecret(next, p.cfg.Sealer)
				if err != nil {
					p.writeJSONError(w, r, err)
					return
				}
				if err := p.store.UpdateClient(ctx, next); err != nil {
					p.writeJSONError(w, r, err)
					return
				}
				p.ForgetClient(c.ID)
				writeJSON(w, http.StatusOK, p.registrationResponse(next, secret, ""))
				return
			}
			next.SecretHash, next.SecretSealed = c.SecretHash, c.SecretSealed
			next.PreviousSecretHash, next.PreviousSecretExpiresAt = c.PreviousSecretHash, c.PreviousSecretExpiresAt
		}
		if err := p.store.UpdateClient(ctx, next); err != nil {
			p.writeJSONError(w, r, err)
			return
		}
		p.ForgetClient(c.ID)
		writeJSON(w, http.StatusOK, p.registrationResponse(next, "", ""))
	}
}

// registeredClient authenticates an RFC 7592 request: the path's client
// must exist and the Bearer token must be its registration access token.
// Every failure looks the same (RFC 7592 §2: 401 invalid_token).
func (p *Provider) registeredClient(r *http.Request) (*storage.Client, *Error) {
	tok, e := registrationBearer(r)
	if e != nil {
		return nil, e
	}
	refused := &Error{Code: errInvalidToken, Description: "The registration access token is not valid for this client.", Status: http.StatusUnauthorized}
	c, err := p.store.Client(r.Context(), r.PathValue("id"))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, refused
	} else if err != nil {
		return nil, asError(err)
	}
	if len(c.RegistrationTokenHash) == 0 || subtle.ConstantTimeCompare(digest(tok), c.RegistrationTokenHash) != 1 {
		return nil, refused
	}
	return c, nil
}

// fetchRegisteredLogo fetches a registered logo_uri once, with the
// SSRF-safe client, so that pages show it from the provider itself
// (docs/security.md "Browser pages"). An update keeps the image when the
// URI is unchanged. A logo that cannot be fetched is simply not shown.
func (p *Provider) fetchRegisteredLogo(ctx context.Context, c, old *storage.Client) {
	if old != nil && old.LogoURL == c.LogoURL {
		c.LogoImage, c.LogoType = old.LogoImage, old.LogoType
		return
	}
	c.LogoImage, c.LogoType = nil, ""
	if c.LogoURL == "" {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	b, ct, err := FetchLogo(ctx, p.logoHTTP, c.LogoURL)
	if err != nil {
		p.log.InfoContext(ctx, "registered logo not fetched", "client_id", c.ID, "err", err)
		return
	}
	c.LogoImage, c.LogoType = b, ct
}
