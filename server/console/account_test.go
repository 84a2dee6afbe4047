package console

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/oidcd/oidcd/manage"
	"github.com/oidcd/oidcd/storage"
)

// newClient registers a confidential code-flow client through the
// service, as an admin would.
func (e *env) newClient(t *testing.T, name string, requireConsent bool) (*storage.Client, string) {
	t.Helper()
	res, err := e.svc.CreateClient(t.Context(), manage.CommandLine("test"), storage.Client{
		Name: name, RedirectURIs: []string{"http://127.0.0.1:9/cb"}, RequireConsent: requireConsent, ReuseConsent: true,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res.Client, res.Secret
}

func wantInvalidGrant(t *testing.T, what string, err error) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Fatalf("%s: %v, want invalid_grant", what, err)
	}
}

// The account page shows the profile and the applications with access;
// "Revoke" takes an application's consent and grants back: its refresh
// token fails at once and the next sign-in asks for consent again.
func TestAccountApplicationsRevoke(t *testing.T) { testAccountApplicationsRevoke(t, newEnv(t, nil)) }

// TestAccountApplicationsRevokePostgres is the same on PostgreSQL.
func TestAccountApplicationsRevokePostgres(t *testing.T) {
	testAccountApplicationsRevoke(t, newEnvPostgres(t, nil))
}

func testAccountApplicationsRevoke(t *testing.T, e *env) {
	alice := e.addUser(t, "alice", "alice-password", false)
	cl, secret := e.newClient(t, "Photo <Book>", true)
	other, otherSecret := e.newClient(t, "Other App", true)
	c := e.browser(t)
	e.login(t, c, "alice", "alice-password")
	p := e.newRP(t, cl.ID, secret, "http://127.0.0.1:9/cb")
	tok := e.signIn(t, c, p)
	po := e.newRP(t, other.ID, otherSecret, "http://127.0.0.1:9/cb")
	otherTok := e.signIn(t, c, po)

	r := e.get(t, c, "/account")
	wantStatus(t, "account page", r, http.StatusOK)
	for _, want := range []string{"Alice", "alice@example.com", "Photo &lt;Book&gt;", "Other App", `value="` + cl.ID + `"`, "openid"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("account page lacks %q", want)
		}
	}
	if r.Header.Get("X-Frame-Options") != "DENY" || !strings.Contains(r.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") ||
		!strings.Contains(r.Header.Get("Cache-Control"), "no-store") {
		t.Errorf("account page headers: %v", r.Header)
	}

	r = e.post(t, c, "/account", "/account/revoke", url.Values{"client_id": {cl.ID}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/account?done=revoked" {
		t.Fatalf("revoke: %d %q\n%s", r.StatusCode, r.Header.Get("Location"), r.body)
	}
	_, err := p.refresh(tok)
	wantInvalidGrant(t, "refresh after revoke", err)
	if _, err := p.provider.UserInfo(p.ctx, oauth2.StaticTokenSource(tok)); err == nil {
		t.Error("access token works after revoke")
	}
	// The other application keeps its access.
	if _, err := po.refresh(otherTok); err != nil {
		t.Fatalf("the other application's refresh: %v", err)
	}
	r = e.get(t, c, "/account?done=revoked")
	if strings.Contains(r.body, "Photo &lt;Book&gt;") || !strings.Contains(r.body, "Access revoked.") {
		t.Errorf("account page after revoke:\n%s", r.body)
	}
	if _, err := e.store.Consent(t.Context(), alice.ID, cl.ID, e.clock.Now()); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("consent after revoke: %v", err)
	}
	recs, err := e.svc.Audit(t.Context(), storage.AuditQuery{Action: manage.ActionAccountConsentRevoked})
	if err != nil || len(recs) != 1 || recs[0].ActorID != alice.ID || recs[0].IP != "127.0.0.1" {
		t.Fatalf("audit: %+v %v", recs, err)
	}
	// Another user's application cannot be revoked from this account: the
	// service revokes only the signed-in user's own.
	bob := e.addUser(t, "bob", "bob-password", false)
	cb := e.browser(t)
	e.login(t, cb, "bob", "bob-password")
	bobTok := e.signIn(t, cb, po)
	e.post(t, c, "/account", "/account/revoke", url.Values{"client_id": {other.ID}, "user_id": {bob.ID}})
	if _, err := po.refresh(bobTok); err != nil {
		t.Fatalf("bob's grant after alice revoked her own: %v", err)
	}
}

// Changing the password needs the current one (checked behind the login
// throttle), ends every other session and grant, and keeps this browser
// signed in with a new session.
func TestAccountChangePassword(t *testing.T) { testAccountChangePassword(t, newEnv(t, nil)) }

// TestAccountChangePasswordPostgres is the same on PostgreSQL.
func TestAccountChangePasswordPostgres(t *testing.T) {
	testAccountChangePassword(t, newEnvPostgres(t, nil))
}

