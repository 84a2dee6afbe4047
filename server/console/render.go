package console

import (
	"errors"
	"net/http"
	"strings"

	"github.com/oidcd/oidcd/internal/reqid"
	"github.com/oidcd/oidcd/storage"
)

// view is the data of every console page: the layout's fields and the
// page's own Data. The texts it names (Title, Notice, Error) are keys:
// the templates hold the words (console/layout.html), so that the pages
// can be translated like the others.
type view struct {
	// Title names the page ("console_title"); TitleArg is the name it may
	// show (a client's or user's).
	Title    string
	TitleArg string
	Prefix   string
	Username string
	// Admin shows the admin navigation.
	Admin bool
	// Section is the navigation entry of the page.
	Section string
	// Notice names the message after a change ("console_notice").
	Notice string
	Error  problem
	// RequestID is shown on the error pages.
	RequestID string
	Data      any

	c    *Console
	sess *storage.Session
}

// problem is an error a page shows: Key names its text
// ("console_error" in console/layout.html) and Detail is the service
// layer's reason, which some of the texts add.
type problem struct{ Key, Detail string }

// refused is the problem of a service refusal: the text named by key
// followed by the service's reason.
func refused(key string, err error) problem { return problem{Key: key, Detail: reason(err)} }

// CSRF returns a new single-use token for one form of the page.
func (v *view) CSRF() string { return v.c.newCSRF(v.sess) }

// notices are the messages a page shows after a change, named by the
// "done" query parameter of the redirect that follows the form post (so
// nothing the request says is echoed as a message); the texts are the
// "console_notice" template's.
var notices = map[string]bool{
	"password": true, "revoked": true, "client-saved": true, "client-deleted": true, "client-tokens-revoked": true,
	"key-created": true, "key-retired": true, "key-deleted": true,
	"user-created": true, "user-saved": true, "user-deleted": true, "user-password": true,
	"user-locked": true, "user-unlocked": true, "user-admin": true,
	"session-ended": true, "consent-gone": true,
}

// render writes a console page for the request's actor (a, when the
// request has none yet).
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, v *view, a *actor) {
	if a == nil {
		a = actorOf(r)
	}
	v.c, v.Prefix = c, c.prefix
	if a != nil {
		v.sess = a.sess
		v.Username = a.user.Username
		v.Admin = a.user.Admin && !c.cfg.DisableAdmin
	}
	if done := r.URL.Query().Get("done"); v.Notice == "" && notices[done] {
		v.Notice = done
	}
	if err := c.pages.RenderLang(w, c.lang(r, a), status, "console/"+name, v, ""); err != nil {
		c.log.ErrorContext(r.Context(), "console: render page", "page", name, "err", err)
	}
}

// message renders a page that only says something: its title and text
// are keys of "console_title" and "console_error".
func (c *Console) message(w http.ResponseWriter, r *http.Request, a *actor, status int, title string, text problem) {
	c.render(w, r, status, "message.html", &view{Title: title, Error: text}, a)
}

func (c *Console) forbidden(w http.ResponseWriter, r *http.Request, a *actor, text problem) {
	c.message(w, r, a, http.StatusForbidden, "forbidden", text)
}

func (c *Console) badRequest(w http.ResponseWriter, r *http.Request, a *actor, text problem) {
	c.message(w, r, a, http.StatusBadRequest, "bad-request", text)
}

func (c *Console) notFound(w http.ResponseWriter, r *http.Request) {
	c.message(w, r, nil, http.StatusNotFound, "not-found", problem{Key: "not-found"})
}

// serverError logs err and renders the error page: 503 when the database
// cannot be reached, 500 otherwise.
func (c *Console) serverError(w http.ResponseWriter, r *http.Request, what string, err error) {
	c.log.ErrorContext(r.Context(), what, "err", err)
	status, key := http.StatusInternalServerError, "server-error"
	if errors.Is(err, storage.ErrUnavailable) {
		w.Header().Set("Retry-After", "5")
		status, key = http.StatusServiceUnavailable, "unavailable"
	}
	c.render(w, r, status, "message.html", &view{Title: key, Error: problem{Key: key}, RequestID: reqid.From(r.Context())}, nil)
}

// lang is the language of the console's pages for r: its ui_locales
// parameter, the signed-in user's locale claim (a's, when the request has
// no actor yet), Accept-Language, then the default (as the other pages).
func (c *Console) lang(r *http.Request, a *actor) string {
	if a == nil {
		a = actorOf(r)
	}
	locale := ""
	if a != nil {
		locale = a.user.Locale
	}
	return c.pages.Language(r, r.URL.Query().Get("ui_locales"), locale)
}

// redirect answers a form post with 303 to a console page (SECURITY A9).
func (c *Console) redirect(w http.ResponseWriter, r *http.Request, path, done string) {
	u := c.prefix + path
	if done != "" {
		sep := "?"
		if strings.Contains(u, "?") {
			sep = "&"
		}
		u += sep + "done=" + done
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u, http.StatusSeeOther)
}

func joinComma(s []string) string { return strings.Join(s, ", ") }
