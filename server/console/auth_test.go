package console

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

var wildcard = regexp.MustCompile(`\{[^}]*\}`)

// adminURLs are every admin route of the table with its wildcards filled
// in, plus paths no route names.
func adminURLs(e *env) [][2]string {
	var out [][2]string
	for _, rt := range e.console.adminTable() {
		p := wildcard.ReplaceAllStringFunc(rt.path, func(w string) string {
			if w == "{$}" {
				return ""
			}
			return "x"
		})
		out = append(out, [2]string{rt.method, "/admin" + p})
		if rt.method == "GET" {
			out = append(out, [2]string{"POST", "/admin" + p})
		}
	}
	return append(out, [2]string{"GET", "/admin"}, [2]string{"GET", "/admin/no-such-page"}, [2]string{"DELETE", "/admin/clients"})
}

// A signed-in user without the admin flag gets 403 on every admin route,
// whatever the method, known or not, with or without a valid CSRF token;
// the refusal is logged.
func TestNonAdminForbiddenEverywhere(t *testing.T) {
	e := newEnv(t, nil)
	e.addUser(t, "bob", "bob-password", false)
	c := e.browser(t)
	e.login(t, c, "bob", "bob-password")
	for _, mp := range adminURLs(e) {
		var form url.Values
		if mp[0] == "POST" {
			form = url.Values{"csrf_token": {e.token(t, c, "/account")}}
		}
		r := do(t, c, mp[0], e.ts.URL+mp[1], form)
		wantStatus(t, mp[0]+" "+mp[1], r, http.StatusForbidden)
		if !strings.Contains(r.body, "administrators only") {
			t.Errorf("%s %s: 403 page does not say why:\n%s", mp[0], mp[1], r.body)
		}
	}
	if !strings.Contains(e.logs.String(), "admin page refused to a non-admin") {
		t.Error("refusals are not logged")
	}
}

// Anonymous browsers are sent to the login page, which comes back to the
// page asked for; a form post comes back to the overview.
func TestAdminNeedsSignIn(t *testing.T) {
	e := newEnv(t, nil)
	c := e.browser(t)
	wantLogin(t, "GET /admin/clients", e.get(t, c, "/admin/clients?q=x"), "/admin/clients?q=x")
	wantLogin(t, "POST /admin/clients/new", do(t, c, "POST", e.ts.URL+"/admin/clients/new", url.Values{}), "/admin/")
	wantLogin(t, "GET /account", e.get(t, c, "/account"), "/account")
}

// Admin pages accept a session for AdminIdleExpire after the last admin
// request and AdminSessionExpire after sign-in, both shorter than a user
// session; then the admin signs in again and goes on.
func TestAdminTimeouts(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.AdminIdleExpire = 15 * time.Minute; c.AdminSessionExpire = time.Hour })
	e.addUser(t, "root", "root-password", true)
	c := e.browser(t)
	e.login(t, c, "root", "root-password")
	wantStatus(t, "fresh admin session", e.get(t, c, "/admin/"), http.StatusOK)

	// Busy: a request every 10 minutes keeps the admin in, up to the hour.
	for i := 0; i < 5; i++ {
		e.clock.Add(10 * time.Minute)
		wantStatus(t, "busy admin", e.get(t, c, "/admin/"), http.StatusOK)
	}
	e.clock.Add(11 * time.Minute) // 61 minutes after sign-in
	wantLogin(t, "after AdminSessionExpire", e.get(t, c, "/admin/users"), "/admin/users")
	// The account page still works: the user session lasts 14 days.
	wantStatus(t, "account page after the admin timeout", e.get(t, c, "/account"), http.StatusOK)

	// Signing in again opens the admin pages again.
	e.login(t, c, "root", "root-password")
	wantStatus(t, "after signing in again", e.get(t, c, "/admin/"), http.StatusOK)
	// Idle: 16 minutes without an admin request.
	e.clock.Add(16 * time.Minute)
	wantLogin(t, "after AdminIdleExpire", e.get(t, c, "/admin/"), "/admin/")
	// A form post of a timed-out admin changes nothing and goes to the login page.
	r := do(t, c, "POST", e.ts.URL+"/admin/users/new", url.Values{"csrf_token": {e.token(t, c, "/account")}, "username": {"eve"}})
	wantLogin(t, "POST after AdminIdleExpire", r, "/admin/")
}

// Entering the admin pages long after signing in (no admin request since)
// asks for the password again: the idle clock starts at sign-in.
func TestAdminIdleFromSignIn(t *testing.T) {
	e := newEnv(t, nil)
	e.addUser(t, "root", "root-password", true)
	c := e.browser(t)
	e.login(t, c, "root", "root-password")
	e.clock.Add(20 * time.Minute)
	wantStatus(t, "account page", e.get(t, c, "/account"), http.StatusOK)
	wantLogin(t, "admin 20 minutes after sign-in", e.get(t, c, "/admin/"), "/admin/")
}

// The idle cookie is bound to its session: one copied from another
// admin's browser, or forged, does not extend this one.
func TestAdminIdleCookieBound(t *testing.T) {
	e := newEnv(t, nil)
	e.addUser(t, "root", "root-password", true)
	a, b := e.browser(t), e.browser(t)
	e.login(t, a, "root", "root-password")
	e.clock.Add(14 * time.Minute)
	e.login(t, b, "root", "root-password")
	r := e.get(t, b, "/admin/")
	wantStatus(t, "b", r, http.StatusOK)
	var idle *http.Cookie
	for _, ck := range r.Cookies() {
		if ck.Name == adminCookie {
			idle = ck
		}
	}
	if idle == nil || !idle.HttpOnly || idle.Path != "/admin" {
		t.Fatalf("admin idle cookie %+v", idle)
	}
	e.clock.Add(2 * time.Minute) // a: 16 minutes since sign-in, no admin request
	u, _ := url.Parse(e.ts.URL + "/admin/")
	a.Jar.SetCookies(u, []*http.Cookie{{Name: adminCookie, Value: idle.Value, Path: "/admin"}})
	wantLogin(t, "a with b's idle cookie", e.get(t, a, "/admin/"), "/admin/")
}
