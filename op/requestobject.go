package op

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/oidcd/oidcd/op/internal/jwtauth"
	"github.com/oidcd/oidcd/storage"
)

// errInvalidRequestObject is OIDC Core §6.6's error for a request object
// that cannot be used.
const errInvalidRequestObject = "invalid_request_object"

// maxRequestObject bounds a request object, by value or fetched (SECURITY L6).
const maxRequestObject = 32 << 10

// requestObjectAlgNames are the algorithms a request object may be signed
// with, for discovery; "none" only for a client that registered it.
func requestObjectAlgNames() []string {
	return append(assertionAlgNames(), "none")
}

// requestObjectParams resolves a request object passed by value (request)
// or by reference (request_uri, fetched only from a URI the client
// registered in request_uris) and merges it with the query as OIDC Core
// §6.3.3 says: the object's values take precedence; request and request_uri
// themselves never come from it (§6.1). The object must be signed by the
// client (its keys, or its secret for HS*), or be unsigned ("alg": "none")
// only when the client registered request_object_signing_alg "none".
func (p *Provider) requestObjectParams(ctx context.Context, c *storage.Client, front url.Values) (url.Values, error) {
	if front.Has("request") && front.Has("request_uri") {
		return nil, newErr(errInvalidRequest, "Send request or request_uri, not both.")
	}
	raw := front.Get("request")
	if !front.Has("request") {
		var err error
		if raw, err = p.fetchRequestObject(ctx, c, front.Get("request_uri")); err != nil {
			return nil, err
		}
	}
	claims, err := p.verifyRequestObject(ctx, c, raw)
	if err != nil {
		return nil, err
	}
	merged := url.Values{}
	for k, v := range front {
		if k != "request" && k != "request_uri" {
			merged[k] = v
		}
	}
	for k, v := range claims {
		switch k {
		case "iss", "aud", "exp", "iat", "nbf", "jti", "sub":
			continue // the object's own claims, not request parameters
		case "request", "request_uri":
			return nil, newErr(errInvalidRequestObject, "A request object must not contain %s (OIDC Core §6.1).", k)
		}
		var list []string
		if k == "resource" && json.Unmarshal(v, &list) == nil {
			// RFC 8707 §2 with RFC 9101 §4: several resources are an array.
			if len(list) == 0 {
				return nil, newErr(errInvalidRequestObject, "The request object's resource array is empty.")
			}
			merged[k] = list
			continue
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			// Numbers (max_age), booleans and JSON objects (claims) keep
			// their JSON text, which is their parameter form.
			s = string(v)
			if n, err := strconv.ParseFloat(s, 64); err == nil && n == float64(int64(n)) {
				s = strconv.FormatInt(int64(n), 10)
			}
		}
		merged.Set(k, s)
	}
	if id := merged.Get("client_id"); id != c.ID {
		// RFC 9101 §5: the object's client_id is the query's.
		return nil, newErr(errInvalidRequestObject, "The request object's client_id is not the request's.")
	}
	return merged, nil
}

// fetchRequestObject GETs a request object from a request_uri the client
// registered (OIDC Core §6.2; matched without its fragment), through the
// SSRF-safe client (SECURITY K1).
func (p *Provider) fetchRequestObject(ctx context.Context, c *storage.Client, uri string) (string, error) {
	base, _, _ := strings.Cut(uri, "#")
	registered := slices.ContainsFunc(c.RequestURIs, func(r string) bool {
		rb, _, _ := strings.Cut(r, "#")
		return rb == base
	})
	if !registered {
		// RFC 9101 §10.4.1: never fetch what the client did not register.
		return "", newErr(errInvalidRequestURI, "The request_uri is not registered for this client.")
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base, nil)
	if err != nil {
		return "", newErr(errInvalidRequestURI, "The request_uri is not a URL.")
	}
	req.Header.Set("Accept", "application/oauth-authz-req+jwt, application/jwt")
	resp, err := p.fetchHTTP.Do(req)
	if err != nil {
		p.log.InfoContext(ctx, "request_uri fetch failed", "client_id", c.ID, "err", err.Error())
		return "", newErr(errInvalidRequestURI, "The request_uri could not be fetched.")
	}
	if resp.StatusCode != http.StatusOK {
		p.fetchHTTP.Discard(resp)
		return "", newErr(errInvalidRequestURI, "The request_uri answered %d.", resp.StatusCode)
	}
	body, err := p.fetchHTTP.ReadBody(resp)
	if err != nil || len(body) > maxRequestObject {
		return "", newErr(errInvalidRequestURI, "The request_uri's content is too large or unreadable.")
	}
	return strings.TrimSpace(string(body)), nil
}

