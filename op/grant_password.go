package op

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/oidcd/oidcd/storage"
)

// grantPassword is the resource owner password credentials grant (RFC 6749
// §4.3). It runs only when Config.PasswordGrant is on and Users implements
// PasswordAuthenticator, whose throttle protects it from brute force
// (RFC 6749 §4.3.2; SECURITY I1, I2).
func (p *Provider) grantPassword(r *http.Request, form url.Values, c *storage.Client) (*tokenResponse, error) {
	auth := p.cfg.Users.(PasswordAuthenticator)
	username, password := form.Get("username"), form.Get("password")
	if username == "" || password == "" {
		return nil, newErr(errInvalidRequest, "The username and password parameters are required.")
	}
	scope := parseScope(form.Get("scope"))
	for _, s := range scope {
		if !p.scopeAllowed(c, s) {
			return nil, newErr(errInvalidScope, "The scope %q is not available to this client.", s)
		}
	}
	resources, e := p.requestedResources(c, form["resource"])
	if e != nil {
		return nil, e
	}
	user, err := auth.AuthenticatePassword(r, username, password)
	var throttled *ThrottledError
	switch {
	case errors.As(err, &throttled), errors.Is(err, ErrInvalidCredentials):
		// SECURITY I3: a lockout answers exactly like a wrong password (no
		// Retry-After), so it tells nothing about the account.
		if throttled != nil {
			p.log.WarnContext(r.Context(), "password grant throttled", "client_id", c.ID)
		}
		return nil, newErr(errInvalidGrant, "Invalid username or password.")
	case err != nil:
		return nil, err
	}
	now := p.now()
	g := &storage.Grant{
		ID: newGrantID(now), ClientID: c.ID, UserID: user.ID, SessionID: user.SessionID, Scope: scope,
		AuthTime: user.AuthTime, CreatedAt: now, ExpiresAt: now.Add(p.cfg.RefreshTokenExpire),
		Resources: resources,
	}
	resp, toks, err := p.mintTokens(r, c, g, scope, "", true, resources)
	if err != nil {
		return nil, err
	}
	if err := p.store.CreateGrant(r.Context(), g, toks...); err != nil {
		return nil, err
	}
	return resp, nil
}
