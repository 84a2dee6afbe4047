package op

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/oidcd/oidcd/storage"
)

// The device authorization grant (RFC 8628): a device without a browser
// asks /device_authorization for a device code and a user code, shows the
// user code and the verification URI, and polls the token endpoint while
// the user enters the code at /device on another screen, signs in and
// consents.

// GrantTypeDeviceCode is the device grant's grant_type (RFC 8628 §3.4). A
// client may use the grant only when its GrantTypes list it.
const GrantTypeDeviceCode = "urn:ietf:params:oauth:grant-type:device_code"

// userCodeAlphabet is RFC 8628 §6.1's example character set: consonants
// only (no vowels, so no words), none that is easily mistaken for another.
const userCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"

// userCodeLen characters of a 20-letter alphabet: 20^8 ≈ 2^34.5 codes,
// which RFC 8628 §6.1 deems enough with rate-limited guessing (§5.1).
const userCodeLen = 8

// slowDownStep is RFC 8628 §3.5's increase of the interval on slow_down.
const slowDownStep = 5 * time.Second

// newUserCode draws a user code uniformly from the alphabet.
func newUserCode() string {
	var b strings.Builder
	buf := make([]byte, 1)
	for b.Len() < userCodeLen {
		rand.Read(buf)
		// 240 is the largest multiple of 20 below 256: no modulo bias.
		if buf[0] < 240 {
			b.WriteByte(userCodeAlphabet[int(buf[0])%len(userCodeAlphabet)])
		}
	}
	return b.String()
}

// formatUserCode shows a code as XXXX-XXXX, easier to read and type.
func formatUserCode(code string) string {
	if len(code) != userCodeLen {
		return code
	}
	return code[:4] + "-" + code[4:]
}

// normalizeUserCode accepts what a user may type: any case, with or
// without the dash or spaces. ok is false when what remains cannot be a
// user code (RFC 8628 §6.1).
func normalizeUserCode(s string) (string, bool) {
	if len(s) > 64 {
		return "", false
	}
	var b strings.Builder
	for _, c := range strings.ToUpper(s) {
		switch {
		case c == '-' || c == ' ' || c == '\t':
		case c < 128 && strings.IndexByte(userCodeAlphabet, byte(c)) >= 0:
			b.WriteRune(c)
		default:
			return "", false
		}
	}
	code := b.String()
	return code, len(code) == userCodeLen
}

// userCodeDigest is how user codes are stored: a MAC under the system key
// rather than a plain digest, so that a database dump cannot be searched
// for the few billion possible codes (SECURITY M1).
func (p *Provider) userCodeDigest(code string) []byte {
	return p.cfg.Sealer.MAC("user-code", code)
}

// deviceAuthorization is the device authorization endpoint (RFC 8628 §3.1,
// §3.2). Clients authenticate as at the token endpoint; public clients send
// client_id.
func (p *Provider) deviceAuthorization(w http.ResponseWriter, r *http.Request) {
	form, client, ok := p.clientRequest(w, r)
	if !ok {
		return
	}
	if clientMayUse(client, GrantTypeDeviceCode) != nil {
		p.writeJSONError(w, r, newErr(errUnauthorizedClient, "The client may not use the device authorization grant."))
		return
	}
	scope := parseScope(form.Get("scope"))
	for _, s := range scope {
		if !p.scopeAllowed(client, s) {
			p.writeJSONError(w, r, newErr(errInvalidScope, "The scope %q is not available to this client.", s))
			return
		}
	}
	resources, e := p.requestedResources(client, form["resource"])
	if e != nil {
		p.writeJSONError(w, r, e)
		return
	}
	now := p.now()
	deviceCode := newSecret()
	d := &storage.DeviceAuth{
		DeviceCodeHash: digest(deviceCode), ClientID: client.ID, Scope: scope, Resources: resources,
		Status: storage.DevicePending, GrantID: newGrantID(now), Interval: p.cfg.DevicePollInterval,
		CreatedAt: now, ExpiresAt: now.Add(p.cfg.DeviceCodeExpire),
	}
	var userCode string
	var err error
	for attempt := 0; ; attempt++ {
		userCode = newUserCode()
		d.UserCodeHash = p.userCodeDigest(userCode)
		err = p.store.CreateDeviceAuth(r.Context(), d)
		// A live user code drawn twice: draw again (RFC 8628 §6.1).
		if !errors.Is(err, storage.ErrAlreadyExists) || attempt == 4 {
			break
		}
	}
	if err != nil {
		p.writeJSONError(w, r, err)
		return
	}
	shown := formatUserCode(userCode)
	writeJSON(w, http.StatusOK, map[string]any{
		"device_code":               deviceCode,
		"user_code":                 shown,
		"verification_uri":          p.endpoint(PathDevice),
		"verification_uri_complete": p.endpoint(PathDevice) + "?" + url.Values{"user_code": {shown}}.Encode(),
		"expires_in":                int(p.cfg.DeviceCodeExpire / time.Second),
		"interval":                  int((p.cfg.DevicePollInterval + time.Second - 1) / time.Second),
	})
}

