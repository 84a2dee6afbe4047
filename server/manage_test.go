package server

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/oidcd/oidcd/manage"
	"github.com/oidcd/oidcd/storage"
)

var consoleAdmin = manage.Actor{UserID: "admin-id", Username: "root", IP: "203.0.113.9"}

// A locked account cannot sign in, with the right password, and is
// answered as a wrong password is; unlocked, it can again.
func TestLockedAccountCannotSignIn(t *testing.T) {
	e := newTestServer(t, nil)
	svc, err := e.srv.Manage(0)
	if err != nil {
		t.Fatal(err)
	}
	u := e.addUser(t, "alice", "right password")
	c := e.browser(t)
	if r := e.login(t, c, "alice", "right password", "/x"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("login before the lock: %d", r.StatusCode)
	}
	if err := svc.SetLocked(t.Context(), consoleAdmin, u.ID, true); err != nil {
		t.Fatal(err)
	}
	// The session the user had is gone.
	if who := e.currentUser(t, c); who != "" {
		t.Errorf("a locked user's session still signs in %q", who)
	}
	locked := e.login(t, e.browser(t), "alice", "right password", "/x")
	wrong := e.login(t, e.browser(t), "alice", "wrong password", "/x")
	hidden := regexp.MustCompile(`value="[^"]*"`) // the CSRF token differs per browser
	if locked.StatusCode != http.StatusUnauthorized || locked.StatusCode != wrong.StatusCode ||
		hidden.ReplaceAllString(locked.body, "") != hidden.ReplaceAllString(wrong.body, "") {
		t.Fatalf("locked account: %d, wrong password: %d", locked.StatusCode, wrong.StatusCode)
	}
	if !strings.Contains(e.logs.String(), "reason=account_locked") {
		t.Error("the log does not say the account is locked")
	}
	if err := svc.SetLocked(t.Context(), consoleAdmin, u.ID, false); err != nil {
		t.Fatal(err)
	}
	if r := e.login(t, e.browser(t), "alice", "right password", "/x"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("login after the unlock: %d", r.StatusCode)
	}
}

// Manage is wired to the server's provider: a client changed through it is
// seen by this node at once (no wait for the client cache), and each
// change is a security event.
func TestManageChangesSeenAtOnce(t *testing.T) {
	e := newTestServer(t, nil)
	svc, err := e.srv.Manage(0)
	if err != nil {
		t.Fatal(err)
	}
	res, err := svc.CreateClient(t.Context(), consoleAdmin, storage.Client{Name: "Svc", ResponseTypes: []string{},
		ClientMetadata: storage.ClientMetadata{GrantTypes: []string{"client_credentials"}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	token := func(secret string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, e.ts.URL+"/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(res.Client.ID, secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := token(res.Secret); got != http.StatusOK { // now cached
		t.Fatalf("first secret: %d", got)
	}
	rot, err := svc.RotateClientSecret(t.Context(), consoleAdmin, res.Client.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	// The fixed clock never moves: only dropping the cached client makes
	// the new secret work.
	if got := token(rot.Secret); got != http.StatusOK {
		t.Errorf("the new secret right after the rotation: %d", got)
	}
	if got := token(res.Secret); got != http.StatusUnauthorized {
		t.Errorf("the old secret after a rotation without overlap: %d", got)
	}
	if !strings.Contains(e.logs.String(), "event=admin.client_secret_rotated") {
		t.Error("no security event for the rotation")
	}
}
