package op

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/oidcd/oidcd/storage"
)

// bearerToken reads an access token from the Authorization header (any case
// of "Bearer", RFC 6750 §2.1), the form body (§2.2) or, unless disabled, the
// query (§2.3). More than one method is invalid_request (§2).
func (p *Provider) bearerToken(r *http.Request) (string, *Error) {
	var found []string
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
			return "", &Error{Code: errInvalidRequest, Description: "The Authorization header is not a Bearer token.", Status: http.StatusUnauthorized}
		}
		found = append(found, strings.TrimSpace(tok))
	}
	if r.Method == http.MethodPost && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		r.Body = http.MaxBytesReader(nil, r.Body, MaxFormBytes) // SECURITY L6
		if err := r.ParseForm(); err == nil {
			if v := r.PostForm["access_token"]; len(v) > 0 {
				found = append(found, v...)
			}
		}
	}
	if v := r.URL.Query()["access_token"]; len(v) > 0 && !p.cfg.DisableQueryToken {
		found = append(found, v...)
	}
	switch len(found) {
	case 0:
		return "", &Error{Code: "", Description: "No access token was sent.", Status: http.StatusUnauthorized}
	case 1:
		return found[0], nil
	}
	return "", newErr(errInvalidRequest, "More than one access token was sent.")
}

// accessToken looks up a live access token presented to the resource at
// htu, checking its DPoP proof when it is bound (RFC 9449 §7).
func (p *Provider) accessToken(r *http.Request, htu string) (*storage.Token, *storage.Grant, *Error) {
	pt, e := p.resourceToken(r)
	if e != nil {
		return nil, nil, e
	}
	tok, grant, err := p.lookupToken(r.Context(), pt.value, p.now())
	if errors.Is(err, storage.ErrNotFound) || (err == nil && tok.Kind != storage.AccessToken) {
		return nil, nil, &Error{Code: errInvalidToken, Description: "The access token is invalid, expired or revoked.", Status: http.StatusUnauthorized}
	} else if err != nil {
		return nil, nil, asError(err)
	}
	if looksLikeJWT(pt.value) {
		if err := p.checkJWTAccessToken(pt.value, tok); err != nil {
			p.log.InfoContext(r.Context(), "JWT access token refused", "client_id", tok.ClientID, "err", err.Error())
			return nil, nil, &Error{Code: errInvalidToken, Description: "The access token is invalid, expired or revoked.", Status: http.StatusUnauthorized}
		}
	}
	if e := p.checkResourceProof(r, pt, tok, htu); e != nil {
		return nil, nil, e
	}
	return tok, grant, nil
}

// writeBearerError answers per RFC 6750 §3, or RFC 9449 §7.1 for requests
// with the DPoP scheme; scope names the scope an insufficient_scope error
// lacks. With DPoP on, bearer answers also offer the DPoP scheme.
func (p *Provider) writeBearerError(w http.ResponseWriter, r *http.Request, e *Error, scope string) {
	scheme, _, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	switch {
	case p.dpop != nil && (strings.EqualFold(scheme, "DPoP") || e.Code == errInvalidDPoPProof || e.Code == errUseDPoPNonce):
		w.Header().Set("WWW-Authenticate", dpopChallenge(e, scope))
		if p.cfg.DPoPRequireNonce {
			w.Header().Set("DPoP-Nonce", p.dpop.Nonce())
		}
	case p.dpop != nil:
		w.Header().Set("WWW-Authenticate", bearerChallenge(e, scope))
		w.Header().Add("WWW-Authenticate", dpopChallenge(&Error{}, ""))
	default:
		w.Header().Set("WWW-Authenticate", bearerChallenge(e, scope))
	}
	if e.Code == "" {
		p.logError(r, &Error{Code: "missing_token", Description: e.Description, Status: e.status()})
		w.WriteHeader(e.status())
		return
	}
	p.writeJSONError(w, r, e)
}

// userinfo is the UserInfo endpoint (OIDC Core §5.3): the claims of the
// token's scope, and sub equal to the ID token's.
func (p *Provider) userinfo(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	tok, grant, e := p.accessToken(r, p.endpoint(PathUserinfo))
	if e != nil {
		p.writeBearerError(w, r, e, "")
		return
	}
	scope := scopeSet(tok.Scope)
	if tok.UserID == "" || !scope.has("openid") {
		p.writeBearerError(w, r, insufficientScope("openid"), "openid")
		return
	}
	ctx := r.Context()
	client, err := p.client(ctx, tok.ClientID)
	if err != nil {
		p.writeJSONError(w, r, err)
		return
	}
	claims, err := p.userClaims(ctx, tok.UserID, scope, grant.ClaimsLocales, requestedClaims(grant.Claims, "userinfo")...)
	if err != nil {
		p.writeJSONError(w, r, err)
		return
	}
	sub, err := p.subject(ctx, tok.UserID, client)
	if err != nil {
		p.writeJSONError(w, r, err)
		return
	}
	claims["sub"] = sub
	if client.UserinfoSignedResponseAlg == "" && client.UserinfoEncryptedResponseAlg == "" {
		writeJSON(w, http.StatusOK, claims)
		return
	}
	jwt, err := p.userinfoJWT(ctx, client, claims)
	if err != nil {
		p.writeJSONError(w, r, err)
		return
	}
	// OIDC Core §5.3.2
	w.Header().Set("Content-Type", "application/jwt")
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, jwt)
}

// userinfoJWT is the userinfo response of a client that registered
// userinfo_signed_response_alg and/or userinfo_encrypted_response_alg
// (OIDC Core §5.3.2): the claims with iss and aud, signed, then encrypted
// (a nested JWT), or only one of the two.
func (p *Provider) userinfoJWT(ctx context.Context, c *storage.Client, claims map[string]any) (string, error) {
	claims["iss"] = p.cfg.Issuer
	claims["aud"] = c.ID
	out, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("op: userinfo: %w", err)
	}
	signed := c.UserinfoSignedResponseAlg != ""
	if signed {
		s, err := p.signFor(c, c.UserinfoSignedResponseAlg, out)
		if err != nil {
			return "", err
		}
		out = []byte(s)
	}
	if a := c.UserinfoEncryptedResponseAlg; a != "" {
		return p.encryptTo(ctx, c, a, c.UserinfoEncryptedResponseEnc, signed, out)
	}
	return string(out), nil
}

// bearerChallenge is the WWW-Authenticate value of RFC 6750 §3.
func bearerChallenge(e *Error, scope string) string {
	c := `Bearer realm="oidcd"`
	if e.Code != "" {
		c += `, error="` + e.Code + `"`
		if e.Description != "" {
			c += `, error_description="` + strings.ReplaceAll(e.Description, `"`, `'`) + `"`
		}
	}
	if scope != "" {
		c += `, scope="` + scope + `"`
	}
	return c
}
