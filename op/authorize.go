package op

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/oidcd/oidcd/storage"
)

// supportedResponseTypes are the canonical (sorted) response_type values
// (OIDC Core §3, OAuth 2.0 Multiple Response Types §5).
var supportedResponseTypes = []string{
	"code", "id_token", "id_token token", "code id_token", "code token", "code id_token token", "token",
}

// responseType is a parsed response_type.
type responseType struct {
	canonical            string
	code, token, idToken bool
}

func parseResponseType(s string) (responseType, bool) {
	f := strings.Fields(s)
	slices.Sort(f)
	rt := responseType{canonical: strings.Join(f, " ")}
	if !slices.Contains(supportedResponseTypes, rt.canonical) || len(slices.Compact(slices.Clone(f))) != len(f) {
		return rt, false
	}
	rt.code = slices.Contains(f, "code")
	rt.token = slices.Contains(f, "token")
	rt.idToken = slices.Contains(f, "id_token")
	return rt, true
}

// CanonicalResponseType sorts the values of a response_type, the form in
// which clients store them; ok is false for unsupported combinations.
func CanonicalResponseType(s string) (string, bool) {
	rt, ok := parseResponseType(s)
	return rt.canonical, ok
}

// frontChannelTokens reports whether tokens travel in the authorization response.
func (rt responseType) frontChannelTokens() bool { return rt.token || rt.idToken }

// authRequest is a validated authorization request (OIDC Core §3.1.2.1).
type authRequest struct {
	client       *storage.Client
	redirectURI  string
	responseType responseType
	responseMode string
	state        string
	nonce        string
	scope        scopeSet
	prompt       []string
	maxAge       int // -1 when absent
	loginHint    string
	uiLocales    string // for the pages (OIDC Core §3.1.2.1)
	// claimsLocales are the languages of localized claims (OIDC Core §5.2).
	claimsLocales string
	challenge     string
	method        string
	claims        string
	hintSub       string     // the subject of a verified id_token_hint
	dpopJKT       string     // RFC 9449 §10 dpop_jkt, when DPoP is on
	resources     []string   // RFC 8707 resource indicators, allowed for the client
	params        url.Values // every parameter as received (only resource repeats)
	// requestURI is the /par request_uri the request came from, if any:
	// then params hold only client_id and request_uri (RFC 9126 §4). With a
	// request object, params hold what the browser sent (request or
	// request_uri), verified again on every step.
	requestURI string
	// effective are the parameters the request was decided on (after /par
	// and request objects).
	effective url.Values
}

// redirectError is an error delivered to a trusted redirect URI.
type redirectError struct {
	e   *Error
	req *authRequest
}

func (r *redirectError) Error() string { return r.e.Error() }
func (r *redirectError) Unwrap() error { return r.e }

// authParams reads the request's parameters: the query for GET, the form body
// for POST (OIDC Core §3.1.2.1).
// Both are bounded (SECURITY L6): over a limit is a 400 page.
func authParams(r *http.Request) (url.Values, *Error) {
	if queryTooLong(r) {
		return nil, newErr(errInvalidRequest, "The query string is longer than %d bytes.", MaxQueryBytes)
	}
	params := r.URL.Query()
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(nil, r.Body, MaxFormBytes)
		if err := r.ParseForm(); err != nil {
			return nil, newErr(errInvalidRequest, "The request body could not be read, or is longer than %d bytes.", MaxFormBytes)
		}
		params = r.PostForm
	}
	if e := checkLimits(params); e != nil {
		return nil, e
	}
	return params, nil
}

