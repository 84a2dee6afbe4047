package console

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/oidcd/oidcd/internal/reqid"
	"github.com/oidcd/oidcd/storage"
)

// view is the data of every console page: the layout's fields and the
// page's own Data.
type view struct {
	Title    string
	Prefix   string
	Username string
	// Admin shows the admin navigation.
	Admin bool
	// Section is the navigation entry of the page.
	Section string
	Notice  string
	Error   string
	Data    any

	c    *Console
	sess *storage.Session
}

// CSRF returns a new single-use token for one form of the page.
func (v *view) CSRF() string { return v.c.newCSRF(v.sess) }

// notices are the messages a page shows after a change, named by the
// "done" query parameter of the redirect that follows the form post (so
// nothing the request says is echoed as a message).
var notices = map[string]string{
	"password":       "Your password was changed. Applications that had access must sign you in again.",
	"revoked":        "Access revoked.",
	"client-saved":   "Client saved.",
	"client-deleted": "Client deleted, with everything it held.",
	"key-created":    "Signing key created.",
	"key-retired":    "Signing key retired.",
	"key-deleted":    "Signing key deleted.",
	"user-created":   "User created.",
	"user-saved":     "User saved.",
	"user-deleted":   "User deleted.",
	"user-password":  "Password set. The user's sessions and grants ended.",
	"user-locked":    "User locked: their sessions and grants ended.",
	"user-unlocked":  "User unlocked.",
	"user-admin":     "Admin flag changed.",
	"session-ended":  "Session ended.",
	"consent-gone":   "Consent revoked.",
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
	if v.Notice == "" {
		v.Notice = notices[r.URL.Query().Get("done")]
	}
	if err := c.pages.Render(w, status, "console/"+name, v, ""); err != nil {
		c.log.ErrorContext(r.Context(), "console: render page", "page", name, "err", err)
	}
}

// message renders a page that only says something.
func (c *Console) message(w http.ResponseWriter, r *http.Request, a *actor, status int, title, text string) {
	c.render(w, r, status, "message.html", &view{Title: title, Error: text}, a)
}

func (c *Console) forbidden(w http.ResponseWriter, r *http.Request, a *actor, text string) {
	c.message(w, r, a, http.StatusForbidden, "Forbidden", text)
}

func (c *Console) badRequest(w http.ResponseWriter, r *http.Request, a *actor, text string) {
	c.message(w, r, a, http.StatusBadRequest, "Bad request", text)
}

func (c *Console) notFound(w http.ResponseWriter, r *http.Request) {
	c.message(w, r, nil, http.StatusNotFound, "Not found", "There is no such page or item.")
}

// serverError logs err and renders the error page: 503 when the database
// cannot be reached, 500 otherwise.
func (c *Console) serverError(w http.ResponseWriter, r *http.Request, what string, err error) {
	c.log.ErrorContext(r.Context(), what, "err", err)
	status, title, text := http.StatusInternalServerError, "Server error", "Something went wrong. Please try again later."
	if errors.Is(err, storage.ErrUnavailable) {
		w.Header().Set("Retry-After", "5")
		status, title, text = http.StatusServiceUnavailable, "Temporarily unavailable", "The service is temporarily unavailable. Please try again in a few seconds."
	}
	data := struct{ Error, Description, RequestID string }{title, text, reqid.From(r.Context())}
	if err := c.pages.Render(w, status, "error.html", data, ""); err != nil {
		c.log.ErrorContext(r.Context(), "console: render page", "page", "error.html", "err", err)
	}
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

// plural is "1 thing" or "n things".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

func joinComma(s []string) string { return strings.Join(s, ", ") }
