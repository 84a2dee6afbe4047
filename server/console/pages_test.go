package console

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/oidcd/oidcd/manage"
	"github.com/oidcd/oidcd/storage"
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

// Every console page renders in every language with no message left
// untranslated (the templates' and the Go code's), declares its language,
// and keeps it through ui_locales, the user's locale claim or
// Accept-Language.
func TestEveryPageEveryLanguage(t *testing.T) {
	e := newEnvAt(t, "/idp", nil)
	e.addUser(t, "root", "root-password", true)
	c := e.browser(t)
	r := e.get(t, c, "/idp/login")
	tok := csrfRE.FindStringSubmatch(r.body)[1]
	r = do(t, c, "POST", e.ts.URL+"/idp/login", url.Values{"csrf_token": {tok}, "username": {"root"}, "password": {"root-password"}})
	wantStatus(t, "login", r, http.StatusSeeOther)
	alice := e.addUser(t, "alice", "alice-password", false)
	ac := e.browser(t)
	r = e.get(t, ac, "/idp/login")
	tok = csrfRE.FindStringSubmatch(r.body)[1]
	r = do(t, ac, "POST", e.ts.URL+"/idp/login", url.Values{"csrf_token": {tok}, "username": {"alice"}, "password": {"alice-password"}})
	wantStatus(t, "alice's login", r, http.StatusSeeOther)
	cl, _ := e.newClient(t, "App", true)
	untranslated.take()

	pages := []string{"/idp/account", "/idp/admin/", "/idp/admin/clients", "/idp/admin/clients?q=App", "/idp/admin/clients?q=nothing",
		"/idp/admin/clients/new", "/idp/admin/clients/" + cl.ID, "/idp/admin/clients/" + cl.ID + "/delete", "/idp/admin/keys",
		"/idp/admin/users", "/idp/admin/users?q=zed", "/idp/admin/users/new", "/idp/admin/users/" + alice.ID,
		"/idp/admin/users/" + alice.ID + "/delete", "/idp/admin/consents", "/idp/admin/consents?user=alice",
		"/idp/admin/consents?client=" + cl.ID, "/idp/admin/sessions", "/idp/admin/sessions?user=root", "/idp/admin/audit",
		"/idp/admin/audit?action=nothing", "/idp/admin/clients?done=client-saved", "/idp/admin/no-such-page"}
	words := map[string]string{"en": "Sign out", "es": "Cerrar sesión", "fr": "Se déconnecter", "pl": "Wyloguj się"}
	for _, lang := range []string{"en", "es", "fr", "pl"} {
		for _, p := range pages {
			sep := "?"
			if strings.Contains(p, "?") {
				sep = "&"
			}
			r := e.get(t, c, p+sep+"ui_locales="+lang)
			if r.StatusCode != http.StatusOK && r.StatusCode != http.StatusNotFound {
				t.Errorf("%s in %s: status %d", p, lang, r.StatusCode)
			}
			if !strings.Contains(r.body, `<html lang="`+lang+`"`) || !strings.Contains(r.body, words[lang]) {
				t.Errorf("%s in %s: not in the language:\n%s", p, lang, r.body)
			}
		}
		// A page made by a form post (the new client's secret), the
		// refusal of an admin page to a user, a form with an error.
		q := "?ui_locales=" + lang
		r := e.post(t, c, "/idp/admin/clients/new"+q, "/idp/admin/clients/new"+q, url.Values{"client_name": {"RP " + lang},
			"type": {"confidential"}, "redirect_uris": {"https://rp.example/cb"}, "response_types": {"code"}})
		wantStatus(t, "new client in "+lang, r, http.StatusOK)
		if !strings.Contains(r.body, `id="client_secret"`) || !strings.Contains(r.body, `<html lang="`+lang+`"`) {
			t.Errorf("new client in %s:\n%s", lang, r.body)
		}
		r = e.get(t, ac, "/idp/admin/"+q)
		wantStatus(t, "alice on the admin pages in "+lang, r, http.StatusForbidden)
		r = e.post(t, c, "/idp/admin/keys"+q, "/idp/admin/keys/import"+q, url.Values{"pem": {""}})
		wantStatus(t, "an empty import in "+lang, r, http.StatusBadRequest)
	}
	// Without ui_locales: the user's locale claim, then Accept-Language.
	req, _ := http.NewRequestWithContext(t.Context(), "GET", e.ts.URL+"/idp/account", nil)
	req.Header.Set("Accept-Language", "fr-CA,fr;q=0.9")
	if r := doReq(t, ac, req); !strings.Contains(r.body, `<html lang="fr"`) {
		t.Errorf("Accept-Language fr: %.300s", r.body)
	}
	if _, err := e.svc.UpdateUserClaims(t.Context(), manage.Actor{Username: "test"}, alice.ID, func(c *storage.Claims) error { c.Locale = "pl-PL"; return nil }); err != nil {
		t.Fatal(err)
	}
	if r := doReq(t, ac, req); !strings.Contains(r.body, `<html lang="pl"`) {
		t.Errorf("locale claim pl-PL before Accept-Language fr: %.300s", r.body)
	}
	for _, m := range untranslated.take() {
		t.Errorf("untranslated: %s", m)
	}
}

// doReq sends req as c does and reads the answer.
func doReq(t *testing.T, c *http.Client, req *http.Request) response {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp, string(b)}
}
