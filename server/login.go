package server

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode"

	"github.com/oidcd/oidcd/internal/reqid"
	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage"
)

// maxFormBytes bounds the body of the login and logout forms.
const maxFormBytes = 64 << 10

// CSRF purposes: a token for one form is no good for the other.
const (
	csrfLogin  = "login"
	csrfLogout = "logout"
)

// Generic messages: the same for an unknown user and a wrong password, and
// for a locked account whether it exists or not (SECURITY F8, I3).
const (
	msgInvalidLogin = "Invalid username or password."
	msgBadCSRF      = "This form has expired or was not sent from this site. Please try again."
	msgServerError  = "Something went wrong. Please try again later."
	msgUnavailable  = "The service is temporarily unavailable. Please try again in a few seconds."
)

// retryAfterUnavailable is the Retry-After (seconds) of 503 answers.
const retryAfterUnavailable = "5"

// loginPage is the data of login.html.
type loginPage struct {
	Action      string
	CSRF        string
	Next        string
	Username    string
	Error       string
	CurrentUser string // username of the signed-in user, if any
	ContinueURL string // prompt=select_account: go on as CurrentUser
	// UILocales is the authorization request's ui_locales, carried by the
	// form so that the page keeps its language.
	UILocales string
}

// logoutPage is the data of logout.html.
type logoutPage struct {
	Action      string
	CSRF        string
	CurrentUser string
	LoggedOut   bool
	// FrontChannel are the front-channel logout URIs to load in iframes
	// once signed out (Front-Channel Logout 1.0 §3).
	FrontChannel []string
	// UILocales is the ui_locales the page was opened with, carried by the
	// form so that the signed-out page keeps the language.
	UILocales string
}

// errorPage is the data of error.html (op.ErrorPage): the server's errors
// have a title and a message for people and no technical description.
type errorPage = op.ErrorPage

// login serves the login form (GET) and checks it (POST).
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodGet, http.MethodPost) {
		return
	}
	if r.Method == http.MethodPost {
		s.loginPost(w, r)
		return
	}
	q := r.URL.Query()
	page := loginPage{
		Next:      safeNext(q.Get("next")),
		Username:  q.Get("login_hint"),
		UILocales: boundedLocales(q.Get("ui_locales")),
	}
	if err := s.signedIn(r, &page); err != nil {
		s.serverError(w, r, "login page", err)
		return
	}
	if page.CurrentUser != "" && page.Next != "" && slices.Contains(strings.Fields(q.Get("prompt")), "select_account") {
		page.ContinueURL = withoutSelectAccount(page.Next)
	}
	s.renderLogin(w, r, http.StatusOK, page)
}

func (s *Server) loginPost(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	page := loginPage{
		Next:      safeNext(r.PostForm.Get("next")),
		Username:  strings.TrimSpace(r.PostForm.Get("username")),
		UILocales: boundedLocales(r.PostForm.Get("ui_locales")),
	}
	if !s.checkCSRF(r, csrfLogin) {
		s.log.WarnContext(r.Context(), "login refused: bad CSRF token", "ip", s.clientIP(r))
		page.Error = msgBadCSRF
		s.renderLogin(w, r, http.StatusForbidden, page)
		return
	}
	ip := s.clientIP(r)
	u, err := s.Authenticate(r.Context(), page.Username, r.PostForm.Get("password"), ip)
	switch {
	case errors.Is(err, ErrLoginThrottled), errors.Is(err, op.ErrInvalidCredentials):
		// A lockout answers exactly like a wrong password: same status,
		// page and headers (SECURITY I3); only the log tells them apart,
		// without the typed username (SECURITY L7).
		if errors.Is(err, ErrLoginThrottled) {
			s.log.WarnContext(r.Context(), "login throttled", "ip", ip)
		} else {
			s.log.InfoContext(r.Context(), "login failed", "ip", ip)
		}
		page.Error = msgInvalidLogin
		s.renderLogin(w, r, http.StatusUnauthorized, page)
		return
	case err != nil:
		s.serverError(w, r, "login", err)
		return
	}
	// A new session id on every login; the browser's old session ends
	// (SECURITY F5).
	sess, err := s.SignIn(w, r, u.ID)
	if err != nil {
		s.serverError(w, r, "login", err)
		return
	}
	s.log.InfoContext(r.Context(), "login", "user", u.ID, "sid", sess.ID, "ip", ip)
	next := page.Next
	if next == "" {
		next = s.prefix + "/"
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, next, http.StatusSeeOther) // SECURITY A9
}