// grantDeviceCode is the device access token request (RFC 8628 §3.4, §3.5).
func (p *Provider) grantDeviceCode(r *http.Request, form url.Values, c *storage.Client) (*tokenResponse, error) {
	code := form.Get("device_code")
	if code == "" {
		return nil, newErr(errInvalidRequest, "The device_code parameter is missing.")
	}
	ctx := r.Context()
	now := p.now()
	hash := digest(code)
	d, tooSoon, err := p.store.PollDeviceAuth(ctx, hash, now)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, newErr(errInvalidGrant, "The device code is invalid or expired.")
	} else if err != nil {
		return nil, err
	}
	switch {
	case d.ClientID != c.ID:
		return nil, newErr(errInvalidGrant, "The device code was issued to another client.")
	case !d.ConsumedAt.IsZero():
		return nil, newErr(errInvalidGrant, "The device code was already used.")
	case !now.Before(d.ExpiresAt):
		return nil, newErr(errExpiredToken, "The device code has expired; start again.")
	case d.Status == storage.DeviceDenied:
		return nil, newErr(errAccessDenied, "The user denied the request.")
	case d.Status == storage.DevicePending && tooSoon:
		return nil, newErr(errSlowDown, "Polling too often; wait at least %d seconds between requests.", int(d.Interval/time.Second))
	case d.Status == storage.DevicePending:
		return nil, newErr(errAuthorizationPending, "The user has not yet finished the authorization.")
	}
	audience, e := p.tokenResources(c, form["resource"], d.Resources)
	if e != nil {
		return nil, e
	}
	grant := &storage.Grant{
		ID: d.GrantID, ClientID: c.ID, UserID: d.UserID, SessionID: d.SessionID, Scope: d.Scope,
		AuthTime: d.AuthTime, CreatedAt: now, ExpiresAt: now.Add(p.cfg.RefreshTokenExpire),
		Resources: d.Resources,
	}
	resp, toks, err := p.mintTokens(r, c, grant, d.Scope, "", true, audience)
	if err != nil {
		return nil, err
	}
	// One redemption wins across nodes (SECURITY L5).
	_, err = p.store.ConsumeDeviceAuth(ctx, hash, now, grant, toks...)
	switch {
	case errors.Is(err, storage.ErrReused):
		p.log.Warn("device code redeemed twice", "client_id", c.ID)
		return nil, newErr(errInvalidGrant, "The device code was already used.")
	case errors.Is(err, storage.ErrNotFound):
		return nil, newErr(errInvalidGrant, "The device code is invalid or expired.")
	case err != nil:
		return nil, err
	}
	return resp, nil
}

// The verification pages (RFC 8628 §3.3): enter the code, sign in, consent
// naming the device's client, done.