// parseAuthRequest validates in the order OIDC Core §3.1.2.2 and RFC 6749
// §4.1.2.1 require: while client_id and redirect_uri are not trusted, errors
// are shown on a page (*Error); afterwards they go to the redirect URI
// (*redirectError).
// pushing is true at /par, where the request is checked before it is stored.
func (p *Provider) parseAuthRequest(ctx context.Context, params url.Values, pushing bool) (*authRequest, error) {
	for _, k := range []string{"client_id", "redirect_uri", "request_uri"} {
		if len(params[k]) > 1 {
			return nil, newErr(errInvalidRequest, "The %s parameter was sent more than once.", k)
		}
	}
	var carry url.Values
	if !pushing && strings.HasPrefix(params.Get("request_uri"), requestURIPrefix) {
		pushed, c, err := p.pushedParams(ctx, params)
		if err != nil {
			return nil, err
		}
		params, carry = pushed, c
	}
	clientID := params.Get("client_id")
	if clientID == "" {
		return nil, newErr(errInvalidRequest, "The client_id parameter is missing.")
	}
	client, err := p.client(ctx, clientID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, newErr(errInvalidClient, "The client is not registered.")
	} else if err != nil {
		return nil, err
	}
	// Request objects (OIDC Core §6, RFC 9101), before anything else is
	// read: the object's values take precedence. When the object cannot be
	// used, the error goes to the query's redirect URI if that is
	// registered, otherwise on a page.
	var jarErr *Error
	if params.Has("request") || (carry == nil && params.Get("request_uri") != "") {
		front := params
		merged, err := p.requestObjectParams(ctx, client, front)
		switch e := asError(err); {
		case err == nil:
			params = merged
			if carry == nil && !pushing {
				carry = url.Values{}
				for k, v := range front {
					carry[k] = slices.Clone(v)
				}
			}
		case e.status() >= 500:
			return nil, err
		default:
			jarErr = e
			params = url.Values{}
			for k, v := range front {
				if k != "request" && k != "request_uri" {
					params[k] = v
				}
			}
		}
	}
	redirectURI := params.Get("redirect_uri")
	if redirectURI == "" || !redirectURIAllowed(client.RedirectURIs, redirectURI) {
		if jarErr != nil {
			return nil, jarErr
		}
		if redirectURI == "" {
			return nil, newErr(errInvalidRequest, "The redirect_uri parameter is missing.")
		}
		return nil, newErr(errInvalidRequest, "The redirect_uri is not registered for this client.")
	}

	req := &authRequest{client: client, redirectURI: redirectURI, maxAge: -1, params: url.Values{}}
	for k, v := range params {
		req.params[k] = slices.Clone(v)
	}
	req.state = params.Get("state")
	fail := func(code, format string, args ...any) error {
		return &redirectError{e: newErr(code, format, args...), req: req}
	}
	// The response mode decides where even errors go, so find it first.
	rt, rtOK := parseResponseType(params.Get("response_type"))
	req.responseType = rt
	req.responseMode = "query"
	if rtOK && rt.frontChannelTokens() {
		req.responseMode = "fragment"
	}
	switch m := params.Get("response_mode"); m {
	case "":
	case "query", "fragment", "form_post":
		if m == "query" && rtOK && rt.frontChannelTokens() {
			// OAuth 2.0 Multiple Response Types §5: tokens never in the query.
			return nil, fail(errInvalidRequest, "response_mode=query is not allowed when tokens are returned.")
		}
		req.responseMode = m
	default:
		return nil, fail(errInvalidRequest, "Unsupported response_mode %q.", m)
	}
	for k, v := range params {
		if len(v) > 1 && k != "resource" {
			// SECURITY L2; resource may repeat (RFC 8707 §2).
			return nil, fail(errInvalidRequest, "The %s parameter was sent more than once.", k)
		}
	}
	if jarErr != nil {
		return nil, &redirectError{e: jarErr, req: req}
	}
	req.effective = params
	if carry != nil {
		if strings.HasPrefix(carry.Get("request_uri"), requestURIPrefix) {
			req.requestURI = carry.Get("request_uri")
		}
		req.params = carry
	}
	if req.requestURI == "" && !pushing && (p.cfg.RequirePAR || client.RequirePushedAuthorizationRequests) {
		// RFC 9126 §5, §6
		return nil, fail(errInvalidRequest, "This client must push its authorization requests (pushed authorization request endpoint).")
	}
	if params.Get("response_type") == "" {
		return nil, fail(errUnsupportedResponseType, "The response_type parameter is missing.")
	}
	if !rtOK {
		return nil, fail(errUnsupportedResponseType, "The response_type %q is not supported.", params.Get("response_type"))
	}
	if !slices.Contains(client.ResponseTypes, rt.canonical) {
		return nil, fail(errUnauthorizedClient, "The client may not use response_type %q.", rt.canonical)
	}

	req.scope = parseScope(params.Get("scope"))
	openid := req.scope.has("openid")
	if rt.idToken && !openid {
		return nil, fail(errInvalidScope, "The openid scope is required when an ID token is requested.")
	}
	if len(req.scope) == 0 {
		return nil, fail(errInvalidScope, "The scope parameter is missing.")
	}
	for _, s := range req.scope {
		if !p.scopeAllowed(client, s) {
			return nil, fail(errInvalidScope, "The scope %q is not available to this client.", s)
		}
	}

	// RFC 8707 §2: the resources the tokens are for.
	res, e := p.requestedResources(client, params["resource"])
	if e != nil {
		return nil, &redirectError{e: e, req: req}
	}
	req.resources = res

	req.nonce = params.Get("nonce")
	if openid && rt.frontChannelTokens() && req.nonce == "" {
		// OIDC Core §3.2.2.1, §3.3.2.11
		return nil, fail(errInvalidRequest, "The nonce parameter is required for this response_type.")
	}

	for _, v := range strings.Fields(params.Get("prompt")) {
		switch v {
		case "none", "login", "consent", "select_account":
			if !slices.Contains(req.prompt, v) {
				req.prompt = append(req.prompt, v)
			}
		default:
			return nil, fail(errInvalidRequest, "Unsupported prompt value %q.", v)
		}
	}
	if slices.Contains(req.prompt, "none") && len(req.prompt) > 1 {
		// OIDC Core §3.1.2.1
		return nil, fail(errInvalidRequest, "prompt=none cannot be combined with other values.")
	}
	if v := params.Get("max_age"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, fail(errInvalidRequest, "max_age must be a non-negative integer.")
		}
		req.maxAge = n
	}
	req.loginHint = params.Get("login_hint")
	req.uiLocales = params.Get("ui_locales")
	req.claimsLocales = normalizeLocales(params.Get("claims_locales"))
	if v := params.Get("dpop_jkt"); v != "" && p.dpop != nil {
		// RFC 9449 §10: the code's tokens will be bound to this key.
		if !jktPattern.MatchString(v) {
			return nil, fail(errInvalidRequest, "dpop_jkt must be a base64url SHA-256 JWK thumbprint.")
		}
		req.dpopJKT = v
	}
	if req.claims, err = parseClaimsRequest(params.Get("claims")); err != nil {
		return nil, fail(errInvalidRequest, "%s", err.Error())
	}
	if err := p.checkIDTokenHint(req); err != nil {
		return nil, fail(errInvalidRequest, "%s", err.Error())
	}

	// PKCE (RFC 7636 §4.3, §4.4.1); public clients must use it (SECURITY C2).
	req.challenge = params.Get("code_challenge")
	req.method = params.Get("code_challenge_method")
	if req.challenge != "" {
		if req.method == "" {
			req.method = "plain"
		}
		if req.method != "S256" && req.method != "plain" {
			return nil, fail(errInvalidRequest, "Unsupported code_challenge_method %q.", req.method)
		}
		if !validVerifier(req.challenge) {
			return nil, fail(errInvalidRequest, "The code_challenge is malformed.")
		}
	} else if req.method != "" {
		return nil, fail(errInvalidRequest, "code_challenge_method was sent without code_challenge.")
	}
	if rt.code && client.Type == storage.Public && req.challenge == "" {
		return nil, fail(errInvalidRequest, "Public clients must use PKCE (code_challenge).")
	}
	return req, nil
}

