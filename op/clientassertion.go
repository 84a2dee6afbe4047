package op

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/oidcd/oidcd/op/internal/jwtauth"
	"github.com/oidcd/oidcd/storage"
)

// authenticateAssertion is private_key_jwt and client_secret_jwt client
// authentication (RFC 7523 §2.2, OIDC Core §9) at the token, introspection,
// revocation and pushed authorization request endpoints. The rules live in
// op/internal/jwtauth; here the client is found, the throttle applied
// (SECURITY E6) and the audience chosen.
func (p *Provider) authenticateAssertion(r *http.Request, form url.Values) (*storage.Client, error) {
	if _, _, basic := r.BasicAuth(); basic || form.Has("client_secret") {
		return nil, newErr(errInvalidRequest, "Use one client authentication method, not two.")
	}
	if form.Get("client_assertion_type") != jwtauth.AssertionType {
		// RFC 7521 §4.2
		return nil, invalidClient("client_assertion_type must be " + jwtauth.AssertionType + ".")
	}
	assertion := form.Get("client_assertion")
	id, err := jwtauth.ClientID(assertion)
	if err != nil {
		p.log.InfoContext(r.Context(), "client assertion refused", "reason", err.Error())
		return nil, invalidClient("The client assertion is not valid.")
	}
	if fid := form.Get("client_id"); fid != "" && fid != id {
		return nil, newErr(errInvalidRequest, "client_id does not match the client assertion.")
	}
	ctx := r.Context()
	c, err := p.client(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, invalidClient("Client authentication failed.")
	} else if err != nil {
		return nil, err
	}
	m := c.TokenEndpointAuthMethod
	if m != AuthPrivateKeyJWT && m != AuthClientSecretJWT {
		// OIDC Core §9: only the registered method.
		return nil, invalidClient("This client does not authenticate with a client assertion.")
	}
	ip := p.cfg.ClientIP(r)
	wait, err := p.clientAuthLocked(ctx, c.ID, ip)
	if err != nil {
		return nil, err
	}
	if wait > 0 {
		e := invalidClient("Client authentication failed, or too many failed attempts; try again later.")
		e.RetryAfter = wait
		return nil, e
	}
	jc := jwtauth.Client{ID: c.ID, Method: m, SigningAlg: c.TokenEndpointAuthSigningAlg, JWKS: c.JWKS, JWKSURI: c.JWKSURI}
	if m == AuthClientSecretJWT {
		secret, err := p.clientSecret(c)
		if err != nil {
			return nil, err
		}
		jc.Secret = secret
	}
	if err := p.assertions.Verify(ctx, assertion, jc, p.assertionAudiences(r)); err != nil {
		if !errors.Is(err, jwtauth.ErrInvalid) {
			return nil, err // storage unreachable
		}
		p.log.InfoContext(ctx, "client assertion refused", "client_id", c.ID, "reason", err.Error())
		if err := p.clientAuthFailed(ctx, c.ID, ip); err != nil {
			return nil, err
		}
		return nil, invalidClient("Client authentication failed.")
	}
	return c, nil
}

// assertionAudiences are the aud values a client assertion may carry: our
// issuer and token endpoint (RFC 7523 §3 item 3, OIDC Core §9), and the URL
// of the endpoint receiving it (RFC 9126 §2 for PAR; introspection and
// revocation likewise).
func (p *Provider) assertionAudiences(r *http.Request) []string {
	aud := []string{p.cfg.Issuer, p.endpoint(PathToken)}
	path := strings.TrimSuffix(r.URL.Path, "/")
	for _, e := range []string{PathIntrospect, PathRevoke, PathPAR} {
		if strings.HasSuffix(path, e) {
			aud = append(aud, p.endpoint(e))
		}
	}
	return aud
}
