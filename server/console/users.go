package console

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/oidcd/oidcd/manage"
	"github.com/oidcd/oidcd/storage"
)

// usersPerPage is the size of a page of the user list.
const usersPerPage = 50

type userRow struct {
	ID, Username, Name, Email, Created string
	Admin, Locked                      bool
}

type usersData struct {
	Search           string
	Users            []userRow
	Total            int
	From, To         int
	PrevURL, NextURL string
}

// users lists the accounts, a page at a time, or those matching q.
func (c *Console) users(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	search := strings.TrimSpace(q.Get("q"))
	page, _ := strconv.Atoi(q.Get("page"))
	page = max(page, 1)
	res, err := c.svc.ListUsers(r.Context(), storage.UserQuery{Search: search, Offset: (page - 1) * usersPerPage, Limit: usersPerPage})
	if err != nil {
		c.serverError(w, r, "console: list users", err)
		return
	}
	d := &usersData{Search: search, Total: res.Total}
	for _, u := range res.Users {
		d.Users = append(d.Users, userRow{ID: u.ID, Username: u.Username, Name: u.Name, Email: u.Email,
			Created: dateText(u.CreatedAt), Admin: u.Admin, Locked: u.Locked})
	}
	if len(d.Users) > 0 {
		d.From = (page-1)*usersPerPage + 1
		d.To = d.From + len(d.Users) - 1
	}
	pageURL := func(p int) string {
		v := url.Values{"page": {strconv.Itoa(p)}}
		if search != "" {
			v.Set("q", search)
		}
		return c.prefix + "/admin/users?" + v.Encode()
	}
	if page > 1 {
		d.PrevURL = pageURL(page - 1)
	}
	if page*usersPerPage < res.Total {
		d.NextURL = pageURL(page + 1)
	}
	c.render(w, r, http.StatusOK, "users.html", &view{Title: "users", Section: "users", Data: d}, nil)
}

// claimField is one claim of the user forms: Name is the claim's (and
// the form field's) name; its label is the "claim_field_label" template's.
type claimField struct {
	Name, Type, Value, Autocomplete string
}

// claimFields are the editable standard claims (OIDC Core §5.1), with
// their form field names (the claim names) and values.
func claimFields(c storage.Claims) []claimField {
	return []claimField{
		{"name", "text", c.Name, "name"},
		{"given_name", "text", c.GivenName, "given-name"},
		{"middle_name", "text", c.MiddleName, "additional-name"},
		{"family_name", "text", c.FamilyName, "family-name"},
		{"nickname", "text", c.Nickname, "nickname"},
		{"preferred_username", "text", c.PreferredUsername, "off"},
		{"email", "email", c.Email, "email"},
		{"phone_number", "tel", c.PhoneNumber, "tel"},
		{"profile", "url", c.Profile, "url"},
		{"picture", "url", c.Picture, "photo"},
		{"website", "url", c.Website, "url"},
		{"gender", "text", c.Gender, "sex"},
		{"birthdate", "text", c.Birthdate, "bday"},
		{"zoneinfo", "text", c.Zoneinfo, "off"},
		{"locale", "text", c.Locale, "language"},
		{"address_formatted", "text", c.Address.Formatted, "street-address"},
	}
}

// applyClaims sets the claims of a posted user form.
func applyClaims(f url.Values, c *storage.Claims) {
	t := func(k string) string { return strings.TrimSpace(f.Get(k)) }
	c.Name, c.GivenName, c.MiddleName, c.FamilyName = t("name"), t("given_name"), t("middle_name"), t("family_name")
	c.Nickname, c.PreferredUsername = t("nickname"), t("preferred_username")
	c.Email, c.EmailVerified = t("email"), f.Get("email_verified") != ""
	c.PhoneNumber, c.PhoneNumberVerified = t("phone_number"), f.Get("phone_number_verified") != ""
	c.Profile, c.Picture, c.Website = t("profile"), t("picture"), t("website")
	c.Gender, c.Birthdate, c.Zoneinfo, c.Locale = t("gender"), t("birthdate"), t("zoneinfo"), t("locale")
	if a := t("address_formatted"); a != c.Address.Formatted {
		c.Address = storage.Address{Formatted: a}
	}
}

// userFormData is the data of user_form.html.
type userFormData struct {
	New                          bool
	ID, Username                 string
	Admin, Locked, Self          bool
	Created                      string
	Claims                       []claimField
	EmailVerified, PhoneVerified bool
	MinPassword                  int
	// Password is a generated password to hand to the user, shown once.
	Password string
}