// scopeAllowed: a client with a registered scope may ask for nothing else,
// on every grant path (SECURITY L4; docs/security.md). A client registered
// without one keeps django-oidc-provider's behaviour: standard and
// configured scopes are open to it.
func (p *Provider) scopeAllowed(c *storage.Client, s string) bool {
	if len(c.Scope) > 0 {
		return slices.Contains(c.Scope, s)
	}
	_, ok := p.scope(s)
	return ok
}

// redirectURIAllowed matches exactly (SECURITY A1). Only for registered
// http loopback IP URIs may the port differ (RFC 8252 §7.3; SECURITY A2).
func redirectURIAllowed(registered []string, uri string) bool {
	if slices.Contains(registered, uri) {
		return true
	}
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "http" || !isLoopbackIP(u.Hostname()) {
		return false
	}
	for _, reg := range registered {
		ru, err := url.Parse(reg)
		if err != nil || ru.Scheme != "http" || !isLoopbackIP(ru.Hostname()) {
			continue
		}
		if ru.Hostname() == u.Hostname() && ru.User == nil && u.User == nil &&
			ru.EscapedPath() == u.EscapedPath() && ru.RawQuery == u.RawQuery && u.Fragment == "" && !u.ForceQuery {
			return true
		}
	}
	return false
}

