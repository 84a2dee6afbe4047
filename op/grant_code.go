package op

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/oidcd/oidcd/storage"
)

// grantAuthorizationCode redeems a code (RFC 6749 §4.1.3, OIDC Core §3.1.3).
func (p *Provider) grantAuthorizationCode(r *http.Request, form url.Values, c *storage.Client) (*tokenResponse, error) {
	code := form.Get("code")
	if code == "" {
		return nil, newErr(errInvalidRequest, "The code parameter is missing.")
	}
	ctx := r.Context()
	now := p.now()
	hash := tokenKey(code)
	ac, err := p.store.Code(ctx, hash, now)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, newErr(errInvalidGrant, "The authorization code is invalid or expired.")
	} else if err != nil {
		return nil, err
	}
	// These checks precede redemption: a request that fails them does not
	// burn the code of the client it was issued to.
	if ac.ClientID != c.ID {
		return nil, newErr(errInvalidGrant, "The authorization code was issued to another client.")
	}
	// RFC 6749 §4.1.3: the same redirect_uri as in the request (SECURITY A6).
	if form.Get("redirect_uri") != ac.RedirectURI {
		return nil, newErr(errInvalidGrant, "The redirect_uri does not match the authorization request.")
	}
	if err := checkPKCE(ac, form.Get("code_verifier")); err != nil {
		return nil, err
	}
	if err := checkCodeJKT(r, ac); err != nil {
		return nil, err
	}
	audience, e := p.tokenResources(c, form["resource"], ac.Resources)
	if e != nil {
		return nil, e
	}
	grant := &storage.Grant{
		ID: ac.GrantID, ClientID: c.ID, UserID: ac.UserID, SessionID: ac.SessionID, Scope: ac.Scope,
		Claims: ac.Claims, ClaimsLocales: ac.ClaimsLocales, Nonce: ac.Nonce, AuthTime: ac.AuthTime, CreatedAt: now,
		ExpiresAt: now.Add(p.cfg.RefreshTokenExpire), Resources: ac.Resources,
	}
	resp, toks, err := p.mintTokens(r, c, grant, ac.Scope, ac.Nonce, true, audience)
	if err != nil {
		return nil, err
	}
	// Redeem and store the grant atomically: of concurrent redemptions one
	// wins, and the others, seen as replays, revoke what it got (SECURITY B3, B4).
	_, err = p.store.ConsumeCode(ctx, hash, now, grant, toks...)
	switch {
	case errors.Is(err, storage.ErrReused):
		p.Emit(ctx, Event{Kind: EventTokenReuse, ClientID: c.ID, UserID: ac.UserID, Reason: "authorization_code"})
		return nil, newErr(errInvalidGrant, "The authorization code was already used.")
	case errors.Is(err, storage.ErrNotFound):
		return nil, newErr(errInvalidGrant, "The authorization code is invalid or expired.")
	case err != nil:
		return nil, err
	}
	return resp, nil
}

// checkPKCE verifies code_verifier (RFC 7636 §4.6; SECURITY C3, C4, C5).
func checkPKCE(ac *storage.AuthCode, verifier string) error {
	if ac.CodeChallenge == "" {
		if verifier != "" {
			return newErr(errInvalidGrant, "A code_verifier was sent for a code issued without a code_challenge.")
		}
		return nil
	}
	if verifier == "" {
		return newErr(errInvalidGrant, "The code_verifier is missing.")
	}
	if !validVerifier(verifier) {
		return newErr(errInvalidGrant, "The code_verifier is malformed.")
	}
	// Both methods are stored as S256 digests (storedChallenge), so both
	// compare the verifier's digest.
	want := s256(verifier)
	if subtle.ConstantTimeCompare([]byte(want), []byte(ac.CodeChallenge)) != 1 {
		return newErr(errInvalidGrant, "The code_verifier does not match the code_challenge.")
	}
	return nil
}

// s256 is RFC 7636 §4.2's S256 transformation.
func s256(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// storedChallenge is the form in which a code_challenge is kept: for S256
// the challenge itself (already a digest); for plain, where the challenge is
// the verifier (RFC 7636 §4.2), its S256 digest, so a database dump holds no
// verifier (SECURITY B6, docs/security.md). A plain verifier matches its
// challenge exactly when their digests match.
func storedChallenge(challenge, method string) string {
	if method == "plain" && challenge != "" {
		return s256(challenge)
	}
	return challenge
}

// mintTokens makes the access token, the refresh token and (for openid
// requests) the ID token of a new grant; the caller stores them.
// audience is the access token's (RFC 8707 §2.2: a subset of g.Resources).
func (p *Provider) mintTokens(r *http.Request, c *storage.Client, g *storage.Grant, scope scopeSet, nonce string, refresh bool, audience []string) (*tokenResponse, []*storage.Token, error) {
	now := p.now()
	jkt := boundJKT(r) // RFC 9449 §5: bound to the proof's key, if any
	toks := []*storage.Token{{
		Kind: storage.AccessToken, GrantID: g.ID, ClientID: c.ID, UserID: g.UserID,
		Scope: scope, CreatedAt: now, ExpiresAt: now.Add(p.cfg.TokenExpire), JKT: jkt, Audience: audience,
	}}
	access, err := p.newAccessToken(r.Context(), c, g, toks[0])
	if err != nil {
		return nil, nil, err
	}
	resp := &tokenResponse{AccessToken: access, TokenType: tokenType(jkt), ExpiresIn: int(p.cfg.TokenExpire.Seconds()), Scope: scope.String()}
	if refresh {
		rt := newToken(now)
		rtok := p.refreshToken(rt, g, now)
		if c.Type == storage.Public {
			// RFC 9449 §5: a public client's refresh token is bound too.
			rtok.JKT = jkt
		}
		toks = append(toks, rtok)
		resp.RefreshToken = rt
	}
	if scope.has("openid") {
		idt, err := p.idToken(r.Context(), idTokenInput{
			client: c, userID: g.UserID, sessionID: g.SessionID, authTime: g.AuthTime,
			nonce: nonce, scope: scope, accessToken: access, request: r, claims: g.Claims,
			claimsLocales: g.ClaimsLocales,
		})
		if err != nil {
			return nil, nil, err
		}
		resp.IDToken = idt
	}
	return resp, toks, nil
}

// refreshToken is a new refresh token of grant g: it ends after the idle
// limit or with the grant, whichever comes first (SECURITY D9).
func (p *Provider) refreshToken(value string, g *storage.Grant, now time.Time) *storage.Token {
	exp := now.Add(p.cfg.RefreshTokenIdleExpire)
	if !g.ExpiresAt.IsZero() && g.ExpiresAt.Before(exp) {
		exp = g.ExpiresAt
	}
	return &storage.Token{
		Hash: tokenKey(value), Kind: storage.RefreshToken, GrantID: g.ID, ClientID: g.ClientID,
		UserID: g.UserID, Scope: g.Scope, CreatedAt: now, ExpiresAt: exp,
	}
}
