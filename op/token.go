package op

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/oidcd/oidcd/storage"
)

// grantFunc runs one grant type for an authenticated client.
type grantFunc func(r *http.Request, form url.Values, c *storage.Client) (*tokenResponse, error)

// tokenResponse is RFC 6749 §5.1's success body.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	// IssuedTokenType is RFC 8693 §2.2.1's, for token exchange only.
	IssuedTokenType string `json:"issued_token_type,omitempty"`
	TokenType       string `json:"token_type"`
	ExpiresIn       int    `json:"expires_in"`
	RefreshToken    string `json:"refresh_token,omitempty"`
	IDToken         string `json:"id_token,omitempty"`
	Scope           string `json:"scope,omitempty"`
}

// token is the token endpoint: authenticate the client, run the grant,
// write the response. Every grant passes client authentication (SECURITY L4).
func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	form, client, ok := p.clientRequest(w, r)
	if !ok {
		return
	}
	gt := form.Get("grant_type")
	grant, ok := p.grantTypes[gt]
	if gt == "" {
		p.writeJSONError(w, r, newErr(errInvalidRequest, "The grant_type parameter is missing."))
		return
	}
	if !ok {
		p.writeJSONError(w, r, newErr(errUnsupportedGrantType, "The grant_type %q is not supported.", gt))
		return
	}
	if e := clientMayUse(client, gt); e != nil {
		p.writeJSONError(w, r, e)
		return
	}
	bound, err := p.tokenEndpointProof(w, r, client)
	if err != nil {
		p.writeJSONError(w, r, err)
		return
	}
	r = bound
	resp, err := grant(r, form, client)
	if err != nil {
		p.writeJSONError(w, r, err)
		return
	}
	p.Emit(r.Context(), Event{Kind: EventTokenIssued, GrantType: gt, ClientID: client.ID})
	writeJSON(w, http.StatusOK, resp)
}

// clientMayUse applies the client's grant types (RFC 7591 §2; SECURITY L4):
// a client listing grant types uses only those; the password grant only
// for clients that list it (never by default), confidential ones or public
// ones the operator allowed (docs/security.md "Client policy").
func clientMayUse(c *storage.Client, gt string) *Error {
	listed := slices.Contains(c.GrantTypes, gt)
	switch {
	case len(c.GrantTypes) > 0 && !listed:
		return newErr(errUnauthorizedClient, "The client is not registered for the grant_type %q.", gt)
	case slices.Contains(extensionGrantTypes, gt) && !listed:
		// RFC 8628: only clients registered for the device grant.
		return newErr(errUnauthorizedClient, "The client is not registered for the grant_type %q.", gt)
	case gt == "password" && !listed:
		return newErr(errUnauthorizedClient, "The client may not use the password grant.")
	case gt == "password" && c.Type != storage.Confidential && !c.PublicPasswordGrant:
		return newErr(errUnauthorizedClient, "Public clients may not use the password grant.")
	}
	return nil
}

// postForm parses an application/x-www-form-urlencoded body, refusing
// repeated parameters (SECURITY L2) and credentials in the query.
// clientRequest starts an endpoint where a client authenticates as at the
// token endpoint (token, PAR, device authorization): the response is never
// cached, errors included (RFC 6749 §5.1; SECURITY D2), the form is parsed
// within its limits and the client authenticated. On failure it has written
// the JSON error and ok is false.
func (p *Provider) clientRequest(w http.ResponseWriter, r *http.Request) (form url.Values, client *storage.Client, ok bool) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	form, err := postForm(r)
	if err != nil {
		p.writeJSONError(w, r, err)
		return nil, nil, false
	}
	client, err = p.authenticateClient(r, form)
	if err != nil {
		p.writeJSONError(w, r, err)
		return nil, nil, false
	}
	return form, client, true
}

// multiValued names the parameters that may be repeated: resource (RFC
// 8707 §2) and audience (RFC 8693 §2.1).
func multiValued(name string) bool { return name == "resource" || name == "audience" }

func postForm(r *http.Request) (url.Values, error) {
	ct := r.Header.Get("Content-Type")
	if mt, _, _ := strings.Cut(ct, ";"); !strings.EqualFold(strings.TrimSpace(mt), "application/x-www-form-urlencoded") {
		return nil, newErr(errInvalidRequest, "The body must be application/x-www-form-urlencoded.")
	}
	// SECURITY L6: bounded body, parameters and query.
	if queryTooLong(r) {
		return nil, newErr(errInvalidRequest, "The query string is longer than %d bytes.", MaxQueryBytes)
	}
	r.Body = http.MaxBytesReader(nil, r.Body, MaxFormBytes)
	if err := r.ParseForm(); err != nil {
		return nil, newErr(errInvalidRequest, "The request body could not be parsed, or is longer than %d bytes.", MaxFormBytes)
	}
	for k, v := range r.PostForm {
		if len(v) > 1 && !multiValued(k) {
			return nil, newErr(errInvalidRequest, "The %s parameter was sent more than once.", k)
		}
	}
	if e := checkLimits(r.PostForm); e != nil {
		return nil, e
	}
	return r.PostForm, nil
}