func isLoopbackIP(h string) bool {
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// validVerifier checks RFC 7636 §4.1's syntax (also used for challenges).
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for _, c := range v {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '.', c == '_', c == '~':
		default:
			return false
		}
	}
	return true
}

// authorize is the authorization endpoint (OIDC Core §3.1.2). POSTs carrying
// consent_csrf are answers from the consent page.
func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	params, perr := authParams(r)
	if perr != nil {
		p.errorPage(w, r, perr)
		return
	}
	consent := r.Method == http.MethodPost && params.Has(consentField)
	var csrf, allow string
	if consent {
		csrf, allow = params.Get(consentField), params.Get("allow")
		params = withoutConsentFields(params)
	}
	req, err := p.parseAuthRequest(r.Context(), params, false)
	if err != nil {
		p.authError(w, r, err)
		return
	}
	user, err := p.cfg.Users.CurrentUser(r)
	if err != nil {
		p.authError(w, r, &redirectError{e: asError(err), req: req})
		return
	}
	if consent {
		p.consentAnswer(w, r, req, user, csrf, allow != "")
		return
	}
	p.authorizeUser(w, r, req, user)
}

// authorizeUser decides between login, consent and an immediate response.
func (p *Provider) authorizeUser(w http.ResponseWriter, r *http.Request, req *authRequest, user *User) {
	none := slices.Contains(req.prompt, "none")
	wrongUser, err := p.otherThanHinted(r.Context(), req, user)
	if err != nil {
		p.authError(w, r, &redirectError{e: asError(err), req: req})
		return
	}
	if user == nil || wrongUser || p.needsFreshLogin(req, user) {
		if none {
			// OIDC Core §3.1.2.6; prompt=none never renders a page (SECURITY F6).
			p.authError(w, r, &redirectError{e: newErr(errLoginRequired, "The user is not logged in."), req: req})
			return
		}
		p.redirectToLogin(w, r, req)
		return
	}
	if h := p.cfg.Hooks.AfterLogin; h != nil {
		handled, err := h(w, r, AfterLoginArgs{User: user, Client: req.client, Next: p.authorizeURL(req.params)})
		if err != nil {
			p.authError(w, r, &redirectError{e: asError(err), req: req})
			return
		}
		if handled {
			return
		}
	}
	skip, err := p.canSkipConsent(r.Context(), req, user)
	if err != nil {
		p.authError(w, r, &redirectError{e: asError(err), req: req})
		return
	}
	if skip {
		p.respond(w, r, req, user)
		return
	}
	if none {
		p.authError(w, r, &redirectError{e: newErr(errConsentRequired, "The user has not consented."), req: req})
		return
	}
	p.consentPage(w, r, req, user)
}