func (c *Console) renderUserForm(w http.ResponseWriter, r *http.Request, status int, u *storage.User, claims storage.Claims, problem problem, notice, password string) {
	d := &userFormData{New: u == nil, Claims: claimFields(claims), EmailVerified: claims.EmailVerified,
		PhoneVerified: claims.PhoneNumberVerified, MinPassword: c.cfg.PasswordMinLength, Password: password}
	title, arg := "user-new", ""
	if u != nil {
		d.ID, d.Username, d.Admin, d.Locked, d.Created = u.ID, u.Username, u.Admin, u.Locked, dateText(u.CreatedAt)
		d.Self = u.ID == actorOf(r).user.ID
		title, arg = "user", u.Username
	} else {
		d.Username = strings.TrimSpace(r.PostForm.Get("username"))
		d.Admin = r.PostForm.Get("admin") != ""
	}
	c.render(w, r, status, "user_form.html", &view{Title: title, TitleArg: arg, Section: "users", Error: problem, Notice: notice, Data: d}, nil)
}

func (c *Console) userNew(w http.ResponseWriter, r *http.Request) {
	c.renderUserForm(w, r, http.StatusOK, nil, storage.Claims{}, problem{}, "", "")
}

// userCreate creates an account.
func (c *Console) userCreate(w http.ResponseWriter, r *http.Request) {
	f := r.PostForm
	nu := manage.NewUser{Username: strings.TrimSpace(f.Get("username")), Password: f.Get("password"), Admin: f.Get("admin") != ""}
	applyClaims(f, &nu.Claims)
	u, err := c.svc.CreateUser(r.Context(), c.actorFor(r), nu)
	switch {
	case errors.Is(err, manage.ErrInvalid), errors.Is(err, manage.ErrRefused):
		c.renderUserForm(w, r, http.StatusBadRequest, nil, nu.Claims, refused("user-not-created", err), "", "")
	case err != nil:
		c.serverError(w, r, "console: create user", err)
	default:
		c.redirect(w, r, "/admin/users/"+url.PathEscape(u.ID), "user-created")
	}
}

// userPage shows an account's claims form and its actions.
func (c *Console) userPage(w http.ResponseWriter, r *http.Request) {
	u, ok := c.findUser(w, r)
	if !ok {
		return
	}
	c.renderUserForm(w, r, http.StatusOK, u, u.Claims, problem{}, "", "")
}

// userSave stores the claims form.
func (c *Console) userSave(w http.ResponseWriter, r *http.Request) {
	u, ok := c.findUser(w, r)
	if !ok {
		return
	}
	var claims storage.Claims
	_, err := c.svc.UpdateUserClaims(r.Context(), c.actorFor(r), u.ID, func(cl *storage.Claims) error {
		applyClaims(r.PostForm, cl)
		claims = *cl
		return nil
	})
	c.userDone(w, r, u, err, claims, "user-saved")
}

// userPassword sets or generates another account's password: the admin
// gives their own password again first (a stolen admin session alone
// cannot take over accounts).
func (c *Console) userPassword(w http.ResponseWriter, r *http.Request) {
	u, ok := c.findUser(w, r)
	if !ok {
		return
	}
	if !c.reauth(w, r, actorOf(r), r.PostForm.Get("admin_password")) {
		c.renderUserForm(w, r, http.StatusForbidden, u, u.Claims, problem{Key: "admin-password-wrong"}, "", "")
		return
	}
	if r.PostForm.Get("generate") != "" {
		pw, err := c.svc.ResetPassword(r.Context(), c.actorFor(r), u.ID)
		if err != nil {
			c.userDone(w, r, u, err, u.Claims, "")
			return
		}
		if !c.keepSignedIn(w, r, u) {
			return
		}
		// The generated password is shown on this response only.
		c.renderUserForm(w, r, http.StatusOK, u, u.Claims, problem{}, "user-password", pw)
		return
	}
	pw := r.PostForm.Get("password")
	if pw != r.PostForm.Get("confirm_password") {
		c.renderUserForm(w, r, http.StatusBadRequest, u, u.Claims, problem{Key: "user-confirm-differs"}, "", "")
		return
	}
	err := c.svc.SetPassword(r.Context(), c.actorFor(r), u.ID, pw)
	if err == nil && !c.keepSignedIn(w, r, u) {
		return
	}
	c.userDone(w, r, u, err, u.Claims, "user-password")
}

