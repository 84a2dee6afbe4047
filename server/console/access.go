package console

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/oidcd/oidcd/manage"
	"github.com/oidcd/oidcd/storage"
)

// accessFilter is the user or client the consents and sessions pages are
// about, from the query: user (a username) or client (a client id).
type accessFilter struct {
	Username, ClientID string
	User               *storage.User
	Client             *storage.Client
	// Query is the filter as a query string, to come back to.
	Query string
}

// filter reads the page's filter; it answers 404 itself for an unknown
// user or client and returns false.
func (c *Console) filter(w http.ResponseWriter, r *http.Request, q url.Values) (*accessFilter, bool) {
	f := &accessFilter{Username: strings.TrimSpace(q.Get("user")), ClientID: strings.TrimSpace(q.Get("client"))}
	var err error
	switch {
	case f.Username != "":
		f.User, err = c.svc.UserByUsername(r.Context(), f.Username)
		f.Query = url.Values{"user": {f.Username}}.Encode()
	case f.ClientID != "":
		f.Client, err = c.svc.Client(r.Context(), f.ClientID)
		f.Query = url.Values{"client": {f.ClientID}}.Encode()
	}
	switch {
	case errors.Is(err, storage.ErrNotFound):
		c.message(w, r, nil, http.StatusNotFound, "not-found", problem{Key: "no-user-or-client"})
		return nil, false
	case err != nil:
		c.serverError(w, r, "console: filter", err)
		return nil, false
	}
	return f, true
}

type consentRow struct {
	UserID, Username, ClientID, ClientName string
	Scope, Given, Expires                  string
	Expired                                bool
}

type grantRow struct {
	ID, Username, ClientName, Scope, Created, Expires string
}

type consentsData struct {
	Filter   *accessFilter
	Consents []consentRow
	Grants   []grantRow
	// StatelessCC: client_credentials tokens are not grants here.
	StatelessCC bool
}

// names caches user and client names for a page's rows.
type names struct {
	c       *Console
	r       *http.Request
	users   map[string]string
	clients map[string]string
}

func (c *Console) names(r *http.Request) *names {
	return &names{c: c, r: r, users: map[string]string{}, clients: map[string]string{}}
}

func (n *names) user(id string) string {
	if v, ok := n.users[id]; ok {
		return v
	}
	v := id
	if u, err := n.c.svc.User(n.r.Context(), id); err == nil {
		v = u.Username
	}
	n.users[id] = v
	return v
}

func (n *names) client(id string) string {
	if v, ok := n.clients[id]; ok {
		return v
	}
	v := id
	if cl, err := n.c.svc.Client(n.r.Context(), id); err == nil {
		v = cl.Name
	}
	n.clients[id] = v
	return v
}

// consents shows the consents and live grants of one user or one client,
// each with a revoke button.
func (c *Console) consents(w http.ResponseWriter, r *http.Request) {
	f, ok := c.filter(w, r, r.URL.Query())
	if !ok {
		return
	}
	d := &consentsData{Filter: f, StatelessCC: c.cfg.StatelessClientCredentials}
	ctx := r.Context()
	var consents []*storage.Consent
	var grants []*storage.Grant
	var err error
	switch {
	case f.User != nil:
		if consents, err = c.svc.UserConsents(ctx, f.User.ID); err == nil {
			grants, err = c.svc.UserGrants(ctx, f.User.ID)
		}
	case f.Client != nil:
		if consents, err = c.svc.ClientConsents(ctx, f.Client.ID); err == nil {
			grants, err = c.svc.ClientGrants(ctx, f.Client.ID)
		}
	}
	if err != nil {
		c.serverError(w, r, "console: consents", err)
		return
	}
	n, now := c.names(r), c.now()
	for _, cs := range consents {
		d.Consents = append(d.Consents, consentRow{UserID: cs.UserID, Username: n.user(cs.UserID), ClientID: cs.ClientID,
			ClientName: n.client(cs.ClientID), Scope: strings.Join(cs.Scope, " "), Given: dateText(cs.GivenAt),
			Expires: dateText(cs.ExpiresAt), Expired: !cs.ExpiresAt.IsZero() && !cs.ExpiresAt.After(now)})
	}
	for _, g := range grants {
		row := grantRow{ID: g.ID, ClientName: n.client(g.ClientID), Scope: strings.Join(g.Scope, " "),
			Created: dateText(g.CreatedAt), Expires: dateText(g.ExpiresAt)}
		if g.UserID != "" {
			row.Username = n.user(g.UserID)
		}
		d.Grants = append(d.Grants, row)
	}
	c.render(w, r, http.StatusOK, "consents.html", &view{Title: "consents", Section: "consents", Data: d}, nil)
}