// verifyRequestObject checks a request object's signature and its own
// claims (RFC 9101 §6.3, §10.2) and returns its claims.
func (p *Provider) verifyRequestObject(ctx context.Context, c *storage.Client, raw string) (map[string]json.RawMessage, error) {
	if len(raw) > maxRequestObject {
		return nil, newErr(errInvalidRequestObject, "The request object is longer than %d bytes.", maxRequestObject)
	}
	if strings.Count(raw, ".") == 4 {
		return nil, newErr(errInvalidRequestObject, "Encrypted request objects are not supported.")
	}
	// Every signature problem gets the same answer; the cause is logged.
	refused := func(why string, cause error) error {
		e := newErr(errInvalidRequestObject, "The request object is not signed by the client, or not as it registered.")
		e.Err = errors.New(why)
		if cause != nil {
			e.Err = errors.New(why + ": " + cause.Error())
		}
		return e
	}
	var claims map[string]json.RawMessage
	header, _, _ := strings.Cut(raw, ".")
	var hdr struct {
		Alg string `json:"alg"`
	}
	hb, _ := base64.RawURLEncoding.DecodeString(header)
	json.Unmarshal(hb, &hdr)
	registered := c.RequestObjectSigningAlg
	if hdr.Alg == "none" {
		// Unsigned: only for a client that registered exactly that (OIDC
		// Registration §2), and then its content is all there is to it.
		if registered != "none" {
			return nil, refused("alg none not registered", nil)
		}
		parts := strings.Split(raw, ".")
		if len(parts) != 3 || parts[2] != "" {
			return nil, refused("malformed unsigned object", nil)
		}
		pb, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil || json.Unmarshal(pb, &claims) != nil {
			return nil, refused("unreadable unsigned object", nil)
		}
	} else {
		algs := append(slices.Clone(jwtauth.AsymmetricAlgs), jwtauth.HMACAlgs...)
		if registered != "" {
			algs = []jose.SignatureAlgorithm{jose.SignatureAlgorithm(registered)}
		}
		tok, err := jwt.ParseSigned(raw, algs)
		if err != nil {
			return nil, refused("parse", err)
		}
		alg := jose.SignatureAlgorithm(tok.Headers[0].Algorithm)
		if slices.Contains(jwtauth.HMACAlgs, alg) {
			secret, err := p.clientSecret(c)
			if err != nil {
				return nil, refused("HMAC without a client secret", err)
			}
			if err := tok.Claims(secret, &claims); err != nil {
				return nil, refused("HMAC", err)
			}
		} else {
			keys, err := p.assertions.ClientKeys(ctx, jwtauth.Client{ID: c.ID, JWKS: c.JWKS, JWKSURI: c.JWKSURI}, tok.Headers[0])
			if err != nil {
				return nil, refused("client keys", err)
			}
			ok := false
			for _, k := range keys {
				if tok.Claims(k.Key, &claims) == nil {
					ok = true
					break
				}
			}
			if !ok {
				return nil, refused("no key of the client verifies it", nil)
			}
		}
	}
	var std jwt.Claims
	b, _ := json.Marshal(claims)
	if err := json.Unmarshal(b, &std); err != nil {
		return nil, newErr(errInvalidRequestObject, "The request object's claims are malformed.")
	}
	// RFC 9101 §6.3, §10.2: iss is the client and aud this server, when present.
	if std.Issuer != "" && std.Issuer != c.ID {
		return nil, newErr(errInvalidRequestObject, "The request object's iss is not the client.")
	}
	if _, has := claims["aud"]; has && !slices.Contains(std.Audience, p.cfg.Issuer) {
		return nil, newErr(errInvalidRequestObject, "The request object's aud is not this server.")
	}
	now := p.now()
	if std.Expiry != nil && !now.Before(std.Expiry.Time().Add(maxClockSkew)) {
		return nil, newErr(errInvalidRequestObject, "The request object has expired.")
	}
	if std.NotBefore != nil && std.NotBefore.Time().After(now.Add(maxClockSkew)) {
		return nil, newErr(errInvalidRequestObject, "The request object is not valid yet.")
	}
	return claims, nil
}
