package op

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/oidcd/oidcd/storage"
)

// respond issues what the response type asks for (OIDC Core §3.1.2.5,
// §3.2.2.5, §3.3.2.5) and delivers it to the client.
func (p *Provider) respond(w http.ResponseWriter, r *http.Request, req *authRequest, user *User) {
	ctx := r.Context()
	if err := p.consumePushed(ctx, req); err != nil {
		p.authError(w, r, &redirectError{e: asError(err), req: req})
		return
	}
	now := p.now()
	grantID := newGrantID(now)
	out := url.Values{}
	var code, accessToken string
	if req.responseType.code {
		code = newToken(now)
		err := p.store.CreateCode(ctx, &storage.AuthCode{
			Hash: tokenKey(code), GrantID: grantID, ClientID: req.client.ID, UserID: user.ID,
			SessionID: user.SessionID, RedirectURI: req.redirectURI, Scope: req.scope,
			Nonce: req.nonce, Claims: req.claims, CodeChallenge: storedChallenge(req.challenge, req.method), CodeChallengeMethod: req.method,
			DPoPJKT: req.dpopJKT, ClaimsLocales: req.claimsLocales, Resources: req.resources,
			AuthTime: user.AuthTime.UTC(), CreatedAt: now, ExpiresAt: now.Add(p.cfg.CodeExpire),
		})
		if err != nil {
			p.authError(w, r, &redirectError{e: asError(err), req: req})
			return
		}
		out.Set("code", code)
	}
	if req.responseType.token {
		// Implicit and hybrid access tokens: a grant without refresh tokens.
		g := &storage.Grant{
			ID: newGrantID(now), ClientID: req.client.ID, UserID: user.ID, SessionID: user.SessionID,
			Scope: req.scope, Claims: req.claims, ClaimsLocales: req.claimsLocales, Nonce: req.nonce, AuthTime: user.AuthTime.UTC(),
			CreatedAt: now, ExpiresAt: now.Add(p.cfg.TokenExpire), Resources: req.resources,
		}
		at := &storage.Token{
			Kind: storage.AccessToken, GrantID: g.ID, ClientID: g.ClientID,
			UserID: user.ID, Scope: req.scope, CreatedAt: now, ExpiresAt: now.Add(p.cfg.TokenExpire),
			Audience: req.resources,
		}
		var err error
		if accessToken, err = p.newAccessToken(ctx, req.client, g, at); err != nil {
			p.authError(w, r, &redirectError{e: asError(err), req: req})
			return
		}
		if err := p.store.CreateGrant(ctx, g, at); err != nil {
			p.authError(w, r, &redirectError{e: asError(err), req: req})
			return
		}
		out.Set("access_token", accessToken)
		out.Set("token_type", "Bearer")
		out.Set("expires_in", strconv.Itoa(int(p.cfg.TokenExpire.Seconds())))
		out.Set("scope", req.scope.String())
	}
	if req.responseType.idToken {
		idt, err := p.idToken(ctx, idTokenInput{
			client: req.client, userID: user.ID, sessionID: user.SessionID, authTime: user.AuthTime,
			nonce: req.nonce, scope: req.scope, accessToken: accessToken, code: code, request: r, claims: req.claims,
			claimsLocales: req.claimsLocales,
			// With only an ID token and no access token, the claims go into
			// the ID token (OIDC Core §5.4).
			includeClaims: !req.responseType.token && !req.responseType.code,
		})
		if err != nil {
			p.authError(w, r, &redirectError{e: asError(err), req: req})
			return
		}
		out.Set("id_token", idt)
	}
	if err := p.rememberSessionClient(ctx, req.client, user); err != nil {
		p.authError(w, r, &redirectError{e: asError(err), req: req})
		return
	}
	if p.cfg.SessionManagement {
		// Session Management 1.0 §2; the cookie the iframe checks against
		// is refreshed with it.
		out.Set("session_state", p.sessionState(req.client.ID, req.redirectURI, sessionOf(user)))
		p.SetBrowserState(w, sessionOf(user))
	}
	p.writeAuthResponse(w, r, req, out)
}