// DevicePage is the context of the device.html template.
type DevicePage struct {
	// Step is "enter" (the code form), "consent", "approved" or "denied".
	Step     string
	Action   string // where the forms post
	CSRF     string // the hidden device_csrf value of the code form
	UserCode string // as typed (enter) or formatted (consent)
	Error    string
	// UILocales is the ui_locales the page was opened with, carried by
	// its forms so that the next page keeps the language.
	UILocales string
	// Client and Scopes are set on the consent step.
	Client      *storage.Client
	Scopes      []ScopeInfo
	ConsentCSRF string
	// Resources are the resources (RFC 8707) the device's tokens will be
	// for, on the consent step; empty when it named none.
	Resources []string
	// Logo is the local URL of the client's logo, "" without one.
	Logo string
}

// Form fields and cookie of the verification pages.
const (
	deviceCSRFField    = "device_csrf"
	deviceConsentField = "consent_csrf"
	deviceCookie       = "oidcd_device"
	deviceVerifiedArg  = "verified" // marks a code checked before login
)

const (
	msgDeviceBadCode   = "That code is not valid, or it has expired or been used. Check the code on your device and try again."
	msgDeviceThrottled = "Too many wrong codes. Please wait a few minutes and try again."
	msgDeviceBadCSRF   = "This form has expired or was not sent from this site. Please try again."
)

// device serves the verification URI.
func (p *Provider) device(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
		if err := r.ParseForm(); err != nil {
			p.errorPage(w, r, newErr(errInvalidRequest, "The request body could not be read."))
			return
		}
		if r.PostForm.Has(deviceConsentField) {
			p.deviceConsentAnswer(w, r)
			return
		}
		p.deviceEnter(w, r)
		return
	}
	q := r.URL.Query()
	typed := q.Get("user_code")
	if len(typed) > 64 {
		typed = ""
	}
	// Back from the login page with a code checked before it: consent.
	if code, ok := p.verifiedCode(q); ok {
		user, err := p.cfg.Users.CurrentUser(r)
		if err != nil {
			p.errorPage(w, r, asError(err))
			return
		}
		if user != nil {
			d, err := p.store.DeviceAuthByUserCode(r.Context(), p.userCodeDigest(code), p.now())
			switch {
			case err == nil && d.Status == storage.DevicePending:
				p.deviceConsentPage(w, r, d, code, user)
				return
			case err != nil && !errors.Is(err, storage.ErrNotFound):
				p.errorPage(w, r, asError(err))
				return
			}
			p.deviceForm(w, r, http.StatusOK, typed, msgDeviceBadCode)
			return
		}
	}
	p.deviceForm(w, r, http.StatusOK, typed, "")
}

// deviceForm renders the code form. Its CSRF token is a double-submit
// cookie whose MAC is the hidden field: the form precedes any login, so
// there is no session to bind it to (SECURITY F1).
func (p *Provider) deviceForm(w http.ResponseWriter, r *http.Request, status int, typed, msg string) {
	token := ""
	if c, err := r.Cookie(deviceCookie); err == nil && len(c.Value) >= 20 && len(c.Value) <= 64 {
		token = c.Value
	} else {
		token = newID()
		http.SetCookie(w, &http.Cookie{
			Name: deviceCookie, Value: token, Path: p.issuerURL.EscapedPath() + PathDevice,
			HttpOnly: true, Secure: p.issuerURL.Scheme == "https", SameSite: http.SameSiteLaxMode,
		})
	}
	page := DevicePage{
		Step: "enter", Action: p.issuerURL.EscapedPath() + PathDevice, UserCode: typed, Error: msg, UILocales: requestUILocales(r),
		CSRF: base64.RawURLEncoding.EncodeToString(p.cfg.Sealer.MAC("device-form", token)),
	}
	// Before login there is no user to ask for a locale claim.
	lang := p.pageLanguage(r.Context(), r, requestUILocales(r), nil)
	if page.Error != "" {
		page.Error = p.pages.T(lang, page.Error)
	}
	p.renderDevice(w, lang, status, page)
}

func (p *Provider) renderDevice(w http.ResponseWriter, lang string, status int, page DevicePage) {
	page.Logo = p.logoPath(page.Client)
	if err := p.pages.RenderLang(w, lang, status, "device.html", page, ""); err != nil {
		p.log.Error("render device page", "err", err)
	}
}

