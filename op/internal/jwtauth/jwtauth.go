package jwtauth

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/oidcd/oidcd/internal/safehttp"
	"github.com/oidcd/oidcd/internal/ttlcache"
	"github.com/oidcd/oidcd/storage"
)

// AssertionType is client_assertion_type for JWT client assertions (RFC
// 7523 §2.2).
const AssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// Authentication methods (OIDC Core §9).
const (
	PrivateKeyJWT   = "private_key_jwt"
	ClientSecretJWT = "client_secret_jwt"
)

// MaxAssertionSize bounds an assertion before it is parsed (SECURITY L6).
const MaxAssertionSize = 8 << 10

// AsymmetricAlgs are the algorithms of private_key_jwt; HMACAlgs those of
// client_secret_jwt. "none" is in neither, and an HMAC assertion is never
// checked against a public key (the key-confusion attack), because each
// method parses with its own list.
var (
	AsymmetricAlgs = []jose.SignatureAlgorithm{
		jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
		jose.ES256, jose.ES384, jose.ES512, jose.EdDSA,
	}
	HMACAlgs = []jose.SignatureAlgorithm{jose.HS256, jose.HS384, jose.HS512}
)

// ErrInvalid is wrapped by every refusal; the wrapping text (logged, never
// sent) says why.
var ErrInvalid = errors.New("jwtauth: invalid client assertion")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Client is what a Verifier needs to know of the client an assertion names.
type Client struct {
	ID     string
	Method string // PrivateKeyJWT or ClientSecretJWT
	// SigningAlg, if set, is the only algorithm accepted
	// (token_endpoint_auth_signing_alg).
	SigningAlg string
	// Secret is the client secret (client_secret_jwt).
	Secret []byte
	// JWKS (a JWK Set as JSON) or JWKSURI hold the client's public keys
	// (private_key_jwt).
	JWKS    string
	JWKSURI string
}

// Verifier checks client assertions. It is safe for concurrent use.
type Verifier struct {
	// Replays records each jti until its assertion expires, shared by nodes.
	Replays storage.Replays
	// HTTP fetches jwks_uri (SSRF-safe: SECURITY K1).
	HTTP *safehttp.Client
	// Now defaults to time.Now.
	Now func() time.Time
	// Skew is the clock difference allowed in exp, nbf and iat. Defaults to 1m.
	Skew time.Duration
	// MaxLifetime bounds how far in the future exp may lie, so that a jti
	// needs to be remembered only briefly. Defaults to 10m.
	MaxLifetime time.Duration
	// KeySetTTL is how long a key set fetched from a jwks_uri is reused.
	// Defaults to 5m.
	KeySetTTL time.Duration
	// RefetchInterval is the least time between two fetches of one
	// jwks_uri when an assertion names an unknown kid, so that nobody can
	// make us fetch on every request. Defaults to 10s.
	RefetchInterval time.Duration

	once    sync.Once
	sets    *ttlcache.Cache[string, *jose.JSONWebKeySet]
	fetched *ttlcache.Cache[string, struct{}]
	fetchMu sync.Mutex
}

func (v *Verifier) init() {
	v.once.Do(func() {
		if v.Now == nil {
			v.Now = time.Now
		}
		if v.Skew <= 0 {
			v.Skew = time.Minute
		}
		if v.MaxLifetime <= 0 {
			v.MaxLifetime = 10 * time.Minute
		}
		if v.KeySetTTL <= 0 {
			v.KeySetTTL = 5 * time.Minute
		}
		if v.RefetchInterval <= 0 {
			v.RefetchInterval = 10 * time.Second
		}
		v.sets = ttlcache.New[string, *jose.JSONWebKeySet](v.KeySetTTL, 1000)
		v.fetched = ttlcache.New[string, struct{}](v.RefetchInterval, 1000)
	})
}

// ClientID returns the client an assertion claims to come from (its sub,
// which must equal its iss), read without verifying anything, so that the
// client can be looked up.
func ClientID(assertion string) (string, error) {
	if len(assertion) > MaxAssertionSize {
		return "", invalid("longer than %d bytes", MaxAssertionSize)
	}
	tok, err := jwt.ParseSigned(assertion, append(slices.Clone(AsymmetricAlgs), HMACAlgs...))
	if err != nil {
		return "", invalid("not a signed JWT with an accepted algorithm: %v", err)
	}
	var c jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&c); err != nil {
		return "", invalid("claims: %v", err)
	}
	if c.Subject == "" || c.Issuer != c.Subject {
		// RFC 7523 §3 items 1 and 2, OIDC Core §9.
		return "", invalid("iss and sub must both be the client_id")
	}
	return c.Subject, nil
}