// logout asks for confirmation (GET) and ends the session (POST).
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodGet, http.MethodPost) {
		return
	}
	sess, err := s.session(r)
	if err != nil {
		s.serverError(w, r, "logout", err)
		return
	}
	if r.Method == http.MethodGet {
		page := logoutPage{LoggedOut: sess == nil}
		userID := ""
		if sess != nil {
			userID = sess.UserID
			if u, err := s.store.User(r.Context(), sess.UserID); err == nil {
				page.CurrentUser = u.Username
			}
		}
		s.renderLogout(w, r, http.StatusOK, page, userID)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	if !s.checkCSRF(r, csrfLogout) {
		s.log.WarnContext(r.Context(), "logout refused: bad CSRF token", "ip", s.clientIP(r))
		s.renderError(w, r, http.StatusForbidden, "Forbidden", msgBadCSRF)
		return
	}
	page := logoutPage{LoggedOut: true}
	if sess != nil {
		// The grants of the session end with it (SECURITY D8), and its
		// relying parties are told: back-channel logout tokens are queued,
		// front-channel logout pages load below.
		front, err := s.endSession(r.Context(), sess, s.clientIP(r))
		if err != nil {
			s.serverError(w, r, "logout", err)
			return
		}
		page.FrontChannel = front
	}
	s.clearSessionCookie(w)
	s.provider.SetBrowserState(w, "")
	userID := ""
	if sess != nil {
		userID = sess.UserID // signed out now, but the page stays in the user's language
	}
	s.renderLogout(w, r, http.StatusOK, page, userID)
}

// clearSessionCookie deletes the session cookie.
func (s *Server) clearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode,
	})
}

// signedIn fills page.CurrentUser with the signed-in user's name.
func (s *Server) signedIn(r *http.Request, page *loginPage) error {
	sess, err := s.session(r)
	if err != nil || sess == nil {
		return err
	}
	u, err := s.store.User(r.Context(), sess.UserID)
	if err != nil {
		return nil // the account is gone; treat as signed out
	}
	page.CurrentUser = u.Username
	return nil
}

func (s *Server) renderLogin(w http.ResponseWriter, r *http.Request, status int, page loginPage) {
	page.Action = s.prefix + "/login"
	page.CSRF = s.csrfToken(w, r, csrfLogin)
	lang := s.language(r, page.UILocales, "")
	if page.Error != "" {
		page.Error = s.pages.T(lang, page.Error)
	}
	// The default policy has no form-action: a successful login redirects
	// through /authorize to the relying party, which form-action would block.
	if err := s.pages.RenderLang(w, lang, status, "login.html", page, ""); err != nil {
		s.log.ErrorContext(r.Context(), "render page", "page", "login.html", "err", err)
	}
}

func (s *Server) renderLogout(w http.ResponseWriter, r *http.Request, status int, page logoutPage, userID string) {
	page.Action = s.prefix + "/logout"
	if !page.LoggedOut {
		page.CSRF = s.csrfToken(w, r, csrfLogout)
	}
	page.UILocales = boundedLocales(r.URL.Query().Get("ui_locales"))
	if page.UILocales == "" && r.PostForm != nil {
		page.UILocales = boundedLocales(r.PostForm.Get("ui_locales"))
	}
	lang := s.language(r, page.UILocales, userID)
	// The page may frame exactly the front-channel logout origins.
	if err := s.pages.RenderLang(w, lang, status, "logout.html", page, op.SignedOutCSP(page.FrontChannel, "")); err != nil {
		s.log.ErrorContext(r.Context(), "render page", "page", "logout.html", "err", err)
	}
}

// renderError renders error.html with an English title and message, shown
// in the page's language.
func (s *Server) renderError(w http.ResponseWriter, r *http.Request, status int, title, message string) {
	lang := s.language(r, r.URL.Query().Get("ui_locales"), "")
	data := errorPage{
		Error: title, Title: s.pages.T(lang, title), Message: s.pages.T(lang, message),
		RequestID: reqid.From(r.Context()),
	}
	if err := s.pages.RenderLang(w, lang, status, "error.html", data, ""); err != nil {
		s.log.ErrorContext(r.Context(), "render page", "page", "error.html", "err", err)
	}
}

