package op

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/oidcd/oidcd/keys"
	"github.com/oidcd/oidcd/storage"
)

// JWT access tokens (RFC 9068). A client that registers
// access_token_signed_response_alg, or a token for a resource declared with
// JWTAccessTokens, gets an access token that is a JWT signed with a server
// key: a resource server can verify it with the published JWKS without
// asking the provider. The token is still stored like an opaque one (the
// SHA-256 digest of the whole JWT, jti included), so introspection,
// revocation, userinfo, logout and Protect treat both kinds alike; only a
// resource server that verifies locally and never introspects keeps
// accepting a revoked JWT until it expires (README "JWT access tokens").

// ATJWTType is RFC 9068 §2.1's "typ" header of JWT access tokens.
const ATJWTType = "at+jwt"

// accessTokenAlg is the alg of a JWT access token for client c with this
// audience, or "" for an opaque token: the client's registered alg first,
// otherwise RS256 (RFC 9068 §2.1's mandatory alg) when a resource of the
// audience asks for JWTs.
func (p *Provider) accessTokenAlg(c *storage.Client, audience []string) string {
	if c.AccessTokenSignedResponseAlg != "" {
		return c.AccessTokenSignedResponseAlg
	}
	for _, a := range audience {
		if r, ok := p.declaredResource(a); ok && r.JWTAccessTokens {
			return keys.RS256
		}
	}
	return ""
}

// newAccessToken makes the value of access token tok of grant g for client
// c and sets tok.Hash: an opaque random string, or a JWT access token.
func (p *Provider) newAccessToken(ctx context.Context, c *storage.Client, g *storage.Grant, tok *storage.Token) (string, error) {
	alg := p.accessTokenAlg(c, tok.Audience)
	if alg == "" {
		v := newToken(tok.CreatedAt)
		tok.Hash = tokenKey(v)
		return v, nil
	}
	// RFC 9068 §2.2
	claims := map[string]any{
		"iss":       p.cfg.Issuer,
		"exp":       tok.ExpiresAt.Unix(),
		"iat":       tok.CreatedAt.Unix(),
		"jti":       newID(),
		"client_id": c.ID,
		"sub":       c.ID, // a client's own token (RFC 9068 §2.2)
	}
	switch len(tok.Audience) {
	case 0:
		// Without a resource, the token is for the client's own use (§3:
		// the server's default resource): the client itself.
		claims["aud"] = c.ID
	case 1:
		claims["aud"] = tok.Audience[0]
	default:
		claims["aud"] = tok.Audience
	}
	if len(tok.Scope) > 0 {
		claims["scope"] = scopeSet(tok.Scope).String()
	}
	if tok.UserID != "" {
		sub, err := p.subject(ctx, tok.UserID, c)
		if err != nil {
			return "", fmt.Errorf("op: subject: %w", err)
		}
		claims["sub"] = sub
		if !g.AuthTime.IsZero() {
			claims["auth_time"] = g.AuthTime.Unix()
		}
	}
	if tok.JKT != "" {
		// RFC 9449 §6.1: the key the token is bound to.
		claims["cnf"] = map[string]any{"jkt": tok.JKT}
	}
	if g.Actor != "" {
		var act map[string]any
		if err := json.Unmarshal([]byte(g.Actor), &act); err != nil {
			return "", fmt.Errorf("op: stored act claim: %w", err)
		}
		claims["act"] = act // RFC 8693 §4.1
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("op: access token: %w", err)
	}
	v, err := p.keySet().SignTyped(alg, ATJWTType, payload)
	if err != nil {
		return "", fmt.Errorf("op: sign access token: %w", err)
	}
	tok.Hash = digest(v)
	return v, nil
}

// looksLikeJWT tells JWT access tokens from opaque ones (which have no dot).
func looksLikeJWT(v string) bool { return strings.Count(v, ".") == 2 }

// checkJWTAccessToken verifies a presented JWT access token that storage
// already knows (so it was issued here and is live): signature by a key
// of ours, typ at+jwt, this issuer, not expired, and the cnf.jkt that
// storage holds. A JWT of another type signed by us (an ID token, a logout
// token) is never an access token.
func (p *Provider) checkJWTAccessToken(v string, tok *storage.Token) error {
	header, _, _ := strings.Cut(v, ".")
	hb, err := base64.RawURLEncoding.DecodeString(header)
	if err != nil {
		return errors.New("malformed header")
	}
	var h struct {
		Typ string `json:"typ"`
	}
	if json.Unmarshal(hb, &h) != nil || !isATJWTType(h.Typ) {
		return fmt.Errorf("typ %q is not %s", h.Typ, ATJWTType)
	}
	payload, err := p.keySet().Verify(v)
	if err != nil {
		return err
	}
	var c struct {
		Iss string `json:"iss"`
		Exp int64  `json:"exp"`
		Cnf struct {
			JKT string `json:"jkt"`
		} `json:"cnf"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return err
	}
	if c.Iss != p.cfg.Issuer || !p.now().Before(time.Unix(c.Exp, 0)) || c.Cnf.JKT != tok.JKT {
		return errors.New("claims do not match the stored token")
	}
	return nil
}

// isATJWTType accepts "at+jwt" and "application/at+jwt" in any case (RFC
// 9068 §4, RFC 7515 §4.1.9).
func isATJWTType(typ string) bool {
	t := strings.ToLower(typ)
	return t == ATJWTType || t == "application/"+ATJWTType
}

// accessTokenAlgs are the algs a client may register for its access
// tokens: those of server keys (never HMAC: a client could then forge
// its own tokens; never none).
func accessTokenAlgs() []string { return slices.Clone(keys.ServerAlgs) }
