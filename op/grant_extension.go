package op

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"

	"github.com/oidcd/oidcd/storage"
)

// GrantHandler decides an extension grant (RFC 6749 §4.5) registered in
// Config.GrantTypes, such as a token exchange or an assertion grant the
// host validates. The token endpoint has already authenticated the client
// when it runs. The handler decides whether this client may use the grant,
// validates the request's own parameters and says what to issue; it never
// mints tokens itself. An *Error it returns is sent to the
// client as is (use "invalid_grant", "invalid_request", "invalid_scope");
// any other error becomes server_error.
type GrantHandler func(ctx context.Context, req *GrantRequest) (*GrantDecision, error)

// GrantRequest is the input of a GrantHandler.
type GrantRequest struct {
	// Client is the authenticated client.
	Client *storage.Client
	// Form holds the token request's parameters.
	Form url.Values
	// Request is the HTTP request (for headers, the client IP).
	Request *http.Request
}

// GrantDecision is what a GrantHandler grants: one access token, valid for
// Config.TokenExpire, for UserID (the provider's user id; empty for a
// token of the client itself) with Scope, which must lie within the
// client's registered scope when it has one. No refresh or ID token is
// issued. The token works wherever the provider's access tokens do
// (userinfo for a user's token with openid, Protect, introspection,
// revocation).
type GrantDecision struct {
	UserID string
	Scope  []string
}

// extensionGrant runs a registered GrantHandler and issues what it decides.
func (p *Provider) extensionGrant(gt string, h GrantHandler) grantFunc {
	return func(r *http.Request, form url.Values, c *storage.Client) (*tokenResponse, error) {
		d, err := h(r.Context(), &GrantRequest{Client: c, Form: form, Request: r})
		if err != nil {
			var e *Error
			if errors.As(err, &e) {
				return nil, e
			}
			return nil, err
		}
		if d == nil {
			return nil, newErr(errInvalidGrant, "The grant was refused.")
		}
		scope := scopeSet(slices.Clone(d.Scope))
		for _, s := range scope {
			if !p.scopeAllowed(c, s) {
				return nil, newErr(errInvalidScope, "The scope %q exceeds the client's registered scope.", s)
			}
		}
		resources, e := p.requestedResources(c, form["resource"])
		if e != nil {
			return nil, e
		}
		now := p.now()
		g := &storage.Grant{ID: newGrantID(now), ClientID: c.ID, UserID: d.UserID, Scope: scope,
			CreatedAt: now, ExpiresAt: now.Add(p.cfg.TokenExpire), Resources: resources}
		tok := &storage.Token{
			Kind: storage.AccessToken, GrantID: g.ID, ClientID: c.ID, UserID: d.UserID,
			Scope: scope, CreatedAt: now, ExpiresAt: now.Add(p.cfg.TokenExpire), Audience: resources,
		}
		access, err := p.newAccessToken(r.Context(), c, g, tok)
		if err != nil {
			return nil, err
		}
		if err := p.store.CreateGrant(r.Context(), g, tok); err != nil {
			return nil, err
		}
		p.log.InfoContext(r.Context(), "extension grant", "grant_type", gt, "client", c.ID, "user", d.UserID)
		return &tokenResponse{AccessToken: access, TokenType: "Bearer", ExpiresIn: int(p.cfg.TokenExpire.Seconds()), Scope: scope.String()}, nil
	}
}