func testAccountChangePassword(t *testing.T, e *env) {
	e.addUser(t, "alice", "alice-password", false)
	cl, secret := e.newClient(t, "App", false)
	c, other := e.browser(t), e.browser(t)
	e.login(t, c, "alice", "alice-password")
	e.login(t, other, "alice", "alice-password")
	p := e.newRP(t, cl.ID, secret, "http://127.0.0.1:9/cb")
	tok := e.signIn(t, other, p)

	for _, tc := range []struct {
		name             string
		current, pw, pw2 string
		status           int
		says             string
	}{
		{"wrong current password", "nope", "new-password-1", "new-password-1", http.StatusForbidden, "current password is not correct"},
		{"no current password", "", "new-password-1", "new-password-1", http.StatusForbidden, "current password is not correct"},
		{"confirmation differs", "alice-password", "new-password-1", "new-password-2", http.StatusBadRequest, "differ"},
		{"too short", "alice-password", "short", "short", http.StatusBadRequest, "shorter than"},
	} {
		r := e.post(t, c, "/account", "/account/password", url.Values{"current_password": {tc.current}, "new_password": {tc.pw}, "confirm_password": {tc.pw2}})
		wantStatus(t, tc.name, r, tc.status)
		if !strings.Contains(r.body, tc.says) {
			t.Errorf("%s: page does not say %q:\n%s", tc.name, tc.says, r.body)
		}
	}
	if _, err := p.refresh(tok); err != nil {
		t.Fatalf("refused changes ended the grant: %v", err)
	}

	r := e.post(t, c, "/account", "/account/password", url.Values{"current_password": {"alice-password"}, "new_password": {"new-password-1"}, "confirm_password": {"new-password-1"}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/account?done=password" {
		t.Fatalf("change: %d %q\n%s", r.StatusCode, r.Header.Get("Location"), r.body)
	}
	wantStatus(t, "this browser after the change", e.get(t, c, "/account"), http.StatusOK)
	wantLogin(t, "the other browser after the change", e.get(t, other, "/account"), "/account")
	_, err := p.refresh(tok)
	wantInvalidGrant(t, "refresh after the password change", err)
	if _, err := e.srv.Authenticate(t.Context(), "alice", "alice-password", "10.0.0.1"); err == nil {
		t.Error("the old password still works")
	}
	if _, err := e.srv.Authenticate(t.Context(), "alice", "new-password-1", "10.0.0.1"); err != nil {
		t.Errorf("the new password: %v", err)
	}
}

// Guessing the current password on the account page is throttled like
// the login page: after the lockout even the right one is refused.
func TestAccountPasswordThrottled(t *testing.T) { testAccountPasswordThrottled(t, newEnv(t, nil)) }

// TestAccountPasswordThrottledPostgres is the same on PostgreSQL.
func TestAccountPasswordThrottledPostgres(t *testing.T) {
	testAccountPasswordThrottled(t, newEnvPostgres(t, nil))
}

func testAccountPasswordThrottled(t *testing.T, e *env) {
	e.addUser(t, "alice", "alice-password", false)
	c := e.browser(t)
	e.login(t, c, "alice", "alice-password")
	for i := range 10 {
		r := e.post(t, c, "/account", "/account/password", url.Values{"current_password": {"guess" + string(rune('a'+i))}, "new_password": {"new-password-1"}, "confirm_password": {"new-password-1"}})
		wantStatus(t, "guess", r, http.StatusForbidden)
	}
	r := e.post(t, c, "/account", "/account/password", url.Values{"current_password": {"alice-password"}, "new_password": {"new-password-1"}, "confirm_password": {"new-password-1"}})
	wantStatus(t, "the right password during the lockout", r, http.StatusForbidden)
	if _, err := e.srv.Authenticate(t.Context(), "alice", "new-password-1", "10.9.9.9"); err == nil {
		t.Fatal("the password changed during the lockout")
	}
}

// "Sign out everywhere" ends every session of the user, this one too, and
// revokes the grants made in them.
func TestAccountSignOutEverywhere(t *testing.T) { testAccountSignOutEverywhere(t, newEnv(t, nil)) }

// TestAccountSignOutEverywherePostgres is the same on PostgreSQL.
func TestAccountSignOutEverywherePostgres(t *testing.T) {
	testAccountSignOutEverywhere(t, newEnvPostgres(t, nil))
}

func testAccountSignOutEverywhere(t *testing.T, e *env) {
	e.addUser(t, "alice", "alice-password", false)
	bob := e.addUser(t, "bob", "bob-password", false)
	cl, secret := e.newClient(t, "App", false)
	a1, a2, b := e.browser(t), e.browser(t), e.browser(t)
	e.login(t, a1, "alice", "alice-password")
	e.login(t, a2, "alice", "alice-password")
	e.login(t, b, "bob", "bob-password")
	p := e.newRP(t, cl.ID, secret, "http://127.0.0.1:9/cb")
	tok := e.signIn(t, a2, p)
	bobTok := e.signIn(t, b, p)

	r := e.get(t, a1, "/account")
	if !strings.Contains(r.body, "Browsers or devices you are signed in on: 2.") {
		t.Errorf("the account page does not count 2 sessions:\n%s", r.body)
	}
	r = e.post(t, a1, "/account", "/account/sign-out-everywhere", nil)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/logout" {
		t.Fatalf("sign out everywhere: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	wantLogin(t, "this browser", e.get(t, a1, "/account"), "/account")
	wantLogin(t, "the other browser", e.get(t, a2, "/account"), "/account")
	wantStatus(t, "bob", e.get(t, b, "/account"), http.StatusOK)
	_, err := p.refresh(tok)
	wantInvalidGrant(t, "alice's refresh", err)
	if _, err := p.refresh(bobTok); err != nil {
		t.Fatalf("bob's refresh: %v", err)
	}
	if s, _ := e.svc.UserSessions(t.Context(), bob.ID); len(s) != 1 {
		t.Errorf("bob's sessions: %d", len(s))
	}
}

func manageSpec(name string) storage.Client {
	return storage.Client{Name: name, RedirectURIs: []string{"http://127.0.0.1:9/cb"}}
}
