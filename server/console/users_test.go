package console

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/oidcd/oidcd/manage"
	"github.com/oidcd/oidcd/storage"
)

// An admin creates an account, finds it by search and paging, edits its
// claims; a bad claim or a taken username is refused with the reason.
func TestAdminUsersCreateListEdit(t *testing.T) { testAdminUsersCreateListEdit(t, newEnv(t, nil)) }

// TestAdminUsersCreateListEditPostgres is the same on PostgreSQL.
func TestAdminUsersCreateListEditPostgres(t *testing.T) {
	testAdminUsersCreateListEdit(t, newEnvPostgres(t, nil))
}

func testAdminUsersCreateListEdit(t *testing.T, e *env) {
	c := e.adminBrowser(t)

	r := e.post(t, c, "/admin/users/new", "/admin/users/new", url.Values{"username": {"carol"}, "password": {"carol-password"},
		"name": {"Carol <C>"}, "email": {"carol@example.com"}, "email_verified": {"1"}})
	if r.StatusCode != http.StatusSeeOther || !strings.HasSuffix(r.Header.Get("Location"), "?done=user-created") {
		t.Fatalf("create: %d %q\n%s", r.StatusCode, r.Header.Get("Location"), r.body)
	}
	carol, err := e.store.UserByUsername(t.Context(), "carol")
	if err != nil || carol.Name != "Carol <C>" || !carol.EmailVerified || carol.Admin || r.Header.Get("Location") != "/admin/users/"+carol.ID+"?done=user-created" {
		t.Fatalf("stored %+v %v", carol, err)
	}
	if _, err := e.srv.Authenticate(t.Context(), "carol", "carol-password", "10.0.0.1"); err != nil {
		t.Fatalf("carol cannot sign in: %v", err)
	}
	for _, tc := range []struct{ name, username, password, email, says string }{
		{"taken", "carol", "carol-password", "", "taken"},
		{"short password", "dave", "short", "", "shorter than"},
		{"bad email", "dave", "dave-password", "not an email", "email"},
	} {
		r := e.post(t, c, "/admin/users/new", "/admin/users/new", url.Values{"username": {tc.username}, "password": {tc.password}, "email": {tc.email}})
		wantStatus(t, tc.name, r, http.StatusBadRequest)
		if !strings.Contains(r.body, "not created") || !strings.Contains(r.body, tc.says) || !strings.Contains(r.body, `value="`+tc.username+`"`) {
			t.Errorf("%s: the form does not say why or lost the input:\n%s", tc.name, r.body)
		}
	}

	// Paging and search.
	for i := range 55 { // stored directly: 55 password hashes would only cost time
		u := &storage.User{ID: fmt.Sprintf("id%02d", i), Username: fmt.Sprintf("user%02d", i), CreatedAt: e.clock.Now()}
		if err := e.store.CreateUser(t.Context(), u); err != nil {
			t.Fatal(err)
		}
	}
	r = e.get(t, c, "/admin/users")
	if !strings.Contains(r.body, "1–50 of 57") || !strings.Contains(r.body, `href="/admin/users?page=2" rel="next"`) || strings.Contains(r.body, "user54") {
		t.Fatalf("first page:\n%s", r.body)
	}
	r = e.get(t, c, "/admin/users?page=2")
	if !strings.Contains(r.body, "51–57 of 57") || !strings.Contains(r.body, "user54") || !strings.Contains(r.body, `rel="prev"`) || strings.Contains(r.body, `rel="next"`) {
		t.Fatalf("second page:\n%s", r.body)
	}
	r = e.get(t, c, "/admin/users?q=CAROL")
	if !strings.Contains(r.body, "1–1 of 1") || !strings.Contains(r.body, "Carol &lt;C&gt;") {
		t.Fatalf("search:\n%s", r.body)
	}

	// Edit the claims.
	page := "/admin/users/" + carol.ID
	r = e.post(t, c, page, page, url.Values{"name": {"Carol Cole"}, "email": {"cc@example.com"}, "locale": {"fr-CA"}, "phone_number": {"+1 555 0100"}, "phone_number_verified": {"1"}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != page+"?done=user-saved" {
		t.Fatalf("save claims: %d %q\n%s", r.StatusCode, r.Header.Get("Location"), r.body)
	}
	got, _ := e.store.User(t.Context(), carol.ID)
	if got.Name != "Carol Cole" || got.Email != "cc@example.com" || got.EmailVerified || got.Locale != "fr-CA" || !got.PhoneNumberVerified {
		t.Fatalf("claims after save: %+v", got.Claims)
	}
	r = e.post(t, c, page, page, url.Values{"email": {"nope"}})
	wantStatus(t, "bad claim", r, http.StatusBadRequest)
	if got, _ := e.store.User(t.Context(), carol.ID); got.Email != "cc@example.com" {
		t.Fatal("a refused edit changed the claims")
	}
	wantStatus(t, "unknown user", e.get(t, c, "/admin/users/no-such-id"), http.StatusNotFound)
	if acts := e.auditActions(t, "user:"+carol.ID); len(acts) != 2 {
		t.Errorf("audit of carol: %v", acts)
	}
}

var generatedRE = regexp.MustCompile(`id="generated_password">([^<]+)<`)

// Setting another user's password or admin flag asks for the admin's own
// password again: without it, or with a wrong one, nothing changes.
func TestAdminUserReauth(t *testing.T) {
	e := newEnv(t, nil)
	c := e.adminBrowser(t)
	carol := e.addUser(t, "carol", "carol-password", false)
	cc := e.browser(t)
	e.login(t, cc, "carol", "carol-password")
	page := "/admin/users/" + carol.ID
	hash := func() string { u, _ := e.store.User(t.Context(), carol.ID); return u.PasswordHash }
	h0 := hash()

	for _, own := range []string{"", "wrong-password"} {
		r := e.post(t, c, page, page+"/password", url.Values{"password": {"new-carol-password"}, "confirm_password": {"new-carol-password"}, "admin_password": {own}})
		wantStatus(t, "set password with own password "+own, r, http.StatusForbidden)
		if !strings.Contains(r.body, "Your own password is not correct") {
			t.Errorf("the refusal does not say why:\n%s", r.body)
		}
		r = e.post(t, c, page, page+"/admin", url.Values{"admin": {"true"}, "admin_password": {own}})
		wantStatus(t, "admin flag with own password "+own, r, http.StatusForbidden)
	}
	if hash() != h0 {
		t.Fatal("the password changed without the admin's password")
	}
	if u, _ := e.store.User(t.Context(), carol.ID); u.Admin {
		t.Fatal("the admin flag changed without the admin's password")
	}
	wantStatus(t, "carol still signed in", e.get(t, cc, "/account"), http.StatusOK)

	// With it: the password changes and carol's sessions end.
	r := e.post(t, c, page, page+"/password", url.Values{"password": {"new-carol-password"}, "confirm_password": {"new-carol-password"}, "admin_password": {"root-password"}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != page+"?done=user-password" {
		t.Fatalf("set password: %d %q\n%s", r.StatusCode, r.Header.Get("Location"), r.body)
	}
	wantLogin(t, "carol after the new password", e.get(t, cc, "/account"), "/account")
	if _, err := e.srv.Authenticate(t.Context(), "carol", "new-carol-password", "10.0.0.1"); err != nil {
		t.Fatalf("the new password: %v", err)
	}
	// A generated password is shown once and works.
	r = e.post(t, c, page, page+"/password", url.Values{"generate": {"1"}, "admin_password": {"root-password"}})
	wantStatus(t, "generate", r, http.StatusOK)
	m := generatedRE.FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("no generated password:\n%s", r.body)
	}
	if _, err := e.srv.Authenticate(t.Context(), "carol", m[1], "10.0.0.1"); err != nil {
		t.Fatalf("the generated password: %v", err)
	}
	wantStatus(t, "mismatched confirmation", e.post(t, c, page, page+"/password", url.Values{"password": {"aaaaaaaaaa"}, "confirm_password": {"bbbbbbbbbb"}, "admin_password": {"root-password"}}), http.StatusBadRequest)

	// The admin flag: granted with the admin's password; carol is an admin.
	wantStatus(t, "make admin", e.post(t, c, page, page+"/admin", url.Values{"admin": {"true"}, "admin_password": {"root-password"}}), http.StatusSeeOther)
	e.login(t, cc, "carol", m[1])
	wantStatus(t, "carol in the admin", e.get(t, cc, "/admin/"), http.StatusOK)
	wantStatus(t, "remove admin", e.post(t, c, page, page+"/admin", url.Values{"admin": {"false"}, "admin_password": {"root-password"}}), http.StatusSeeOther)
	wantStatus(t, "carol out of the admin", e.get(t, cc, "/admin/"), http.StatusForbidden)

	// An admin cannot remove their own flag.
	root, _ := e.store.UserByUsername(t.Context(), "root")
	rp := "/admin/users/" + root.ID
	r = e.post(t, c, rp, rp+"/admin", url.Values{"admin": {"false"}, "admin_password": {"root-password"}})
	wantStatus(t, "remove own admin flag", r, http.StatusBadRequest)
	if !strings.Contains(r.body, "your own admin flag") {
		t.Errorf("the refusal does not say why:\n%s", r.body)
	}
	want := []string{manage.ActionUserAdminRemoved, manage.ActionUserAdminGranted, manage.ActionPasswordChanged, manage.ActionPasswordChanged}
	if got := e.auditActions(t, "user:"+carol.ID); len(got) != len(want) {
		t.Errorf("audit of carol: %v, want %v (any order within a second)", got, want)
	}
}

// Locking ends the user's sessions and grants and stops sign-in; unlocking
// lets them in again. Deleting asks first and says what goes.
func TestAdminUserLockDelete(t *testing.T) { testAdminUserLockDelete(t, newEnv(t, nil)) }

// TestAdminUserLockDeletePostgres is the same on PostgreSQL.
func TestAdminUserLockDeletePostgres(t *testing.T) {
	testAdminUserLockDelete(t, newEnvPostgres(t, nil))
}

func testAdminUserLockDelete(t *testing.T, e *env) {
	c := e.adminBrowser(t)
	carol := e.addUser(t, "carol", "carol-password", false)
	cl, secret := e.newClient(t, "App", true)
	cc := e.browser(t)
	e.login(t, cc, "carol", "carol-password")
	p := e.newRP(t, cl.ID, secret, "http://127.0.0.1:9/cb")
	tok := e.signIn(t, cc, p)
	page := "/admin/users/" + carol.ID

	r := e.post(t, c, page, page+"/lock", url.Values{"locked": {"true"}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != page+"?done=user-locked" {
		t.Fatalf("lock: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	wantLogin(t, "carol's browser after the lock", e.get(t, cc, "/account"), "/account")
	_, err := p.refresh(tok)
	wantInvalidGrant(t, "refresh after the lock", err)
	if _, err := e.srv.Authenticate(t.Context(), "carol", "carol-password", "10.0.0.2"); err == nil {
		t.Fatal("a locked account signs in")
	}
	if r = e.get(t, c, page+"?done=user-locked"); !strings.Contains(r.body, "This account is locked") {
		t.Errorf("the user page does not say locked:\n%s", r.body)
	}
	wantStatus(t, "unlock", e.post(t, c, page, page+"/lock", url.Values{"locked": {"false"}}), http.StatusSeeOther)
	e.login(t, cc, "carol", "carol-password")

	// Locking or deleting oneself is refused.
	root, _ := e.store.UserByUsername(t.Context(), "root")
	rp := "/admin/users/" + root.ID
	wantStatus(t, "lock self", e.post(t, c, rp, rp+"/lock", url.Values{"locked": {"true"}}), http.StatusBadRequest)
	wantStatus(t, "delete self", e.post(t, c, rp, rp+"/delete", nil), http.StatusBadRequest)
	if r = e.get(t, c, rp); !strings.Contains(r.body, "You cannot delete your own account here") {
		t.Error("the own user page offers deletion")
	}

	tok = e.signIn(t, cc, p)
	r = e.get(t, c, page+"/delete")
	wantStatus(t, "delete confirmation", r, http.StatusOK)
	for _, want := range []string{"its live sessions: 1", "its live grants: 1;", "its remembered consents: 1", "cannot be undone"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("delete confirmation lacks %q:\n%s", want, r.body)
		}
	}
	r = e.post(t, c, page+"/delete", page+"/delete", nil)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/admin/users?done=user-deleted" {
		t.Fatalf("delete: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	if _, err := e.store.User(t.Context(), carol.ID); err == nil {
		t.Fatal("carol still exists")
	}
	_, err = p.refresh(tok)
	wantInvalidGrant(t, "refresh after the deletion", err)
	wantLogin(t, "carol's browser after the deletion", e.get(t, cc, "/account"), "/account")
}
