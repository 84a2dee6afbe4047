package op

import (
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/oidcd/oidcd/keys"
	"github.com/oidcd/oidcd/storage"
)

// ClientOptions change how NewClient and NormalizeClient check a client.
// A nil *ClientOptions is the zero value: every check applies.
type ClientOptions struct {
	// InsecureAllowHTTP accepts http redirect URIs on hosts other than
	// loopback addresses and localhost (development only; SECURITY A4).
	InsecureAllowHTTP bool
}

// insecureAllowHTTP is o.InsecureAllowHTTP; false for a nil o.
func (o *ClientOptions) insecureAllowHTTP() bool { return o != nil && o.InsecureAllowHTTP }

// NewClient validates c, a client as its registrant describes it, and
// returns the client to store: c with a generated ID, CreatedAt set to now
// and the defaults filled in, and, for a client that needs one, its new
// secret. The secret is shown once: only its digest and a sealed copy are
// kept.
//
// The defaults: Type confidential (public when TokenEndpointAuthMethod is
// none), JWTAlg RS256, ResponseTypes ["code"] when nil and the grant types
// include authorization_code (or are empty). Short grant type names
// (device_code, token_exchange) become their URIs. A LogoImage is checked
// with CheckLogo and LogoType set from it.
//
// What only NewClient may set is ignored in c: ID, CreatedAt, SecretHash,
// SecretSealed, RegistrationTokenHash and LogoType.
func NewClient(c storage.Client, sealer keys.Sealer, now time.Time, opts *ClientOptions) (*storage.Client, string, error) {
	c.ID = newClientID()
	c.Name = strings.TrimSpace(c.Name)
	c.CreatedAt = now.UTC()
	c.SecretHash, c.SecretSealed, c.RegistrationTokenHash, c.LogoType = nil, nil, nil, ""
	if len(c.LogoImage) > 0 {
		ct, err := CheckLogo(c.LogoImage)
		if err != nil {
			return nil, "", err
		}
		c.LogoType = ct
	} else {
		c.LogoImage = nil
	}
	if c.Type == "" {
		// RFC 7591 §2: "none" is a public client.
		c.Type = storage.Confidential
		if c.TokenEndpointAuthMethod == AuthNone {
			c.Type = storage.Public
		}
	}
	if c.JWTAlg == "" {
		c.JWTAlg = keys.RS256
	}
	c.GrantTypes = expandGrantTypes(c.GrantTypes)
	// An explicit empty list, or grants without authorization_code (a
	// device): a client of the token endpoint only.
	if c.ResponseTypes == nil && (len(c.GrantTypes) == 0 || slices.Contains(c.GrantTypes, "authorization_code")) {
		c.ResponseTypes = []string{"code"}
	}
	if err := NormalizeClient(&c, opts); err != nil {
		return nil, "", err
	}
	var secret string
	if NeedsSecret(&c) {
		var err error
		if secret, err = SetClientSecret(&c, sealer); err != nil {
			return nil, "", err
		}
	}
	return &c, secret, nil
}

// NeedsSecret reports whether a confidential client needs a secret: to
// authenticate, or, for a private_key_jwt client, only when its ID tokens
// or userinfo responses are HS256 (OIDC Core §10.1).
func NeedsSecret(c *storage.Client) bool {
	return c.Type == storage.Confidential &&
		(c.TokenEndpointAuthMethod != AuthPrivateKeyJWT || c.JWTAlg == keys.HS256 || c.UserinfoSignedResponseAlg == keys.HS256)
}

// expandGrantTypes turns the short names a command line may use into the
// registered grant type URIs, and drops duplicates.
func expandGrantTypes(gts []string) []string {
	var out []string
	for _, gt := range gts {
		switch gt {
		case "device_code":
			gt = GrantTypeDeviceCode
		case "token_exchange", "token-exchange":
			gt = GrantTypeTokenExchange
		}
		if !slices.Contains(out, gt) {
			out = append(out, gt)
		}
	}
	return out
}

