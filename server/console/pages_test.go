package console

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// OIDCD_ADMIN_ENABLE=false: no admin pages at all; the account page stays.
func TestAdminDisabled(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.DisableAdmin = true })
	c := e.adminBrowser(t)
	for _, p := range []string{"/admin/", "/admin/clients", "/admin/users/x"} {
		wantStatus(t, p, e.get(t, c, p), http.StatusNotFound)
	}
	r := e.get(t, c, "/account")
	wantStatus(t, "account", r, http.StatusOK)
	if strings.Contains(r.body, "/admin/") {
		t.Error("the account page links to the disabled admin")
	}
}

var (
	inputRE = regexp.MustCompile(`<(input|select|textarea)\b[^>]*>`)
	idRE    = regexp.MustCompile(`\bid="([^"]+)"`)
	typeRE  = regexp.MustCompile(`\btype="([^"]+)"`)
)

// checkPage checks what every console page must have: the strict headers
// of the other pages, a label for every field, one h1, the viewport meta.
func checkPage(t *testing.T, name string, r response) {
	t.Helper()
	h := r.Header
	if h.Get("X-Frame-Options") != "DENY" || h.Get("Content-Security-Policy") != "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'" ||
		h.Get("Referrer-Policy") != "no-referrer" || !strings.Contains(h.Get("Cache-Control"), "no-store") {
		t.Errorf("%s: headers %v", name, h)
	}
	body := r.body
	if strings.Count(body, "<h1") != 1 || !strings.Contains(body, `name="viewport"`) || !strings.Contains(body, `<main id="main">`) {
		t.Errorf("%s: no single h1, viewport or main", name)
	}
	if strings.Contains(body, "<script") {
		t.Errorf("%s: has a script", name)
	}
	// The shared stylesheet, no inline style (the policy would block it).
	if !strings.Contains(body, `/assets/oidcd.css?v=`) || strings.Contains(body, "<style") || strings.Contains(body, " style=") {
		t.Errorf("%s: not styled by the stylesheet alone", name)
	}
	for _, in := range inputRE.FindAllString(body, -1) {
		if tm := typeRE.FindStringSubmatch(in); tm != nil && (tm[1] == "hidden" || tm[1] == "submit") || strings.Contains(in, " hidden") {
			continue
		}
		if strings.Contains(in, `type="checkbox"`) {
			continue // wrapped in its label
		}
		m := idRE.FindStringSubmatch(in)
		if m == nil || !strings.Contains(body, `<label for="`+m[1]+`"`) {
			t.Errorf("%s: a field without a label: %s", name, in)
		}
	}
	for _, f := range regexp.MustCompile(`(?s)<form method="post".*?</form>`).FindAllString(body, -1) {
		if !strings.Contains(f, `name="csrf_token"`) {
			t.Errorf("%s: a form without a CSRF token: %.200s", name, f)
		}
	}
}

// Every page of the console, under an issuer with a path: links stay
// under it, and each page passes checkPage.
func TestEveryPage(t *testing.T) {
	e := newEnvAt(t, "/idp", nil)
	e.addUser(t, "root", "root-password", true)
	c := e.browser(t)
	r := e.get(t, c, "/idp/login")
	tok := csrfRE.FindStringSubmatch(r.body)[1]
	r = do(t, c, "POST", e.ts.URL+"/idp/login", url.Values{"csrf_token": {tok}, "username": {"root"}, "password": {"root-password"}})
	wantStatus(t, "login", r, http.StatusSeeOther)
	alice := e.addUser(t, "alice", "alice-password", false)
	cl, _ := e.newClient(t, "App", true)
	keys, _ := e.svc.Keys(t.Context())

	pages := []string{"/idp/account", "/idp/admin/", "/idp/admin/clients", "/idp/admin/clients/new", "/idp/admin/clients/" + cl.ID,
		"/idp/admin/clients/" + cl.ID + "/delete", "/idp/admin/keys", "/idp/admin/users", "/idp/admin/users/new",
		"/idp/admin/users/" + alice.ID, "/idp/admin/users/" + alice.ID + "/delete", "/idp/admin/consents", "/idp/admin/consents?user=alice",
		"/idp/admin/consents?client=" + cl.ID, "/idp/admin/sessions", "/idp/admin/sessions?user=root", "/idp/admin/audit"}
	for _, p := range pages {
		r := e.get(t, c, p)
		wantStatus(t, p, r, http.StatusOK)
		checkPage(t, p, r)
		for _, m := range regexp.MustCompile(`(?:href|action)="(/[^"]*)"`).FindAllStringSubmatch(r.body, -1) {
			if !strings.HasPrefix(m[1], "/idp/") {
				t.Errorf("%s: a link out of the issuer's path: %s", p, m[1])
			}
		}
	}
	if len(keys) == 0 {
		t.Fatal("no keys")
	}
	r = e.get(t, c, "/idp/admin/no-such-page")
	wantStatus(t, "unknown admin page", r, http.StatusNotFound)
	checkPage(t, "404", r)
	r = e.get(t, c, "/idp/admin")
	if r.StatusCode != http.StatusMovedPermanently || r.Header.Get("Location") != "/idp/admin/" {
		t.Errorf("/idp/admin: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	// Trailing slashes are the same pages.
	for _, p := range []string{"/idp/account/", "/idp/admin/clients/", "/idp/admin/keys/", "/idp/admin/users/", "/idp/admin/consents/", "/idp/admin/sessions/", "/idp/admin/audit/"} {
		wantStatus(t, p, e.get(t, c, p), http.StatusOK)
	}
	// The login page comes back under the path.
	if r = e.get(t, e.browser(t), "/idp/admin/users"); r.Header.Get("Location") != "/idp/login?next=%2Fidp%2Fadmin%2Fusers" {
		t.Errorf("anonymous: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
}