// otherThanHinted reports whether a logged-in user is not the subject of
// the request's id_token_hint (OIDC Core §3.1.2.1): then the user must log
// in again, or with prompt=none the answer is login_required.
func (p *Provider) otherThanHinted(ctx context.Context, req *authRequest, user *User) (bool, error) {
	if req.hintSub == "" || user == nil {
		return false, nil
	}
	sub, err := p.subject(ctx, user.ID, req.client)
	if err != nil {
		return false, err
	}
	return sub != req.hintSub, nil
}

// freshParam marks a request sent to the login page because it demanded a
// new login (prompt=login, max_age, select_account): once the user has logged
// in after the marked time, the demand is met and the request does not loop.
// The marker is a MAC over its time, the client and every other parameter of
// the request, and is honoured for freshLifetime only, for a login made in
// that time: it cannot be carried to another request or replayed later
// (docs/security.md "Authorization requests").
const freshParam = "oidcd_fresh"

// freshLifetime is how long a user has to log in after being sent to the
// login page for a fresh login.
const freshLifetime = 10 * time.Minute

func (p *Provider) needsFreshLogin(req *authRequest, user *User) bool {
	if since, ok := p.freshSince(req); ok && !user.AuthTime.Before(since) && !user.AuthTime.After(since.Add(freshLifetime)) {
		return false
	}
	if slices.Contains(req.prompt, "login") || slices.Contains(req.prompt, "select_account") {
		return true
	}
	if req.maxAge >= 0 && p.now().Sub(user.AuthTime) > time.Duration(req.maxAge)*time.Second {
		return true
	}
	return false
}