// SetClientSecret gives a confidential client a new secret (256 bits) and
// returns it; the old one stops working once the client is saved.
func SetClientSecret(c *storage.Client, sealer keys.Sealer) (string, error) {
	secret := newSecret()
	if err := SetClientSecretTo(c, secret, sealer); err != nil {
		return "", err
	}
	return secret, nil
}

// SetClientSecretTo gives a confidential client a known secret, stored as
// every secret is: its digest and a sealed copy. It is for secrets that
// relying parties already hold (a client imported from another provider);
// new secrets come from SetClientSecret.
// It fails only if the Sealer does; the client is then unchanged.
func SetClientSecretTo(c *storage.Client, secret string, sealer keys.Sealer) error {
	sealed, err := sealer.Seal([]byte(secret), []byte("client-secret:"+c.ID))
	if err != nil {
		return fmt.Errorf("op: seal client secret: %w", err)
	}
	c.SecretHash = digest(secret)
	c.SecretSealed = sealed
	return nil
}

// SecretDigest is how codes, access and refresh tokens and client secrets
// are looked up: tools that bring artefacts issued elsewhere store them under
// this digest, never in plain text (SECURITY B6). For an access or refresh
// token it equals TokenKey unless the token has the shape of oidcd's own
// time-ordered tokens; use TokenKey for tokens.
func SecretDigest(value string) []byte { return digest(value) }

// TokenKey is the storage key of an access or refresh token or an
// authorization code: the SHA-256 digest of the value, led by its creation
// time for values oidcd issues (time-ordered keys keep the index's inserts
// on the same pages).
func TokenKey(value string) []byte { return tokenKey(value) }

// NormalizeClient checks a client's settings and puts its response types in
// canonical order. It reports every problem at once.
func NormalizeClient(c *storage.Client, opts *ClientOptions) error {
	allowHTTP := opts.insecureAllowHTTP()
	var errs []error
	if c.Name == "" {
		errs = append(errs, errors.New("name is required"))
	}
	switch c.Type {
	case storage.Confidential, storage.Public:
	default:
		errs = append(errs, fmt.Errorf("type must be confidential or public, not %q", c.Type))
	}
	switch c.JWTAlg {
	case keys.RS256, keys.ES256, keys.EdDSA:
	case keys.HS256:
		if c.Type == storage.Public {
			errs = append(errs, errors.New("public clients have no secret and cannot use HS256"))
		}
	default:
		errs = append(errs, fmt.Errorf("jwt_alg must be RS256, ES256, EdDSA or HS256, not %q", c.JWTAlg))
	}
	var rts []string
	for _, rt := range c.ResponseTypes {
		canon, ok := CanonicalResponseType(rt)
		if !ok {
			errs = append(errs, fmt.Errorf("unsupported response type %q", rt))
			continue
		}
		if !slices.Contains(rts, canon) {
			rts = append(rts, canon)
		}
	}
	c.ResponseTypes = rts
	if len(c.RedirectURIs) == 0 && len(rts) > 0 {
		errs = append(errs, errors.New("at least one redirect URI is required"))
	}
	public := c.Type == storage.Public
	for _, u := range c.RedirectURIs {
		if err := checkRedirectURI(u, allowHTTP, public); err != nil {
			errs = append(errs, fmt.Errorf("redirect URI %q: %w", u, err))
		}
	}
	for _, u := range c.PostLogoutRedirectURIs {
		if err := checkRedirectURI(u, allowHTTP, public); err != nil {
			errs = append(errs, fmt.Errorf("post-logout redirect URI %q: %w", u, err))
		}
	}
	if e := c.ContactEmail; e != "" {
		if a, err := mail.ParseAddress(e); err != nil || a.Name != "" || a.Address != e {
			errs = append(errs, fmt.Errorf("contact email %q is not an email address", e))
		}
	}
	if u := c.FrontchannelLogoutURI; u != "" {
		if err := checkLogoutURI(u, allowHTTP); err != nil {
			errs = append(errs, fmt.Errorf("frontchannel_logout_uri %q: %w", u, err))
		} else if !sameOriginAsOneOf(u, c.RedirectURIs) {
			// Front-Channel Logout 1.0 §2
			errs = append(errs, fmt.Errorf("frontchannel_logout_uri %q: scheme, host and port must be those of a redirect URI", u))
		}
	} else if c.FrontchannelLogoutSessionRequired {
		errs = append(errs, errors.New("frontchannel_logout_session_required needs a frontchannel_logout_uri"))
	}
	if u := c.BackchannelLogoutURI; u != "" {
		if err := checkLogoutURI(u, allowHTTP); err != nil {
			errs = append(errs, fmt.Errorf("backchannel_logout_uri %q: %w", u, err))
		}
	} else if c.BackchannelLogoutSessionRequired {
		errs = append(errs, errors.New("backchannel_logout_session_required needs a backchannel_logout_uri"))
	}
	for _, s := range c.Scope {
		if s == "" || strings.ContainsAny(s, " \"\\") {
			errs = append(errs, fmt.Errorf("invalid scope %q", s))
		}
	}
	errs = append(errs, checkClientMetadata(c, allowHTTP)...)
	if c.Type == storage.Public && slices.Contains(c.GrantTypes, "password") && !c.PublicPasswordGrant {
		// docs/security.md "Client policy": without a client secret anyone
		// holding the client id could try passwords.
		errs = append(errs, errors.New("the password grant is for confidential clients; allow it for this public client explicitly"))
	}
	return errors.Join(errs...)
}