// userCodeThrottleKey counts wrong user codes per client IP (RFC 8628 §5.1),
// keyed by a MAC so that the database holds no client IPs (SECURITY L7).
func (p *Provider) userCodeThrottleKey(ip string) string {
	return "user_code|" + base64.RawURLEncoding.EncodeToString(p.cfg.Sealer.MAC("throttle", "user_code", ip))
}

// deviceEnter checks a typed user code (POST of the code form).
func (p *Provider) deviceEnter(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	typed := r.PostForm.Get("user_code")
	if len(typed) > 64 {
		typed = ""
	}
	c, err := r.Cookie(deviceCookie)
	if err != nil || !p.cfg.Sealer.VerifyMAC(decodeB64(r.PostForm.Get(deviceCSRFField)), "device-form", c.Value) {
		p.log.InfoContext(ctx, "device code form refused: bad CSRF token")
		p.deviceForm(w, r, http.StatusForbidden, typed, msgDeviceBadCSRF)
		return
	}
	// Guessing is rate-limited per client IP, in storage so that every node
	// counts (RFC 8628 §5.1; SECURITY M5). Over the limit, codes are refused
	// unchecked.
	now := p.now()
	ip := p.cfg.ClientIP(r)
	key := p.userCodeThrottleKey(ip)
	since := now.Add(-p.cfg.UserCodeFailureWindow)
	n, err := p.store.Failures(ctx, key, since)
	if err != nil {
		p.errorPage(w, r, asError(err))
		return
	}
	if n >= p.cfg.UserCodeMaxFailures {
		p.log.WarnContext(ctx, "user code guessing throttled", "ip", ip)
		w.Header().Set("Retry-After", strconv.Itoa(int((p.cfg.UserCodeFailureWindow+time.Second-1)/time.Second)))
		p.deviceForm(w, r, http.StatusTooManyRequests, typed, msgDeviceThrottled)
		return
	}
	code, ok := normalizeUserCode(typed)
	var d *storage.DeviceAuth
	if ok {
		d, err = p.store.DeviceAuthByUserCode(ctx, p.userCodeDigest(code), now)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			p.errorPage(w, r, asError(err))
			return
		}
	}
	if d == nil || d.Status != storage.DevicePending {
		if _, err := p.store.AddFailure(ctx, key, now, since); err != nil {
			p.errorPage(w, r, asError(err))
			return
		}
		p.log.InfoContext(ctx, "wrong user code", "ip", ip)
		p.deviceForm(w, r, http.StatusBadRequest, typed, msgDeviceBadCode)
		return
	}
	user, err := p.cfg.Users.CurrentUser(r)
	if err != nil {
		p.errorPage(w, r, asError(err))
		return
	}
	if user == nil {
		p.deviceLogin(w, r, code)
		return
	}
	p.deviceConsentPage(w, r, d, code, user)
}

// deviceLogin sends the browser to the login page, to come back to the
// consent step with the code marked as checked (so that it is neither
// typed nor counted again).
func (p *Provider) deviceLogin(w http.ResponseWriter, r *http.Request, code string) {
	ts := strconv.FormatInt(p.now().Unix(), 10)
	mac := base64.RawURLEncoding.EncodeToString(p.cfg.Sealer.MAC("device-verified", code, ts))
	nq := url.Values{"user_code": {formatUserCode(code)}, deviceVerifiedArg: {ts + "." + mac}}
	ui := boundedUILocales(requestUILocales(r))
	if ui != "" {
		nq.Set("ui_locales", ui) // the pages keep their language
	}
	next := p.issuerURL.EscapedPath() + PathDevice + "?" + nq.Encode()
	login, err := url.Parse(p.cfg.LoginURL)
	if err != nil {
		p.errorPage(w, r, asError(err))
		return
	}
	lq := login.Query()
	lq.Set("next", next)
	if ui != "" {
		lq.Set("ui_locales", ui)
	}
	login.RawQuery = lq.Encode()
	redirect(w, r, login.String())
}

