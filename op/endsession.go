package op

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/go-jose/go-jose/v4"

	"github.com/oidcd/oidcd/storage"
)

// SessionEnder is what Users implements to let the end-session endpoint
// sign a browser out of the host application: it deletes the session of u
// (the user CurrentUser returned for r) and clears its cookie on w. The
// end-session endpoint is served, and discovery lists it, only when Users
// implements it.
type SessionEnder interface {
	EndSession(w http.ResponseWriter, r *http.Request, u *User) error
}

// AfterEndSessionArgs are the inputs of Hooks.AfterEndSession (django-oidc-provider's
// OIDC_AFTER_END_SESSION_HOOK: request, id_token, post_logout_redirect_uri,
// state, client, next_page).
type AfterEndSessionArgs struct {
	Request *http.Request
	// User is the signed-in user whose session ends.
	User *User
	// IDToken holds the claims of the verified id_token_hint, nil if none.
	IDToken map[string]any
	// Client is the client identified by client_id or the hint, or nil.
	Client *storage.Client
	// PostLogoutRedirectURI is the validated redirect ("" when none is
	// honoured), State the RP's state.
	PostLogoutRedirectURI string
	State                 string
}

// endSessionField carries the confirmation form's CSRF token; its presence
// marks a POST to the end-session endpoint as the user's confirmation.
const endSessionField = "end_session_csrf"

// endSessionRequest is a validated RP-Initiated Logout request
// (RP-Initiated Logout 1.0 §2).
type endSessionRequest struct {
	params      url.Values // single-valued, without the CSRF field
	hint        map[string]any
	client      *storage.Client
	redirectURI string // registered and honoured; "" otherwise
	state       string
	logoutHint  string
	uiLocales   string
}

// EndSessionPage is the context of end_session.html: the confirmation form
// (SignedOut false) or the signed-out page with the front-channel logout
// iframes (Front-Channel Logout 1.0 §3).
type EndSessionPage struct {
	Action       string
	HiddenInputs template.HTML
	Client       *storage.Client // the identified client, or nil
	LogoutHint   string
	SignedOut    bool
	FrontChannel []string
	// Continue is where the browser goes once the iframes have loaded (the
	// post-logout redirect), and Nonce the CSP nonce of the script that
	// takes it there.
	Continue string
	Nonce    string
}

// serveEndSession is the end-session endpoint (RP-Initiated Logout 1.0 §2): GET
// and POST (SECURITY F7). Untrusted requests are confirmed by the user on a
// page; a request is trusted when its id_token_hint verifies and names the
// browser's current session.
func (p *Provider) serveEndSession(w http.ResponseWriter, r *http.Request) {
	params, perr := authParams(r) // the same input limits as /authorize (SECURITY L6)
	if perr != nil {
		p.errorPage(w, r, perr)
		return
	}
	confirmed := r.Method == http.MethodPost && params.Has(endSessionField)
	csrf := params.Get(endSessionField)
	params.Del(endSessionField)
	req, err := p.parseEndSession(r.Context(), params)
	if err != nil {
		p.errorPage(w, r, asError(err))
		return
	}
	user, err := p.cfg.Users.CurrentUser(r)
	if err != nil {
		p.errorPage(w, r, asError(err))
		return
	}
	if user == nil {
		// Nobody is signed in: nothing to end. The RP still gets its
		// redirect (RP-Initiated Logout 1.0 §3).
		p.log.InfoContext(r.Context(), "end session: no session", "client", clientIDOf(req.client))
		p.signedOut(w, r, req, nil)
		return
	}
	trusted, err := p.hintOfSession(r.Context(), req, user)
	if err != nil {
		p.errorPage(w, r, asError(err))
		return
	}
	if !trusted && !confirmed {
		p.confirmEndSession(w, r, req, user)
		return
	}
	if !trusted && !p.cfg.Sealer.VerifyMAC(decodeB64(csrf), "end-session", sessionOf(user), user.ID, req.params.Encode()) {
		p.errorPage(w, r, &Error{Code: errAccessDenied, Status: http.StatusForbidden,
			Description: "The sign-out form has expired or was not sent from this browser. Please start again."})
		return
	}
	if h := p.cfg.Hooks.AfterEndSession; h != nil {
		err := h(r.Context(), AfterEndSessionArgs{Request: r, User: user, IDToken: req.hint, Client: req.client,
			PostLogoutRedirectURI: req.redirectURI, State: req.state})
		if err != nil {
			p.errorPage(w, r, asError(fmt.Errorf("op: after end session hook: %w", err)))
			return
		}
	}
	if err := p.cfg.Users.(SessionEnder).EndSession(w, r, user); err != nil {
		p.errorPage(w, r, asError(fmt.Errorf("op: end host session: %w", err)))
		return
	}
	var out *LoggedOut
	if user.SessionID != "" {
		if out, err = p.EndSession(r.Context(), Logout{UserID: user.ID, SessionID: user.SessionID}); err != nil {
			p.errorPage(w, r, asError(err))
			return
		}
	}
	p.SetBrowserState(w, "")
	p.log.InfoContext(r.Context(), "end session", "user", user.ID, "sid", user.SessionID,
		"client", clientIDOf(req.client), "trusted", trusted, "redirect", req.redirectURI != "")
	p.signedOut(w, r, req, out)
}

