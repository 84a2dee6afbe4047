package op

import (
	"net/http"
	"net/url"

	"github.com/oidcd/oidcd/storage"
)

// grantClientCredentials issues a token for the client itself (RFC 6749
// §4.4): confidential clients only (SECURITY E4), scope within the client's
// registered scope, no refresh token, no ID token.
func (p *Provider) grantClientCredentials(r *http.Request, form url.Values, c *storage.Client) (*tokenResponse, error) {
	if c.Type != storage.Confidential {
		return nil, newErr(errUnauthorizedClient, "Public clients cannot use the client_credentials grant.")
	}
	scope := scopeSet(c.Scope)
	if s := form.Get("scope"); s != "" {
		scope = parseScope(s)
		if !scope.subsetOf(c.Scope) {
			return nil, newErr(errInvalidScope, "The requested scope exceeds the client's registered scope.")
		}
	}
	resources, e := p.requestedResources(c, form["resource"])
	if e != nil {
		return nil, e
	}
	now := p.now()
	if p.cfg.StatelessClientCredentials && p.accessTokenAlg(c, resources) == "" {
		jkt := boundJKT(r)
		access := p.newStatelessToken(&statelessToken{created: now, expires: now.Add(p.cfg.TokenExpire),
			clientID: c.ID, jkt: jkt, scope: scope, audience: resources})
		return &tokenResponse{AccessToken: access, TokenType: tokenType(jkt), ExpiresIn: int(p.cfg.TokenExpire.Seconds()), Scope: scope.String()}, nil
	}
	g := &storage.Grant{ID: newGrantID(now), ClientID: c.ID, Scope: scope, CreatedAt: now, ExpiresAt: now.Add(p.cfg.TokenExpire), Resources: resources}
	tok := &storage.Token{
		Kind: storage.AccessToken, GrantID: g.ID, ClientID: c.ID,
		Scope: scope, CreatedAt: now, ExpiresAt: now.Add(p.cfg.TokenExpire), JKT: boundJKT(r), Audience: resources,
	}
	access, err := p.newAccessToken(r.Context(), c, g, tok)
	if err != nil {
		return nil, err
	}
	if err := p.store.CreateGrant(r.Context(), g, tok); err != nil {
		return nil, err
	}
	// django-oidc-provider's response always names the scope, even the whole registered one.
	return &tokenResponse{AccessToken: access, TokenType: tokenType(tok.JKT), ExpiresIn: int(p.cfg.TokenExpire.Seconds()), Scope: scope.String()}, nil
}