// verifiedCode returns the code of a valid, unexpired "checked" marker.
func (p *Provider) verifiedCode(q url.Values) (string, bool) {
	code, ok := normalizeUserCode(q.Get("user_code"))
	ts, mac, found := strings.Cut(q.Get(deviceVerifiedArg), ".")
	if !ok || !found || !p.cfg.Sealer.VerifyMAC(decodeB64(mac), "device-verified", code, ts) {
		return "", false
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || p.now().Sub(time.Unix(sec, 0)) > p.cfg.DeviceCodeExpire {
		return "", false
	}
	return code, true
}

// deviceConsentCSRF binds the consent form to the browser session, the
// user and the code (SECURITY F1).
func (p *Provider) deviceConsentCSRF(user *User, code string) string {
	return base64.RawURLEncoding.EncodeToString(p.cfg.Sealer.MAC("device-consent", sessionOf(user), user.ID, code))
}

// deviceConsentPage names the device's client, its scopes and the code, so
// that the user can check it is the one on the device (RFC 8628 §5.4).
func (p *Provider) deviceConsentPage(w http.ResponseWriter, r *http.Request, d *storage.DeviceAuth, code string, user *User) {
	client, err := p.client(r.Context(), d.ClientID)
	if err != nil {
		p.errorPage(w, r, asError(err))
		return
	}
	lang := p.pageLanguage(r.Context(), r, requestUILocales(r), user)
	var scopes []ScopeInfo
	for _, s := range d.Scope {
		scopes = append(scopes, p.scopeInfo(lang, s))
	}
	p.renderDevice(w, lang, http.StatusOK, DevicePage{
		Step: "consent", Action: p.issuerURL.EscapedPath() + PathDevice, UserCode: formatUserCode(code),
		Client: client, Scopes: scopes, ConsentCSRF: p.deviceConsentCSRF(user, code), Resources: d.Resources,
		UILocales: requestUILocales(r),
	})
}

// deviceConsentAnswer records the user's decision (POST of the consent form).
func (p *Provider) deviceConsentAnswer(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	code, ok := normalizeUserCode(r.PostForm.Get("user_code"))
	user, err := p.cfg.Users.CurrentUser(r)
	if err != nil {
		p.errorPage(w, r, asError(err))
		return
	}
	if !ok || user == nil || !p.cfg.Sealer.VerifyMAC(decodeB64(r.PostForm.Get(deviceConsentField)), "device-consent", sessionOf(user), user.ID, code) {
		e := newErr(errAccessDenied, "The consent form has expired or was not sent from this browser. Please start again.")
		e.Status = http.StatusForbidden
		p.errorPage(w, r, e)
		return
	}
	now := p.now()
	hash := p.userCodeDigest(code)
	d, err := p.store.DeviceAuthByUserCode(ctx, hash, now)
	if errors.Is(err, storage.ErrNotFound) {
		p.deviceForm(w, r, http.StatusBadRequest, "", msgDeviceBadCode)
		return
	} else if err != nil {
		p.errorPage(w, r, asError(err))
		return
	}
	allow := r.PostForm.Get("allow") != ""
	client, err := p.client(ctx, d.ClientID)
	if err != nil {
		p.errorPage(w, r, asError(err))
		return
	}
	err = p.store.DecideDeviceAuth(ctx, hash, now, storage.DeviceDecision{
		Approved: allow, UserID: user.ID, SessionID: user.SessionID, AuthTime: user.AuthTime.UTC(),
	})
	if errors.Is(err, storage.ErrNotFound) {
		// Decided in another tab, or expired meanwhile.
		p.deviceForm(w, r, http.StatusBadRequest, "", msgDeviceBadCode)
		return
	} else if err != nil {
		p.errorPage(w, r, asError(err))
		return
	}
	if h := p.cfg.Hooks.OnConsent; h != nil {
		h(ctx, ConsentEvent{UserID: user.ID, Client: client, Scope: d.Scope, Accepted: allow})
	}
	step := "denied"
	if allow {
		step = "approved"
	}
	p.log.InfoContext(ctx, "device authorization decided", "client_id", client.ID, "user", user.ID, "approved", allow)
	p.renderDevice(w, p.pageLanguage(ctx, r, requestUILocales(r), user), http.StatusOK, DevicePage{Step: step, Client: client})
}