// freshSince reads a valid, MAC-protected, unexpired fresh marker made for
// this very request.
func (p *Provider) freshSince(req *authRequest) (time.Time, bool) {
	v := req.params.Get(freshParam)
	ts, macB64, ok := strings.Cut(v, ".")
	if !ok {
		return time.Time{}, false
	}
	mac, err := base64.RawURLEncoding.DecodeString(macB64)
	if err != nil || !p.cfg.Sealer.VerifyMAC(mac, "fresh", ts, req.client.ID, freshBinding(req.params)) {
		return time.Time{}, false
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	since := time.Unix(sec, 0)
	if p.now().Sub(since) > freshLifetime {
		return time.Time{}, false
	}
	return since, true
}

// freshBinding is the digest of every parameter of the request but the
// marker itself, in canonical (sorted) order.
func freshBinding(params url.Values) string {
	rest := url.Values{}
	for k, v := range params {
		if k != freshParam {
			rest[k] = v
		}
	}
	return string(digest(rest.Encode()))
}

// makeFreshMarker is the marker for a request sent to log in now.
func (p *Provider) makeFreshMarker(req *authRequest) string {
	ts := strconv.FormatInt(p.now().Add(-time.Second).Unix(), 10)
	return ts + "." + base64.RawURLEncoding.EncodeToString(p.cfg.Sealer.MAC("fresh", ts, req.client.ID, freshBinding(req.params)))
}

// redirectToLogin sends the browser to the login URL with the request in
// "next", a local path (SECURITY A8).
func (p *Provider) redirectToLogin(w http.ResponseWriter, r *http.Request, req *authRequest) {
	next := url.Values{}
	for k, v := range req.params {
		next[k] = v
	}
	if slices.Contains(req.prompt, "login") || slices.Contains(req.prompt, "select_account") || req.maxAge >= 0 {
		next.Set(freshParam, p.makeFreshMarker(req))
	}
	login, err := url.Parse(p.cfg.LoginURL)
	if err != nil {
		p.authError(w, r, &redirectError{e: asError(err), req: req})
		return
	}
	q := login.Query()
	q.Set("next", p.authorizeURL(next))
	if req.loginHint != "" {
		q.Set("login_hint", req.loginHint)
	}
	if req.uiLocales != "" {
		q.Set("ui_locales", req.uiLocales) // the login page's language
	}
	if slices.Contains(req.prompt, "select_account") {
		q.Set("prompt", "select_account")
	}
	login.RawQuery = q.Encode()
	redirect(w, r, login.String())
}

// authorizeURL is the local path of the authorization endpoint with params.
func (p *Provider) authorizeURL(params url.Values) string {
	return p.issuerURL.EscapedPath() + PathAuthorize + "?" + params.Encode()
}

// redirect answers GETs with 302 and POSTs with 303 (SECURITY A9).
func redirect(w http.ResponseWriter, r *http.Request, to string) {
	status := http.StatusFound
	if r.Method == http.MethodPost {
		status = http.StatusSeeOther
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, to, status)
}

// authError shows page errors on a page and sends redirect errors to the
// client (RFC 6749 §4.1.2.1).
func (p *Provider) authError(w http.ResponseWriter, r *http.Request, err error) {
	var re *redirectError
	if !errors.As(err, &re) {
		p.errorPage(w, r, asError(err))
		return
	}
	p.logError(r, re.e)
	params := url.Values{"error": {re.e.Code}}
	if re.e.Description != "" {
		params.Set("error_description", re.e.Description)
	}
	p.writeAuthResponse(w, r, re.req, params)
}

// errorPage renders error.html (never a redirect: SECURITY A3).
func (p *Provider) errorPage(w http.ResponseWriter, r *http.Request, e *Error) {
	p.logError(r, e)
	status := e.status()
	setRetryAfter(w, e)
	// The request id a host's middleware set on the response (the oidcd
	// server does), so that a user can quote it to an operator.
	lang := p.pageLanguage(r.Context(), r, requestUILocales(r), nil)
	text := errorTextOf(e.Code)
	data := ErrorPage{
		Error: e.Code, Description: e.Description, RequestID: w.Header().Get("X-Request-Id"),
		Title: p.pages.T(lang, text.title), Message: p.pages.T(lang, text.message),
	}
	if err := p.pages.RenderLang(w, lang, status, "error.html", data, ""); err != nil {
		p.log.ErrorContext(r.Context(), "render error page", "err", err)
	}
}

// writeAuthResponse delivers params (a success or an error) to the redirect
// URI in the request's response mode, adding state and iss (RFC 9207).
func (p *Provider) writeAuthResponse(w http.ResponseWriter, r *http.Request, req *authRequest, params url.Values) {
	if req.state != "" {
		params.Set("state", req.state)
	}
	params.Set("iss", p.cfg.Issuer)
	switch req.responseMode {
	case "form_post":
		p.formPost(w, p.pageLanguage(r.Context(), r, req.uiLocales, nil), req.redirectURI, params)
	case "fragment":
		u := req.redirectURI
		if i := strings.IndexByte(u, '#'); i >= 0 {
			u = u[:i]
		}
		redirect(w, r, u+"#"+params.Encode())
	default:
		u, _ := url.Parse(req.redirectURI) // parsed at registration
		q := u.Query()
		for k, v := range params {
			q[k] = v
		}
		u.RawQuery = q.Encode()
		redirect(w, r, u.String())
	}
}

// formPost renders the OAuth 2.0 Form Post Response Mode page: a form that
// submits itself with a nonce-bound script (no unsafe-inline).
func (p *Provider) formPost(w http.ResponseWriter, lang, action string, params url.Values) {
	type field struct{ Name, Value string }
	var fields []field
	for k, v := range params {
		fields = append(fields, field{k, v[0]})
	}
	slices.SortFunc(fields, func(a, b field) int { return strings.Compare(a.Name, b.Name) })
	nonce := newID()
	csp := fmt.Sprintf("default-src 'none'; script-src 'nonce-%s'; style-src 'self'; form-action %s; frame-ancestors 'none'; base-uri 'none'", nonce, formActionSource(action))
	data := struct {
		Action string
		Fields []field
		Nonce  string
	}{action, fields, nonce}
	if err := p.pages.RenderLang(w, lang, http.StatusOK, "form_post.html", data, csp); err != nil {
		p.log.Error("render form_post", "err", err)
	}
}

// formActionSource is the CSP source allowing a form to post to uri.
func formActionSource(uri string) string {
	u, err := url.Parse(uri)
	if err != nil || u.Host == "" {
		return "'none'"
	}
	return u.Scheme + "://" + u.Host
}