func clientIDOf(c *storage.Client) string {
	if c == nil {
		return ""
	}
	return c.ID
}

// parseEndSession validates the parameters of RP-Initiated Logout 1.0 §2.
// Every failure is an *Error for the error page: no redirect is made to a
// URI that was not validated (RP-Initiated Logout 1.0 §3, §4; SECURITY A7).
func (p *Provider) parseEndSession(ctx context.Context, params url.Values) (*endSessionRequest, error) {
	req := &endSessionRequest{params: url.Values{}}
	for k, v := range params {
		if len(v) > 1 {
			return nil, newErr(errInvalidRequest, "The %s parameter was sent more than once.", k) // SECURITY L2
		}
		req.params.Set(k, v[0])
	}
	req.state = params.Get("state")
	req.logoutHint = params.Get("logout_hint")
	req.uiLocales = params.Get("ui_locales")
	if id := params.Get("client_id"); id != "" {
		c, err := p.client(ctx, id)
		if errors.Is(err, storage.ErrNotFound) {
			return nil, newErr(errInvalidClient, "The client is not registered.")
		} else if err != nil {
			return nil, err
		}
		req.client = c
	}
	if hint := params.Get("id_token_hint"); hint != "" {
		claims, aud, err := p.verifyLogoutHint(ctx, hint, req.client)
		if err != nil {
			return nil, err
		}
		req.hint = claims
		if req.client == nil {
			req.client = aud
		}
	}
	if uri := params.Get("post_logout_redirect_uri"); uri != "" {
		if req.client == nil {
			return nil, newErr(errInvalidRequest, "A post_logout_redirect_uri needs client_id or id_token_hint to identify the client.")
		}
		// Exact string comparison (RP-Initiated Logout 1.0 §3; SECURITY A7).
		if !slices.Contains(req.client.PostLogoutRedirectURIs, uri) {
			return nil, newErr(errInvalidRequest, "The post_logout_redirect_uri is not registered for this client.")
		}
		req.redirectURI = uri
	}
	return req, nil
}

// verifyLogoutHint checks an id_token_hint (RP-Initiated Logout 1.0 §2, §4):
// signed by one of our keys or, for HS256, by the secret of the client it
// was issued to; our issuer; expiry not checked. When client is known the
// hint must have been issued to it. It returns the claims and the client
// of the hint's audience.
func (p *Provider) verifyLogoutHint(ctx context.Context, hint string, client *storage.Client) (map[string]any, *storage.Client, error) {
	invalid := func(why string) error {
		return &Error{Code: errInvalidRequest, Description: "The id_token_hint is not valid.", Err: errors.New(why)}
	}
	if isJWE(hint) {
		// See verifyIDToken: the hint must be the signed ID token.
		return nil, nil, &Error{Code: errInvalidRequest, Description: "The id_token_hint is encrypted; send the signed ID token it contains."}
	}
	aud := unverifiedAudience(hint)
	if aud == "" {
		return nil, nil, invalid("no audience")
	}
	if client != nil && client.ID != aud {
		return nil, nil, newErr(errInvalidRequest, "The id_token_hint was not issued to this client_id.")
	}
	hc := client
	if hc == nil {
		c, err := p.client(ctx, aud)
		if errors.Is(err, storage.ErrNotFound) {
			return nil, nil, invalid("unknown audience")
		} else if err != nil {
			return nil, nil, err
		}
		hc = c
	}
	claims, err := p.verifyIDToken(hint, func() ([]byte, error) { return p.clientSecret(hc) })
	if err != nil {
		return nil, nil, invalid(err.Error())
	}
	if !audienceHas(claims["aud"], hc.ID) {
		return nil, nil, invalid("audience mismatch")
	}
	return claims, hc, nil
}

// unverifiedAudience reads the client an ID token names (azp, or its single
// aud) without verifying it, only to find which client's secret verifies an
// HS256 token; the verification decides.
func unverifiedAudience(token string) string {
	jws, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA, jose.HS256})
	if err != nil {
		return ""
	}
	var c struct {
		Aud any    `json:"aud"`
		Azp string `json:"azp"`
	}
	if json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &c) != nil {
		return ""
	}
	if c.Azp != "" {
		return c.Azp
	}
	switch a := c.Aud.(type) {
	case string:
		return a
	case []any:
		if len(a) == 1 {
			s, _ := a[0].(string)
			return s
		}
	}
	return ""
}

func audienceHas(aud any, id string) bool {
	switch a := aud.(type) {
	case string:
		return a == id
	case []any:
		for _, v := range a {
			if v == id {
				return true
			}
		}
	}
	return false
}