// Verify checks assertion for client c: signature with the method's key
// and algorithms, iss = sub = client id, an audience among audiences, exp
// within the bounds, nbf and iat not in the future, and a jti never seen
// before (recorded on success). The error wraps ErrInvalid for a refused
// assertion, or is a storage error (storage.ErrUnavailable).
func (v *Verifier) Verify(ctx context.Context, assertion string, c Client, audiences []string) error {
	v.init()
	if len(assertion) > MaxAssertionSize {
		return invalid("longer than %d bytes", MaxAssertionSize)
	}
	var algs []jose.SignatureAlgorithm
	switch c.Method {
	case PrivateKeyJWT:
		algs = AsymmetricAlgs
	case ClientSecretJWT:
		algs = HMACAlgs
	default:
		return invalid("the client does not authenticate with a JWT (%q)", c.Method)
	}
	if c.SigningAlg != "" {
		if !slices.Contains(algs, jose.SignatureAlgorithm(c.SigningAlg)) {
			return invalid("registered alg %s does not fit %s", c.SigningAlg, c.Method)
		}
		algs = []jose.SignatureAlgorithm{jose.SignatureAlgorithm(c.SigningAlg)}
	}
	tok, err := jwt.ParseSigned(assertion, algs)
	if err != nil {
		return invalid("not a JWT signed with an algorithm of %s: %v", c.Method, err)
	}
	hdr := tok.Headers[0]
	var claims jwt.Claims
	switch c.Method {
	case ClientSecretJWT:
		if len(c.Secret) == 0 {
			return invalid("the client has no secret")
		}
		if err := tok.Claims(c.Secret, &claims); err != nil {
			return invalid("signature: %v", err)
		}
	case PrivateKeyJWT:
		if err := v.verifyWithClientKeys(ctx, tok, hdr, c, &claims); err != nil {
			return err
		}
	}
	if err := v.checkClaims(&claims, c.ID, audiences); err != nil {
		return err
	}
	// Single use (RFC 7523 §3 item 7), recorded only for a verified
	// assertion so that forgeries cannot burn jtis. The key names the
	// client: two clients may pick the same jti.
	key := sha256.Sum256([]byte("client-assertion\x00" + c.ID + "\x00" + claims.ID))
	exp := claims.Expiry.Time().Add(v.Skew)
	if err := v.Replays.UseOnce(ctx, key[:], v.Now(), exp); errors.Is(err, storage.ErrReused) {
		return invalid("jti %q was used before", claims.ID)
	} else if err != nil {
		return err
	}
	return nil
}

// checkClaims applies RFC 7523 §3 and OIDC Core §9 to verified claims.
func (v *Verifier) checkClaims(c *jwt.Claims, clientID string, audiences []string) error {
	now := v.Now()
	switch {
	case c.Issuer != clientID || c.Subject != clientID:
		return invalid("iss and sub must both be the client_id")
	case c.Expiry == nil:
		return invalid("no exp")
	case c.ID == "":
		return invalid("no jti")
	case len(c.ID) > 256:
		return invalid("jti longer than 256 bytes")
	}
	exp := c.Expiry.Time()
	if !now.Before(exp.Add(v.Skew)) {
		return invalid("expired at %s", exp.UTC().Format(time.RFC3339))
	}
	if exp.After(now.Add(v.MaxLifetime + v.Skew)) {
		return invalid("exp more than %s ahead", v.MaxLifetime)
	}
	if c.NotBefore != nil && c.NotBefore.Time().After(now.Add(v.Skew)) {
		return invalid("not valid before %s", c.NotBefore.Time().UTC().Format(time.RFC3339))
	}
	if c.IssuedAt != nil && c.IssuedAt.Time().After(now.Add(v.Skew)) {
		return invalid("issued in the future")
	}
	for _, a := range c.Audience {
		if slices.Contains(audiences, a) {
			return nil
		}
	}
	return invalid("aud %v names none of %v", []string(c.Audience), audiences)
}

// verifyWithClientKeys checks the signature against the client's keys.
func (v *Verifier) verifyWithClientKeys(ctx context.Context, tok *jwt.JSONWebToken, hdr jose.Header, c Client, out *jwt.Claims) error {
	keys, err := v.ClientKeys(ctx, c, hdr)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if tok.Claims(k.Key, out) == nil {
			return nil
		}
	}
	return invalid("signature not made by a key of the client (kid %q)", hdr.KeyID)
}

