package console

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/oidcd/oidcd/manage"
	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/server"
	"github.com/oidcd/oidcd/storage"
)

// accountRoutes is the table of contents of the account page, for every
// signed-in user.
func (c *Console) accountRoutes(mux *http.ServeMux, prefix string) {
	mux.HandleFunc("GET "+prefix+"/account", c.account)
	mux.HandleFunc("GET "+prefix+"/account/{$}", c.account)
	mux.HandleFunc("POST "+prefix+"/account/password", c.accountPassword)
	mux.HandleFunc("POST "+prefix+"/account/revoke", c.accountRevoke)
	mux.HandleFunc("POST "+prefix+"/account/sign-out-everywhere", c.accountSignOutEverywhere)
}

// actorFor is the service layer's actor of a console request.
func (c *Console) actorFor(r *http.Request) manage.Actor {
	a := actorOf(r)
	return manage.Actor{UserID: a.user.ID, Username: a.user.Username, IP: c.srv.ClientIP(r)}
}

// claimRow is one line of the profile: the claim's name (its label is the
// "claim_label" template's) and value.
type claimRow struct {
	Claim, Value string
	Verified     bool
}

// appRow is one application with access to the account: its remembered
// consent and its live grants.
type appRow struct {
	ClientID, ClientName, Website string
	Scope                         string
	Since, Expires                string
	Grants                        int
}

type accountData struct {
	Username    string
	Claims      []claimRow
	Apps        []appRow
	Sessions    int
	MinPassword int
}

// account shows the signed-in user's profile, the applications that have
// access, and the forms to change the password and sign out everywhere.
func (c *Console) account(w http.ResponseWriter, r *http.Request) {
	c.renderAccount(w, r, http.StatusOK, problem{})
}

func (c *Console) renderAccount(w http.ResponseWriter, r *http.Request, status int, problem problem) {
	ctx := r.Context()
	a := actorOf(r)
	data := &accountData{Username: a.user.Username, Claims: claimRows(a.user), MinPassword: c.cfg.PasswordMinLength}
	apps, err := c.apps(r, a.user.ID)
	if err != nil {
		c.serverError(w, r, "console: account applications", err)
		return
	}
	data.Apps = apps
	sessions, err := c.svc.UserSessions(ctx, a.user.ID)
	if err != nil {
		c.serverError(w, r, "console: account sessions", err)
		return
	}
	data.Sessions = len(sessions)
	c.render(w, r, status, "account.html", &view{Title: "account", Section: "account", Error: problem, Data: data}, nil)
}

// apps gathers the clients a user gave something: an unexpired consent or
// a live grant.
func (c *Console) apps(r *http.Request, userID string) ([]appRow, error) {
	ctx := r.Context()
	now := c.now()
	consents, err := c.svc.UserConsents(ctx, userID)
	if err != nil {
		return nil, err
	}
	grants, err := c.svc.UserGrants(ctx, userID)
	if err != nil {
		return nil, err
	}
	type app struct {
		scope   []string
		since   time.Time
		expires time.Time
		grants  int
	}
	byClient := map[string]*app{}
	var order []string
	get := func(id string) *app {
		if byClient[id] == nil {
			byClient[id] = &app{}
			order = append(order, id)
		}
		return byClient[id]
	}
	for _, cs := range consents {
		if !cs.ExpiresAt.IsZero() && !cs.ExpiresAt.After(now) {
			continue
		}
		p := get(cs.ClientID)
		p.scope = append(p.scope, cs.Scope...)
		p.since, p.expires = cs.GivenAt, cs.ExpiresAt
	}
	for _, g := range grants {
		p := get(g.ClientID)
		p.scope = append(p.scope, g.Scope...)
		p.grants++
		if p.since.IsZero() || g.CreatedAt.Before(p.since) {
			p.since = g.CreatedAt
		}
	}
	var out []appRow
	for _, id := range order {
		p := byClient[id]
		cl, err := c.svc.Client(ctx, id)
		if errors.Is(err, storage.ErrNotFound) {
			continue // deleted since: nothing left to revoke
		} else if err != nil {
			return nil, err
		}
		slices.Sort(p.scope)
		row := appRow{ClientID: id, ClientName: cl.Name, Website: cl.Website,
			Scope: strings.Join(slices.Compact(p.scope), " "), Since: dateText(p.since), Grants: p.grants}
		if !p.expires.IsZero() {
			row.Expires = dateText(p.expires)
		}
		out = append(out, row)
	}
	slices.SortFunc(out, func(a, b appRow) int {
		return strings.Compare(strings.ToLower(a.ClientName), strings.ToLower(b.ClientName))
	})
	return out, nil
}

