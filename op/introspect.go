package op

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"

	"github.com/oidcd/oidcd/storage"
)

// introspectionScope is what a client's scope must hold to call /introspect
// (django-oidc-provider's convention).
const introspectionScope = "token_introspection"

var inactive = map[string]any{"active": false}

// introspect is the token introspection endpoint (RFC 7662). A caller that
// fails to authenticate gets 401 invalid_client; every problem with the token
// or the caller's rights gives exactly {"active": false}.
func (p *Provider) introspect(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	form, err := postForm(r)
	if err != nil {
		p.writeJSONError(w, r, err)
		return
	}
	caller, err := p.authenticateClient(r, form)
	if err != nil {
		p.writeJSONError(w, r, err)
		return
	}
	resp, why, err := p.introspection(r, caller, form.Get("token"))
	if err != nil {
		// Unreachable storage is not an inactive token: a resource server
		// told "active": false would reject valid tokens for the outage.
		p.writeJSONError(w, r, err)
		return
	}
	if resp == nil {
		p.log.InfoContext(r.Context(), "introspection: inactive", "caller", caller.ID, "reason", why)
		resp = inactive
	}
	writeJSON(w, http.StatusOK, resp)
}

// introspection returns the response for an active token the caller may
// see, or nil and the reason (logged, never sent). The error is set only
// when storage cannot be reached (storage.ErrUnavailable).
func (p *Provider) introspection(r *http.Request, caller *storage.Client, value string) (map[string]any, string, error) {
	ctx := r.Context()
	if !slices.Contains(caller.Scope, introspectionScope) {
		return nil, "caller lacks the token_introspection scope", nil
	}
	if value == "" {
		return nil, "no token", nil
	}
	tok, grant, err := p.lookupToken(ctx, value, p.now())
	if errors.Is(err, storage.ErrNotFound) {
		return nil, "unknown, expired or revoked token", nil
	} else if errors.Is(err, storage.ErrUnavailable) {
		return nil, "", err
	} else if err != nil {
		return nil, "storage error: " + err.Error(), nil
	}
	if tok.Kind == storage.AccessToken && looksLikeJWT(value) {
		if err := p.checkJWTAccessToken(value, tok); err != nil {
			return nil, "JWT access token: " + err.Error(), nil
		}
	}
	// The audience check: the token's client must be in the caller's scope.
	// A token with an audience is also for it: the caller itself (an
	// audience of token exchange, RFC 8693 §2.1) or a resource URI the
	// caller's scope names (RFC 8707: the resource server it serves).
	if !p.cfg.InsecureIntrospectionAnyAudience && !slices.Contains(caller.Scope, tok.ClientID) &&
		!slices.ContainsFunc(tok.Audience, func(a string) bool { return a == caller.ID || slices.Contains(caller.Scope, a) }) {
		return nil, "token audience not in the caller's scope", nil
	}
	client, err := p.client(ctx, tok.ClientID)
	if errors.Is(err, storage.ErrUnavailable) {
		return nil, "", err
	} else if err != nil {
		return nil, "token client: " + err.Error(), nil
	}
	resp := map[string]any{
		"active":     true,
		"scope":      scopeSet(tok.Scope).String(),
		"client_id":  tok.ClientID,
		"token_type": "Bearer",
		"exp":        tok.ExpiresAt.Unix(),
		"iat":        tok.CreatedAt.Unix(),
		"nbf":        tok.CreatedAt.Unix(),
		"aud":        tok.ClientID,
		"iss":        p.cfg.Issuer,
	}
	if tok.Kind == storage.RefreshToken {
		resp["token_type"] = "refresh_token"
	}
	var idToken map[string]any
	if tok.UserID != "" {
		sub, err := p.subject(ctx, tok.UserID, client)
		if err != nil {
			return nil, "subject: " + err.Error(), nil
		}
		resp["sub"] = sub
		idToken = map[string]any{"iss": p.cfg.Issuer, "sub": sub, "aud": client.ID, "auth_time": grant.AuthTime.Unix()}
		if grant.Nonce != "" {
			idToken["nonce"] = grant.Nonce
		}
		var c Claims
		if err := p.cfg.Users.Claims(ctx, tok.UserID, &c); err == nil && c.PreferredUsername != "" {
			resp["username"] = c.PreferredUsername
		}
	} else {
		resp["sub"] = tok.ClientID
	}
	if tok.JKT != "" {
		// RFC 9449 §6.2: the key the token is bound to.
		resp["token_type"] = "DPoP"
		resp["cnf"] = map[string]any{"jkt": tok.JKT}
	}
	if len(tok.Audience) > 0 {
		resp["aud"] = tok.Audience
	}
	if grant.Actor != "" {
		// RFC 8693 §4.1: who acts for the subject.
		var act map[string]any
		if err := json.Unmarshal([]byte(grant.Actor), &act); err == nil {
			resp["act"] = act
		}
	}
	if h := p.cfg.Hooks.Introspection; h != nil {
		if err := h(ctx, &IntrospectionArgs{Response: resp, Client: client, IDToken: idToken}); err != nil {
			return nil, "introspection hook: " + err.Error(), nil
		}
	}
	return resp, "", nil
}
