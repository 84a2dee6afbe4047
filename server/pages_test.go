package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/oidcd/oidcd/web"
)

// The server's own messages are translated in every built-in language.
func TestServerTextsTranslated(t *testing.T) {
	pages, err := web.NewRenderer(web.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range pages.Languages() {
		for _, s := range []string{msgInvalidLogin, msgBadCSRF, msgServerError, msgUnavailable, "Forbidden", "Temporarily unavailable", "Server error"} {
			if !pages.Translated(lang, s) {
				t.Errorf("%s: no translation of %q", lang, s)
			}
		}
	}
}

// The login page speaks the authorization request's ui_locales (which the
// provider puts on the login URL and the form carries), else
// Accept-Language; its error is tied to the fields.
func TestLoginPageLanguage(t *testing.T) {
	e := newTestServer(t, func(c *Config) {
		c.Provider.OnMissingTranslation = func(lang, msgid string) { t.Errorf("%s: %q shown untranslated", lang, msgid) }
	})
	e.addUser(t, "alice", "correct horse")
	c := e.browser(t)
	r := do(t, c, "GET", e.ts.URL+"/login?ui_locales="+url.QueryEscape("de es")+"&next=/authorize", nil)
	for _, want := range []string{`<html lang="es"`, "<h1>Iniciar sesión</h1>", `name="ui_locales" value="de es"`, ">Contraseña</label>"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("Spanish login page lacks %q:\n%s", want, r.body)
		}
	}
	tok := e.csrf(t, c, "/login")
	r = do(t, c, "POST", e.ts.URL+"/login", url.Values{"csrf_token": {tok}, "username": {"alice"}, "password": {"wrong"}, "ui_locales": {"pl"}})
	for _, want := range []string{`<html lang="pl"`, `id="login-error" role="alert">Nieprawidłowa nazwa użytkownika lub hasło.</p>`, `aria-invalid="true" aria-describedby="login-error"`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("Polish login error lacks %q:\n%s", want, r.body)
		}
	}
	req, _ := http.NewRequestWithContext(t.Context(), "GET", e.ts.URL+"/login", nil)
	req.Header.Set("Accept-Language", "fr-CH, fr;q=0.9, en;q=0.8")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Content-Language") != "fr" {
		t.Errorf("Accept-Language fr-CH: Content-Language %q", resp.Header.Get("Content-Language"))
	}
}

// Branding from the configuration shows on the server's pages and the
// provider's alike, and its assets are served under the issuer's path.
func TestBrandingOnServerPages(t *testing.T) {
	e := newTestServer(t, func(c *Config) {
		c.Provider.Branding = web.Branding{SiteName: "Example ID", PrimaryColor: "#7a1fa2", HelpURL: "https://example.com/help"}
	})
	c := e.browser(t)
	for _, path := range []string{"/login", "/logout", "/authorize?client_id=nobody"} {
		r := do(t, c, "GET", e.ts.URL+path, nil)
		if !strings.Contains(r.body, `<span class="site-name">Example ID</span>`) || !strings.Contains(r.body, `href="https://example.com/help"`) {
			t.Errorf("%s is not branded:\n%s", path, r.body)
		}
	}
	r := do(t, c, "GET", e.ts.URL+"/assets/oidcd.css", nil)
	if r.StatusCode != 200 || !strings.Contains(r.body, "--primary:#7a1fa2") {
		t.Fatalf("stylesheet: %d %.100s", r.StatusCode, r.body)
	}
}