// checkRedirectURI enforces SECURITY A4: absolute, no fragment, no
// wildcards, no script schemes, https except on loopback (or with allowHTTP).
// Private-use schemes are for native apps, which are public clients, and
// must be reverse domain names (com.example.app:/cb; RFC 8252 §7.1, §8.4):
// "ftp://x/cb" or "myapp:/cb" are refused.
func checkRedirectURI(raw string, allowHTTP, public bool) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("not a valid URL")
	}
	switch {
	case !u.IsAbs():
		return errors.New("must be absolute")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return errors.New("must not contain a fragment")
	case strings.Contains(raw, "*"):
		return errors.New("must not contain wildcards")
	case u.User != nil:
		return errors.New("must not contain user information")
	}
	switch strings.ToLower(u.Scheme) {
	case "javascript", "data", "vbscript", "file":
		return fmt.Errorf("scheme %q is not allowed", u.Scheme)
	case "https":
		if u.Host == "" {
			return errors.New("must have a host")
		}
	case "http":
		h := u.Hostname()
		if u.Host == "" {
			return errors.New("must have a host")
		}
		if !isLoopbackIP(h) && h != "localhost" && !allowHTTP {
			return errors.New("http is only allowed for loopback hosts; use https")
		}
	default:
		switch {
		case !public:
			return fmt.Errorf("scheme %q: use https (or http on a loopback host); private-use schemes are only for public (native app) clients", u.Scheme)
		case !strings.Contains(u.Scheme, "."):
			return fmt.Errorf("scheme %q: a native app's private-use scheme must be a reverse domain name such as com.example.app (RFC 8252 §7.1)", u.Scheme)
		}
	}
	return nil
}

// checkLogoutURI: a logout URI is an absolute http(s) URL without fragment
// (Front-Channel Logout 1.0 §2, Back-Channel Logout 1.0 §2.2), https except
// on loopback hosts unless allowHTTP.
func checkLogoutURI(raw string, allowHTTP bool) error {
	if err := checkRedirectURI(raw, allowHTTP, false); err != nil {
		return err
	}
	u, _ := url.Parse(raw)
	if u.Scheme != "https" && u.Scheme != "http" {
		return errors.New("must be an http or https URL")
	}
	return nil
}

// sameOriginAsOneOf reports whether raw has the scheme, host and port of
// one of uris.
func sameOriginAsOneOf(raw string, uris []string) bool {
	o := originOf(raw)
	for _, u := range uris {
		if originOf(u) == o {
			return true
		}
	}
	return false
}