// accountPassword changes the signed-in user's password: the current one
// is checked behind the login throttle (a stolen session cannot guess it
// faster than the login page), then the service changes it, which ends
// every session and grant of the account; this browser gets a new session.
func (c *Console) accountPassword(w http.ResponseWriter, r *http.Request) {
	a := actorOf(r)
	current, pw := r.PostForm.Get("current_password"), r.PostForm.Get("new_password")
	if pw != r.PostForm.Get("confirm_password") {
		c.renderAccount(w, r, http.StatusBadRequest, problem{Key: "confirm-differs"})
		return
	}
	if !c.reauth(w, r, a, current) {
		c.renderAccount(w, r, http.StatusForbidden, problem{Key: "wrong-password"})
		return
	}
	switch err := c.svc.ChangeOwnPassword(r.Context(), c.actorFor(r), current, pw); {
	case errors.Is(err, manage.ErrInvalid):
		c.renderAccount(w, r, http.StatusBadRequest, refused("password-refused", err))
		return
	case errors.Is(err, manage.ErrWrongPassword):
		c.renderAccount(w, r, http.StatusForbidden, problem{Key: "wrong-password"})
		return
	case err != nil:
		c.serverError(w, r, "console: change password", err)
		return
	}
	if _, err := c.srv.SignIn(w, r, a.user.ID); err != nil {
		c.serverError(w, r, "console: new session after a password change", err)
		return
	}
	c.redirect(w, r, "/account", "password")
}

// accountRevoke takes back what the user gave one application: its
// consent and its grants (its tokens stop working at once).
func (c *Console) accountRevoke(w http.ResponseWriter, r *http.Request) {
	a := actorOf(r)
	switch err := c.svc.RevokeConsent(r.Context(), c.actorFor(r), a.user.ID, r.PostForm.Get("client_id")); {
	case errors.Is(err, storage.ErrNotFound), errors.Is(err, manage.ErrInvalid):
		c.redirect(w, r, "/account", "")
	case err != nil:
		c.serverError(w, r, "console: revoke application", err)
	default:
		c.redirect(w, r, "/account", "revoked")
	}
}

// accountSignOutEverywhere ends every session of the user, this one
// included; their grants are revoked and their clients told.
func (c *Console) accountSignOutEverywhere(w http.ResponseWriter, r *http.Request) {
	a := actorOf(r)
	if _, err := c.svc.SignOutEverywhere(r.Context(), c.actorFor(r), a.user.ID); err != nil {
		c.serverError(w, r, "console: sign out everywhere", err)
		return
	}
	if _, err := c.srv.SignOut(w, r); err != nil {
		c.serverError(w, r, "console: sign out", err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, c.prefix+"/logout", http.StatusSeeOther)
}

// reauth checks the signed-in user's own password behind the login
// throttle (per username and IP, shared by every node), as the login page
// would: the console asks for it before changes a stolen session must not
// make.
func (c *Console) reauth(w http.ResponseWriter, r *http.Request, a *actor, password string) bool {
	if password == "" {
		return false
	}
	_, err := c.srv.Authenticate(r.Context(), a.user.Username, password, c.srv.ClientIP(r))
	switch {
	case err == nil:
		return true
	case errors.Is(err, server.ErrLoginThrottled), errors.Is(err, op.ErrInvalidCredentials):
		c.log.WarnContext(r.Context(), "console: password confirmation failed", "user", a.user.ID, "ip", c.srv.ClientIP(r))
		return false
	default:
		c.log.ErrorContext(r.Context(), "console: password confirmation", "err", err)
		return false
	}
}

// reason is the message of a service refusal without its sentinel prefix.
func reason(err error) string {
	msg := err.Error()
	for _, p := range []string{manage.ErrInvalid.Error() + ": ", manage.ErrRefused.Error() + ": "} {
		if i := strings.LastIndex(msg, p); i >= 0 {
			msg = msg[i+len(p):]
		}
	}
	return msg
}

// claimRows lists the account's non-empty standard claims.
func claimRows(u *storage.User) []claimRow {
	var out []claimRow
	add := func(claim, v string, verified bool) {
		if v != "" {
			out = append(out, claimRow{claim, v, verified})
		}
	}
	add("name", u.Name, false)
	add("given_name", u.GivenName, false)
	add("middle_name", u.MiddleName, false)
	add("family_name", u.FamilyName, false)
	add("nickname", u.Nickname, false)
	add("preferred_username", u.PreferredUsername, false)
	add("email", u.Email, u.EmailVerified)
	add("phone_number", u.PhoneNumber, u.PhoneNumberVerified)
	add("profile", u.Profile, false)
	add("picture", u.Picture, false)
	add("website", u.Website, false)
	add("gender", u.Gender, false)
	add("birthdate", u.Birthdate, false)
	add("zoneinfo", u.Zoneinfo, false)
	add("locale", u.Locale, false)
	ad := u.Address
	if ad.Formatted != "" {
		add("address", ad.Formatted, false)
	} else {
		add("address", strings.Join(slices.DeleteFunc([]string{ad.StreetAddress, ad.Locality, ad.Region, ad.PostalCode, ad.Country}, func(s string) bool { return s == "" }), ", "), false)
	}
	return out
}

// dateText formats a time for the pages (UTC, to the minute).
func dateText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}