// authenticateClient implements client_secret_basic, client_secret_post and
// "none" for public clients (RFC 6749 §2.3.1, OIDC Core §9).
func (p *Provider) authenticateClient(r *http.Request, form url.Values) (*storage.Client, error) {
	if form.Has("client_assertion") || form.Has("client_assertion_type") {
		return p.authenticateAssertion(r, form)
	}
	id, secret, basic := r.BasicAuth()
	if basic {
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		secret, err2 = url.QueryUnescape(secret)
		if err1 != nil || err2 != nil {
			return nil, invalidClient("The client credentials are malformed.")
		}
		if form.Has("client_secret") {
			return nil, newErr(errInvalidRequest, "Use one client authentication method, not two.")
		}
		if fid := form.Get("client_id"); fid != "" && fid != id {
			return nil, newErr(errInvalidRequest, "client_id does not match the authenticated client.")
		}
	} else {
		id, secret = form.Get("client_id"), form.Get("client_secret")
	}
	if id == "" {
		return nil, invalidClient("Client authentication is missing.")
	}
	c, err := p.client(r.Context(), id)
	if errors.Is(err, storage.ErrNotFound) {
		p.Emit(r.Context(), Event{Kind: EventClientAuthFailed, ClientID: id, IP: p.cfg.ClientIP(r), Reason: "unknown_client"})
		return nil, invalidClient("Client authentication failed.")
	} else if err != nil {
		return nil, err
	}
	// OIDC Core §9: a client uses the method it registered. Clients made
	// before token_endpoint_auth_method existed may send their secret
	// either way.
	switch m := c.TokenEndpointAuthMethod; {
	case m == AuthClientSecretBasic && !basic && c.Type == storage.Confidential:
		return nil, invalidClient("This client authenticates with client_secret_basic.")
	case m == AuthClientSecretPost && basic:
		return nil, invalidClient("This client authenticates with client_secret_post.")
	case m == AuthPrivateKeyJWT || m == AuthClientSecretJWT:
		return nil, invalidClient("This client authenticates with a signed JWT (" + m + ").")
	}
	switch c.Type {
	case storage.Public:
		// A public client never authenticates with a secret (SECURITY E4).
		if secret != "" || basic {
			return nil, invalidClient("Public clients do not authenticate with a secret.")
		}
	default:
		ctx, ip := r.Context(), p.cfg.ClientIP(r)
		wait, err := p.clientAuthLocked(ctx, c.ID, ip)
		if err != nil {
			return nil, err
		}
		if wait > 0 {
			// SECURITY E6: refused unchecked, so guessing gains nothing.
			p.Emit(ctx, Event{Kind: EventClientAuthFailed, ClientID: c.ID, IP: ip, Reason: "locked"})
			e := invalidClient("Client authentication failed, or too many failed attempts; try again later.")
			e.RetryAfter = wait
			return nil, e
		}
		if secret == "" || !secretMatches(c, digest(secret), p.now()) { // SECURITY E1
			if err := p.clientAuthFailed(ctx, c.ID, ip); err != nil {
				return nil, err
			}
			p.Emit(ctx, Event{Kind: EventClientAuthFailed, ClientID: c.ID, IP: ip, Reason: "wrong_secret"})
			return nil, invalidClient("Client authentication failed.")
		}
	}
	return c, nil
}

// secretMatches compares a presented secret's digest with the client's
// secret and, during a rotation's overlap, with its previous one; both
// comparisons always run, in constant time.
func secretMatches(c *storage.Client, d []byte, now time.Time) bool {
	cur := subtle.ConstantTimeCompare(d, c.SecretHash)
	prev := 0
	if len(c.PreviousSecretHash) > 0 {
		prev = subtle.ConstantTimeCompare(d, c.PreviousSecretHash)
	}
	return cur == 1 || prev == 1 && now.Before(c.PreviousSecretExpiresAt)
}

// invalidClient is RFC 6749 §5.2's invalid_client with status 401; the
// writer adds the WWW-Authenticate challenge.
func invalidClient(desc string) *Error {
	return &Error{Code: errInvalidClient, Description: desc, Status: http.StatusUnauthorized}
}