// hintOfSession reports whether the request's verified hint names the
// browser's current session: the same sid, or, for hosts without session
// ids, the same subject.
func (p *Provider) hintOfSession(ctx context.Context, req *endSessionRequest, user *User) (bool, error) {
	if req.hint == nil {
		return false, nil
	}
	if sid, _ := req.hint["sid"].(string); sid != "" || user.SessionID != "" {
		return sid == user.SessionID, nil
	}
	sub, err := p.subject(ctx, user.ID, req.client)
	if err != nil {
		return false, err
	}
	return req.hint["sub"] == sub, nil
}

// confirmEndSession asks the user to confirm (RP-Initiated Logout 1.0 §2:
// the OP should ask whether to log out of the OP as well). The form is
// bound to the browser session and to this exact request (SECURITY F1).
func (p *Provider) confirmEndSession(w http.ResponseWriter, r *http.Request, req *endSessionRequest, user *User) {
	var hidden strings.Builder
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range req.params {
			if !yield(k) {
				return
			}
		}
	})
	for _, k := range keys {
		fmt.Fprintf(&hidden, `<input type="hidden" name="%s" value="%s">`+"\n",
			template.HTMLEscapeString(k), template.HTMLEscapeString(req.params.Get(k)))
	}
	mac := base64.RawURLEncoding.EncodeToString(p.cfg.Sealer.MAC("end-session", sessionOf(user), user.ID, req.params.Encode()))
	fmt.Fprintf(&hidden, `<input type="hidden" name="%s" value="%s">`, endSessionField, mac)
	data := EndSessionPage{
		Action:       p.issuerURL.EscapedPath() + PathEndSession,
		HiddenInputs: template.HTML(hidden.String()),
		Client:       req.client,
		LogoutHint:   req.logoutHint,
	}
	lang := p.pageLanguage(r.Context(), r, req.uiLocales, user)
	if err := p.pages.RenderLang(w, lang, http.StatusOK, "end_session.html", data, ""); err != nil {
		p.log.Error("render end session page", "err", err)
	}
}

// signedOut finishes a logout: the front-channel logout iframes, if any,
// then the post-logout redirect with state (RP-Initiated Logout 1.0 §3), or
// the signed-out page.
func (p *Provider) signedOut(w http.ResponseWriter, r *http.Request, req *endSessionRequest, out *LoggedOut) {
	next := ""
	if req.redirectURI != "" {
		u, _ := url.Parse(req.redirectURI) // registered, so it parses
		if req.state != "" {
			q := u.Query()
			q.Set("state", req.state)
			u.RawQuery = q.Encode()
		}
		next = u.String()
	}
	var fc []string
	if out != nil {
		fc = out.FrontChannelURIs
	}
	if len(fc) == 0 && next != "" {
		redirect(w, r, next)
		return
	}
	if err := p.RenderSignedOutLang(w, p.pageLanguage(r.Context(), r, req.uiLocales, nil), fc, next); err != nil {
		p.log.Error("render signed out page", "err", err)
	}
}

// RenderSignedOut writes the signed-out page (end_session.html): one iframe
// per front-channel logout URI (Front-Channel Logout 1.0 §3), and, when
// next is set, a script that goes there once the iframes have loaded. Its
// Content-Security-Policy lets the page frame exactly those origins. A host
// with its own logout page may use it after Provider.EndSession.
func (p *Provider) RenderSignedOut(w http.ResponseWriter, frontChannel []string, next string) error {
	return p.RenderSignedOutLang(w, p.pages.DefaultLanguage(), frontChannel, next)
}

// RenderSignedOutLang is RenderSignedOut in lang (Pages().Language picks
// it for a request).
func (p *Provider) RenderSignedOutLang(w http.ResponseWriter, lang string, frontChannel []string, next string) error {
	nonce := newID()
	data := EndSessionPage{SignedOut: true, FrontChannel: frontChannel, Continue: next, Nonce: nonce}
	return p.pages.RenderLang(w, lang, http.StatusOK, "end_session.html", data, SignedOutCSP(frontChannel, nonce))
}

// SignedOutCSP is the Content-Security-Policy of a signed-out page that
// frames the front-channel logout URIs: the default policy plus frame-src
// for exactly their origins and, when nonce is set, scripts with that nonce.
func SignedOutCSP(frontChannel []string, nonce string) string {
	var srcs []string
	for _, u := range frontChannel {
		if s := formActionSource(u); s != "'none'" && !slices.Contains(srcs, s) {
			srcs = append(srcs, s)
		}
	}
	frame := "'none'"
	if len(srcs) > 0 {
		frame = strings.Join(srcs, " ")
	}
	script := "'none'"
	if nonce != "" {
		script = "'nonce-" + nonce + "'"
	}
	return "default-src 'none'; style-src 'self'; img-src 'self'; frame-src " + frame +
		"; script-src " + script + "; frame-ancestors 'none'; base-uri 'none'"
}
