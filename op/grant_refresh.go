package op

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/oidcd/oidcd/storage"
)

// grantRefreshToken exchanges a refresh token (RFC 6749 §6, OIDC Core §12):
// the token rotates, the grant's previous access tokens stop working, and a
// rotated token presented again revokes the whole grant (SECURITY D4).
func (p *Provider) grantRefreshToken(r *http.Request, form url.Values, c *storage.Client) (*tokenResponse, error) {
	value := form.Get("refresh_token")
	if value == "" {
		return nil, newErr(errInvalidRequest, "The refresh_token parameter is missing.")
	}
	ctx := r.Context()
	now := p.now()
	hash := tokenKey(value)
	old, grant, err := p.store.Token(ctx, hash, now)
	if errors.Is(err, storage.ErrNotFound) {
		// Unknown, expired, revoked or already rotated. Rotation without
		// successors tells reuse apart, and on reuse revokes the grant.
		_, _, err = p.store.RotateRefreshToken(ctx, hash, now)
		if errors.Is(err, storage.ErrReused) {
			p.Emit(ctx, Event{Kind: EventTokenReuse, ClientID: c.ID, Reason: "refresh_token"})
			return nil, newErr(errInvalidGrant, "The refresh token was already used.")
		}
		return nil, newErr(errInvalidGrant, "The refresh token is invalid or expired.")
	} else if err != nil {
		return nil, err
	}
	if old.Kind != storage.RefreshToken || old.ClientID != c.ID {
		// SECURITY D3: a refresh token works only for its own client.
		return nil, newErr(errInvalidGrant, "The refresh token is invalid.")
	}
	if err := checkRefreshJKT(r, old); err != nil {
		return nil, err
	}
	scope := scopeSet(old.Scope)
	if s := form.Get("scope"); s != "" {
		req := parseScope(s)
		if !req.subsetOf(grant.Scope) {
			// RFC 6749 §6: no widening (SECURITY D5).
			return nil, newErr(errInvalidScope, "The requested scope exceeds the original grant.")
		}
		scope = req
	}
	if len(c.Scope) > 0 {
		// The registered scope bounds every grant path (docs/security.md):
		// what was removed from the client since the grant is not issued.
		var kept scopeSet
		for _, s := range scope {
			if p.scopeAllowed(c, s) {
				kept = append(kept, s)
			}
		}
		if len(kept) == 0 {
			return nil, newErr(errInvalidScope, "None of the granted scope is still registered for this client.")
		}
		scope = kept
	}
	audience, e := p.tokenResources(c, form["resource"], grant.Resources)
	if e != nil {
		return nil, e
	}
	refresh := newToken(now)
	jkt := boundJKT(r)
	accessTok := &storage.Token{
		Kind: storage.AccessToken, GrantID: grant.ID, ClientID: c.ID, UserID: grant.UserID,
		Scope: scope, CreatedAt: now, ExpiresAt: now.Add(p.cfg.TokenExpire), JKT: jkt, Audience: audience,
	}
	access, err := p.newAccessToken(ctx, c, grant, accessTok)
	if err != nil {
		return nil, err
	}
	next := p.refreshToken(refresh, grant, now)
	next.JKT = old.JKT // a bound refresh token stays bound to its key (RFC 9449 §5)
	if next.JKT == "" && c.Type == storage.Public {
		next.JKT = jkt
	}
	_, _, err = p.store.RotateRefreshToken(ctx, hash, now, accessTok, next)
	switch {
	case errors.Is(err, storage.ErrReused):
		p.Emit(ctx, Event{Kind: EventTokenReuse, ClientID: c.ID, UserID: grant.UserID, Reason: "refresh_token"})
		return nil, newErr(errInvalidGrant, "The refresh token was already used.")
	case errors.Is(err, storage.ErrNotFound):
		return nil, newErr(errInvalidGrant, "The refresh token is invalid or expired.")
	case err != nil:
		return nil, err
	}
	resp := &tokenResponse{
		AccessToken: access, TokenType: tokenType(jkt), ExpiresIn: int(p.cfg.TokenExpire.Seconds()),
		RefreshToken: refresh, Scope: scope.String(),
	}
	if scope.has("openid") {
		// OIDC Core §12.2: same iss, sub, aud and auth_time; no nonce.
		resp.IDToken, err = p.idToken(ctx, idTokenInput{
			client: c, userID: grant.UserID, sessionID: grant.SessionID, authTime: grant.AuthTime,
			scope: scope, accessToken: access, request: r, claims: grant.Claims,
			claimsLocales: grant.ClaimsLocales,
		})
		if err != nil {
			return nil, err
		}
	}
	return resp, nil
}