// language picks a page's language: ui_locales, then the locale claim of
// the user (userID, when known), then Accept-Language, then the default.
func (s *Server) language(r *http.Request, uiLocales, userID string) string {
	if lang, ok := s.pages.Match(uiLocales); ok {
		return lang
	}
	locale := ""
	if userID != "" {
		if u, err := s.store.User(r.Context(), userID); err == nil {
			locale = u.Locale
		}
	}
	return s.pages.Language(r, locale)
}

// boundedLocales drops a ui_locales value too long to be one (SECURITY L6).
func boundedLocales(v string) string {
	if len(v) > 256 {
		return ""
	}
	return v
}

// serverError logs err and renders the error page: 503 with a Retry-After
// when the database cannot be reached, 500 otherwise.
func (s *Server) serverError(w http.ResponseWriter, r *http.Request, what string, err error) {
	s.log.ErrorContext(r.Context(), what, "err", err)
	if errors.Is(err, storage.ErrUnavailable) {
		w.Header().Set("Retry-After", retryAfterUnavailable)
		s.renderError(w, r, http.StatusServiceUnavailable, "Temporarily unavailable", msgUnavailable)
		return
	}
	s.renderError(w, r, http.StatusInternalServerError, "Server error", msgServerError)
}

// csrfToken returns the form token for purpose, bound to the browser's CSRF
// cookie, which it sets first when missing (double submit with a MAC, so
// the token cannot be forged without the system key).
func (s *Server) csrfToken(w http.ResponseWriter, r *http.Request, purpose string) string {
	value := csrfCookieValue(r)
	if value == "" {
		b := make([]byte, 32)
		rand.Read(b)
		value = base64.RawURLEncoding.EncodeToString(b)
		http.SetCookie(w, &http.Cookie{
			Name: CSRFCookie, Value: value, Path: "/",
			HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode,
		})
		// Later reads in this request see the new value.
		r.AddCookie(&http.Cookie{Name: CSRFCookie, Value: value})
	}
	return base64.RawURLEncoding.EncodeToString(s.sealer.MAC(purpose, value))
}

// checkCSRF verifies the form's csrf_token against the CSRF cookie.
func (s *Server) checkCSRF(r *http.Request, purpose string) bool {
	value := csrfCookieValue(r)
	if value == "" {
		return false
	}
	mac, err := base64.RawURLEncoding.DecodeString(r.PostForm.Get("csrf_token"))
	if err != nil || len(mac) == 0 {
		return false
	}
	return s.sealer.VerifyMAC(mac, purpose, value)
}

func csrfCookieValue(r *http.Request) string {
	c, err := r.Cookie(CSRFCookie)
	if err != nil || len(c.Value) != 43 {
		return ""
	}
	return c.Value
}

// safeNext returns next when it is a path on this origin, else ""
// (SECURITY A8): it must start with one "/", not "//" or "/\" (which
// browsers read as another host), hold no whitespace or control characters
// (browsers drop some of them, turning "/\t/evil" into "//evil"), and parse
// without scheme, host or user.
func safeNext(next string) string {
	if len(next) == 0 || len(next) > 8192 || next[0] != '/' {
		return ""
	}
	if len(next) > 1 && (next[1] == '/' || next[1] == '\\') {
		return ""
	}
	for _, c := range next {
		if unicode.IsSpace(c) || unicode.IsControl(c) || c == '\\' {
			return ""
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return ""
	}
	return next
}

// withoutSelectAccount drops select_account from the prompt of a local
// authorization URL: the user has chosen to continue with the signed-in
// account, so the provider need not ask for a new login.
func withoutSelectAccount(next string) string {
	u, err := url.Parse(next)
	if err != nil {
		return ""
	}
	q := u.Query()
	var keep []string
	for _, p := range strings.Fields(q.Get("prompt")) {
		if p != "select_account" {
			keep = append(keep, p)
		}
	}
	if len(keep) == 0 {
		q.Del("prompt")
	} else {
		q.Set("prompt", strings.Join(keep, " "))
	}
	u.RawQuery = q.Encode()
	return u.String()
}