// ClientKeys returns the client's public keys that may have made a
// signature with header hdr: from its registered jwks, or its jwks_uri's
// set (cached; fetched again, at most every RefetchInterval, when the kid
// is unknown, so a rotated key is found). Request objects (RFC 9101) are
// verified with them too.
func (v *Verifier) ClientKeys(ctx context.Context, c Client, hdr jose.Header) ([]jose.JSONWebKey, error) {
	v.init()
	var set *jose.JSONWebKeySet
	switch {
	case c.JWKS != "":
		s, err := ParseJWKS([]byte(c.JWKS))
		if err != nil {
			return nil, invalid("registered jwks: %v", err)
		}
		set = s
	case c.JWKSURI != "":
		s, err := v.keySet(ctx, c.JWKSURI, false)
		if err != nil {
			return nil, err
		}
		set = s
		if hdr.KeyID != "" && len(set.Key(hdr.KeyID)) == 0 {
			if s, err := v.keySet(ctx, c.JWKSURI, true); err == nil {
				set = s
			}
		}
	default:
		return nil, invalid("the client registered no keys (jwks or jwks_uri)")
	}
	return candidates(set, hdr), nil
}

// candidates are the keys that may have made a signature with hdr: those
// with its kid (all, when it has none), for signing, whose alg (if set)
// is the header's.
func candidates(set *jose.JSONWebKeySet, hdr jose.Header) []jose.JSONWebKey {
	var out []jose.JSONWebKey
	for _, k := range set.Keys {
		if hdr.KeyID != "" && k.KeyID != hdr.KeyID {
			continue
		}
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		if k.Algorithm != "" && k.Algorithm != hdr.Algorithm {
			continue
		}
		out = append(out, k)
	}
	return out
}

// keySet returns the key set at uri, from the cache unless refresh (and
// the last fetch is older than RefetchInterval) or absent.
func (v *Verifier) keySet(ctx context.Context, uri string, refresh bool) (*jose.JSONWebKeySet, error) {
	now := v.Now()
	if !refresh {
		if s, ok := v.sets.Get(uri, now); ok {
			return s, nil
		}
	}
	v.fetchMu.Lock()
	defer v.fetchMu.Unlock()
	if _, recent := v.fetched.Get(uri, now); recent {
		// Fetched less than RefetchInterval ago: use what that gave, or
		// fail as it did, rather than fetch again.
		if s, ok := v.sets.Get(uri, now); ok {
			return s, nil
		}
		return nil, invalid("jwks_uri could not be fetched moments ago")
	}
	v.fetched.Put(uri, struct{}{}, now)
	s, err := v.fetch(ctx, uri)
	if err != nil {
		return nil, err
	}
	v.sets.Put(uri, s, now)
	return s, nil
}

// fetch GETs a jwks_uri through the SSRF-safe client.
func (v *Verifier) fetch(ctx context.Context, uri string) (*jose.JSONWebKeySet, error) {
	if v.HTTP == nil {
		return nil, invalid("jwks_uri fetching is not configured")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, invalid("jwks_uri: %v", err)
	}
	req.Header.Set("Accept", "application/json, application/jwk-set+json")
	resp, err := v.HTTP.Do(req)
	if err != nil {
		return nil, invalid("jwks_uri: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		v.HTTP.Discard(resp)
		return nil, invalid("jwks_uri answered %d", resp.StatusCode)
	}
	body, err := v.HTTP.ReadBody(resp)
	if err != nil {
		return nil, invalid("jwks_uri: %v", err)
	}
	s, err := ParseJWKS(body)
	if err != nil {
		return nil, invalid("jwks_uri: %v", err)
	}
	return s, nil
}

// ParseJWKS parses a client's JWK Set (RFC 7517 §5): at most 20 keys, each
// valid and public (a private or symmetric key is never accepted).
func ParseJWKS(raw []byte) (*jose.JSONWebKeySet, error) {
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(raw, &set); err != nil {
		return nil, fmt.Errorf("not a JWK Set: %w", err)
	}
	if len(set.Keys) > 20 {
		return nil, errors.New("more than 20 keys")
	}
	for i, k := range set.Keys {
		if !k.Valid() {
			return nil, fmt.Errorf("key %d is not valid", i)
		}
		if !k.IsPublic() {
			return nil, fmt.Errorf("key %d is not a public key (a private or symmetric key must never be registered)", i)
		}
	}
	return &set, nil
}