// keepSignedIn gives the browser a new session when an admin changed
// their own password here (which ended every session of the account).
func (c *Console) keepSignedIn(w http.ResponseWriter, r *http.Request, u *storage.User) bool {
	if u.ID != actorOf(r).user.ID {
		return true
	}
	if _, err := c.srv.SignIn(w, r, u.ID); err != nil {
		c.serverError(w, r, "console: new session after a password change", err)
		return false
	}
	return true
}

// userLock locks or unlocks an account; locking ends its sessions and
// grants.
func (c *Console) userLock(w http.ResponseWriter, r *http.Request) {
	u, ok := c.findUser(w, r)
	if !ok {
		return
	}
	lock := r.PostForm.Get("locked") == "true"
	err := c.svc.SetLocked(r.Context(), c.actorFor(r), u.ID, lock)
	done := "user-unlocked"
	if lock {
		done = "user-locked"
	}
	c.userDone(w, r, u, err, u.Claims, done)
}

// userAdmin grants or removes the admin flag, after the admin's own
// password.
func (c *Console) userAdmin(w http.ResponseWriter, r *http.Request) {
	u, ok := c.findUser(w, r)
	if !ok {
		return
	}
	if !c.reauth(w, r, actorOf(r), r.PostForm.Get("admin_password")) {
		c.renderUserForm(w, r, http.StatusForbidden, u, u.Claims, problem{Key: "admin-password-wrong"}, "", "")
		return
	}
	err := c.svc.SetAdmin(r.Context(), c.actorFor(r), u.ID, r.PostForm.Get("admin") == "true")
	c.userDone(w, r, u, err, u.Claims, "user-admin")
}

// userDeleteConfirm says what deleting the account takes with it.
func (c *Console) userDeleteConfirm(w http.ResponseWriter, r *http.Request) {
	u, ok := c.findUser(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	consents, err := c.svc.UserConsents(ctx, u.ID)
	if err != nil {
		c.serverError(w, r, "console: user consents", err)
		return
	}
	grants, err := c.svc.UserGrants(ctx, u.ID)
	if err != nil {
		c.serverError(w, r, "console: user grants", err)
		return
	}
	sessions, err := c.svc.UserSessions(ctx, u.ID)
	if err != nil {
		c.serverError(w, r, "console: user sessions", err)
		return
	}
	path := c.prefix + "/admin/users/" + url.PathEscape(u.ID)
	d := &deleteData{Kind: "user", ID: u.ID, Name: u.Username, Action: path + "/delete", Back: path,
		Sessions: len(sessions), Grants: len(grants), Consents: len(consents)}
	c.render(w, r, http.StatusOK, "confirm_delete.html", &view{Title: "user-delete", TitleArg: u.Username, Section: "users", Data: d}, nil)
}

func (c *Console) userDelete(w http.ResponseWriter, r *http.Request) {
	u, ok := c.findUser(w, r)
	if !ok {
		return
	}
	err := c.svc.DeleteUser(r.Context(), c.actorFor(r), u.ID)
	switch {
	case errors.Is(err, manage.ErrRefused), errors.Is(err, manage.ErrInvalid):
		c.renderUserForm(w, r, http.StatusBadRequest, u, u.Claims, refused("user-not-deleted", err), "", "")
	case errors.Is(err, storage.ErrNotFound):
		c.notFound(w, r)
	case err != nil:
		c.serverError(w, r, "console: delete user", err)
	default:
		c.redirect(w, r, "/admin/users", "user-deleted")
	}
}

// userDone answers a change to an account: its page with a notice, or
// the form again with the reason it was refused.
func (c *Console) userDone(w http.ResponseWriter, r *http.Request, u *storage.User, err error, claims storage.Claims, done string) {
	switch {
	case errors.Is(err, manage.ErrInvalid), errors.Is(err, manage.ErrRefused):
		c.renderUserForm(w, r, http.StatusBadRequest, u, claims, refused("not-changed", err), "", "")
	case errors.Is(err, storage.ErrNotFound):
		c.notFound(w, r)
	case err != nil:
		c.serverError(w, r, "console: change user", err)
	default:
		c.redirect(w, r, "/admin/users/"+url.PathEscape(u.ID), done)
	}
}

// findUser reads the account of the path's {id}, answering 404 itself.
func (c *Console) findUser(w http.ResponseWriter, r *http.Request) (*storage.User, bool) {
	u, err := c.svc.User(r.Context(), r.PathValue("id"))
	switch {
	case errors.Is(err, storage.ErrNotFound):
		c.notFound(w, r)
		return nil, false
	case err != nil:
		c.serverError(w, r, "console: read user", err)
		return nil, false
	}
	return u, true
}
