package op

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/oidcd/oidcd/storage"
)

// requestURIPrefix starts every request_uri made by /par (RFC 9126 §2.2).
const requestURIPrefix = "urn:ietf:params:oauth:request_uri:"

// errInvalidRequestURI is RFC 9101 §7's error for a request_uri that
// cannot be used.
const errInvalidRequestURI = "invalid_request_uri"

// parResponse is RFC 9126 §2.2's success body.
type parResponse struct {
	RequestURI string `json:"request_uri"`
	ExpiresIn  int    `json:"expires_in"`
}

// pushedAuthorizationRequest is the PAR endpoint (RFC 9126 §2): the client
// authenticates as at the token endpoint, the request is validated as
// /authorize would validate it, and a one-time, short-lived request_uri
// bound to the client is returned.
func (p *Provider) pushedAuthorizationRequest(w http.ResponseWriter, r *http.Request) {
	form, client, ok := p.clientRequest(w, r)
	if !ok {
		return
	}
	if form.Has("request_uri") {
		// RFC 9126 §2.1
		p.writeJSONError(w, r, newErr(errInvalidRequest, "request_uri must not be pushed."))
		return
	}
	// The authorization request is what remains once client
	// authentication is taken out.
	params := url.Values{}
	for k, v := range form {
		switch k {
		case "client_secret", "client_assertion", "client_assertion_type":
			continue
		}
		params[k] = v
	}
	if id := params.Get("client_id"); id != "" && id != client.ID {
		p.writeJSONError(w, r, newErr(errInvalidRequest, "client_id does not match the authenticated client."))
		return
	}
	params.Set("client_id", client.ID)
	ctx := r.Context()
	req, err := p.parseAuthRequest(ctx, params, true)
	if err != nil {
		// RFC 9126 §2.3: the authorization request's errors, as JSON.
		var re *redirectError
		if errors.As(err, &re) {
			err = re.e
		}
		p.writeJSONError(w, r, err)
		return
	}
	uri := requestURIPrefix + newSecret()
	now := p.now()
	err = p.store.CreatePushedRequest(ctx, &storage.PushedRequest{
		Hash: digest(uri), ClientID: client.ID, Params: req.effective.Encode(), CreatedAt: now, ExpiresAt: now.Add(p.cfg.PARExpire),
	})
	if err != nil {
		p.writeJSONError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, parResponse{RequestURI: uri, ExpiresIn: int(p.cfg.PARExpire.Seconds())})
}

// pushedParams resolves an authorization request made with a request_uri
// from /par (RFC 9126 §4): the request must exist, be unexpired and belong
// to the client_id sent with it. It returns the pushed parameters (the
// only ones that count) and the front-channel parameters to carry through
// login and consent. Errors are shown on a page: nothing of the request is
// trusted yet.
func (p *Provider) pushedParams(ctx context.Context, front url.Values) (pushed, carry url.Values, err error) {
	uri := front.Get("request_uri")
	clientID := front.Get("client_id")
	if clientID == "" {
		return nil, nil, newErr(errInvalidRequest, "The client_id parameter is missing.")
	}
	pr, err := p.store.PushedRequest(ctx, digest(uri), p.now())
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil, newErr(errInvalidRequestURI, "The request_uri is unknown, expired or already used.")
	} else if err != nil {
		return nil, nil, err
	}
	if pr.ClientID != clientID {
		// RFC 9126 §4: bound to the client that pushed it.
		return nil, nil, newErr(errInvalidRequestURI, "The request_uri belongs to another client.")
	}
	pushed, err = url.ParseQuery(pr.Params)
	if err != nil {
		return nil, nil, err
	}
	carry = url.Values{"client_id": {clientID}, "request_uri": {uri}}
	if v := front.Get(freshParam); v != "" {
		// Our own MAC-bound marker of a login asked for (authorize.go).
		carry.Set(freshParam, v)
	}
	return pushed, carry, nil
}

// consumePushed uses up the request_uri of a request that is about to be
// answered: one authorization response per pushed request, on any node
// (RFC 9126 §4, SECURITY L5). Reloads before that see the same request.
func (p *Provider) consumePushed(ctx context.Context, req *authRequest) error {
	if req.requestURI == "" {
		return nil
	}
	err := p.store.ConsumePushedRequest(ctx, digest(req.requestURI), p.now())
	if errors.Is(err, storage.ErrNotFound) {
		return newErr(errInvalidRequestURI, "The request_uri was already used or has expired.")
	}
	return err
}