// consentRevoke takes back a user's consent to a client with the grants
// that came of it.
func (c *Console) consentRevoke(w http.ResponseWriter, r *http.Request) {
	err := c.svc.RevokeConsent(r.Context(), c.actorFor(r), r.PostForm.Get("user_id"), r.PostForm.Get("client_id"))
	c.accessDone(w, r, err, "/admin/consents", "consent-gone")
}

// grantRevoke revokes one grant: its tokens stop working.
func (c *Console) grantRevoke(w http.ResponseWriter, r *http.Request) {
	err := c.svc.RevokeGrant(r.Context(), c.actorFor(r), r.PostForm.Get("grant_id"))
	c.accessDone(w, r, err, "/admin/consents", "revoked")
}

type sessionRow struct {
	ID, Username, SignedIn, Expires string
}

type sessionsData struct {
	Filter   *accessFilter
	Sessions []sessionRow
}

// sessions shows the live browser sessions of one user or those one
// client took part in, each with a revoke button.
func (c *Console) sessions(w http.ResponseWriter, r *http.Request) {
	f, ok := c.filter(w, r, r.URL.Query())
	if !ok {
		return
	}
	d := &sessionsData{Filter: f}
	var list []*storage.Session
	var err error
	switch {
	case f.User != nil:
		list, err = c.svc.UserSessions(r.Context(), f.User.ID)
	case f.Client != nil:
		list, err = c.svc.ClientSessions(r.Context(), f.Client.ID)
	}
	if err != nil {
		c.serverError(w, r, "console: sessions", err)
		return
	}
	n := c.names(r)
	for _, s := range list {
		d.Sessions = append(d.Sessions, sessionRow{ID: s.ID, Username: n.user(s.UserID), SignedIn: dateText(s.AuthTime), Expires: dateText(s.ExpiresAt)})
	}
	c.render(w, r, http.StatusOK, "sessions.html", &view{Title: "sessions", Section: "sessions", Data: d}, nil)
}

// sessionRevoke ends one session: its grants are revoked, its clients
// told, its cookie no longer signs anyone in.
func (c *Console) sessionRevoke(w http.ResponseWriter, r *http.Request) {
	err := c.svc.RevokeSession(r.Context(), c.actorFor(r), r.PostForm.Get("session_id"))
	c.accessDone(w, r, err, "/admin/sessions", "session-ended")
}

// sessionsRevokeUser ends every session of a user.
func (c *Console) sessionsRevokeUser(w http.ResponseWriter, r *http.Request) {
	_, err := c.svc.SignOutEverywhere(r.Context(), c.actorFor(r), r.PostForm.Get("user_id"))
	c.accessDone(w, r, err, "/admin/sessions", "session-ended")
}

// accessDone answers a revocation: back to the page it came from (its
// filter is the form's "back" field).
func (c *Console) accessDone(w http.ResponseWriter, r *http.Request, err error, page, done string) {
	back := page
	if q, err := url.ParseQuery(r.PostForm.Get("back")); err == nil && len(q) > 0 {
		f := url.Values{}
		for _, k := range []string{"user", "client"} {
			if v := q.Get(k); v != "" {
				f.Set(k, v)
			}
		}
		if len(f) > 0 {
			back += "?" + f.Encode()
		}
	}
	switch {
	case errors.Is(err, storage.ErrNotFound):
		c.redirect(w, r, back, "")
	case errors.Is(err, manage.ErrInvalid), errors.Is(err, manage.ErrRefused):
		c.badRequest(w, r, nil, refused("refused", err))
	case err != nil:
		c.serverError(w, r, "console: revoke", err)
	default:
		c.redirect(w, r, back, done)
	}
}
