package web

import (
	"net/http/httptest"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

// Every catalog translates exactly the messages of en.po, the reference,
// and en.po has every message the templates use: a message added to a
// template without its translations fails here, not on a page.
func TestCatalogsComplete(t *testing.T) {
	r, err := NewRenderer(Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := r.Messages("en")
	if len(want) == 0 {
		t.Fatal("en.po holds no message")
	}
	for _, id := range r.TemplateMessages() {
		if !slices.Contains(want, id) {
			t.Errorf("en.po lacks %q, used by a template", id)
		}
	}
	for _, lang := range r.Languages() {
		got := r.Messages(lang)
		for _, id := range want {
			if !slices.Contains(got, id) {
				t.Errorf("%s.po: no translation of %q", lang, id)
			}
		}
		for _, id := range got {
			if !slices.Contains(want, id) {
				t.Errorf("%s.po: %q is not in en.po (stale or misspelt)", lang, id)
			}
		}
		// The same value slots, so that no value is lost or garbled.
		for _, id := range want {
			if tr := r.T(lang, id); verbs(tr) != verbs(id) {
				t.Errorf("%s.po: %q has the values %s, its msgid %s", lang, tr, verbs(tr), verbs(id))
			}
		}
	}
	if got := r.Languages(); !slices.Equal(got, []string{"en", "es", "fr", "pl"}) {
		t.Errorf("languages %v, want en es fr pl", got)
	}
}

var verbRE = regexp.MustCompile(`%(\[\d+\])?[sd]`)

func verbs(s string) string {
	v := verbRE.FindAllString(s, -1)
	slices.Sort(v)
	return strings.Join(v, " ")
}

// pageCases renders every branch of every built-in template.
func pageCases() []struct {
	name string
	data any
} {
	client := map[string]any{"Name": "Photo App", "Website": "https://photos.example/", "TermsURL": "https://photos.example/terms"}
	scopes := []map[string]any{
		{"Name": "openid", "Title": "Your identity", "Description": "Confirms who you are.", "New": false},
		{"Name": "email", "Title": "Email address", "Description": "Your email address.", "New": true},
	}
	claims := []map[string]any{{"Name": "phone_number", "Title": "Phone number", "New": true}}
	return []struct {
		name string
		data any
	}{
		{"login.html", map[string]any{"Action": "/login", "CSRF": "c", "Next": "/authorize?x=1"}},
		{"login.html", map[string]any{"Action": "/login", "CSRF": "c", "Error": "Invalid username or password.", "Username": "alice", "UILocales": "pl"}},
		{"login.html", map[string]any{"Action": "/login", "CSRF": "c", "CurrentUser": "alice", "ContinueURL": "/authorize?x=1"}},
		{"authorize.html", map[string]any{"Client": client, "Action": "/authorize", "Logo": "/logo/x", "Scopes": scopes, "Claims": claims,
			"HasNew": true, "CanRemember": true, "RememberDays": 90, "PolicyURL": "https://photos.example/privacy",
			"Resources": []string{"https://api.photos.example/"}}},
		{"authorize.html", map[string]any{"Client": map[string]any{"Name": "Bare"}, "Action": "/authorize", "Scopes": scopes[:1]}},
		{"device.html", map[string]any{"Step": "enter", "Action": "/device", "CSRF": "c"}},
		{"device.html", map[string]any{"Step": "enter", "Action": "/device", "CSRF": "c", "UserCode": "XXXX", "Error": "Too many wrong codes."}},
		{"device.html", map[string]any{"Step": "consent", "Action": "/device", "Client": client, "Scopes": scopes, "UserCode": "WDJB-MJHT", "Logo": "/logo/x",
			"Resources": []string{"https://api.photos.example/"}, "UILocales": "fr"}},
		{"device.html", map[string]any{"Step": "approved", "Client": client}},
		{"device.html", map[string]any{"Step": "denied", "Client": client}},
		{"end_session.html", map[string]any{"Action": "/end-session", "Client": client, "LogoutHint": "alice"}},
		{"end_session.html", map[string]any{"Action": "/end-session"}},
		{"end_session.html", map[string]any{"SignedOut": true, "FrontChannel": []string{"https://rp.example/fc"}, "Continue": "https://rp.example/", "Nonce": "n"}},
		{"logout.html", map[string]any{"Action": "/logout", "CurrentUser": "alice"}},
		{"logout.html", map[string]any{"LoggedOut": true, "FrontChannel": []string{"https://rp.example/fc"}}},
		{"error.html", map[string]any{"Error": "invalid_request", "Description": "Missing client_id.", "Title": "T", "Message": "M", "RequestID": "abc"}},
		{"error.html", map[string]any{"Error": "Forbidden", "Description": "Old style."}},
		{"form_post.html", map[string]any{"Action": "https://rp.example/cb", "Fields": []map[string]string{{"Name": "code", "Value": "x"}}, "Nonce": "n"}},
		{"check_session.html", map[string]any{"Nonce": "n", "Cookie": "c", "Unauthenticated": "u"}},
	}
}

// Every template renders in every language with no message left
// untranslated, with the page's language declared, and branded.
func TestEveryPageEveryLanguage(t *testing.T) {
	var missing []string
	r, err := NewRenderer(Options{
		OnMissing: func(lang, msgid string) { missing = append(missing, lang+": "+msgid) },
		Branding: Branding{SiteName: "Example ID", Logo: pngLogo, PrivacyURL: "https://example.com/privacy",
			TermsURL: "https://example.com/terms", HelpURL: "https://example.com/help", Stylesheet: []byte("body{}")},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range r.Languages() {
		for _, c := range pageCases() {
			w := httptest.NewRecorder()
			if err := r.RenderLang(w, lang, 200, c.name, c.data, ""); err != nil {
				t.Fatalf("%s in %s: %v", c.name, lang, err)
			}
			body := w.Body.String()
			if c.name == "check_session.html" {
				continue // no visible text, not branded: the relying party's iframe
			}
			if !strings.Contains(body, `<html lang="`+lang+`" dir="ltr">`) || w.Header().Get("Content-Language") != lang {
				t.Errorf("%s in %s: language not declared:\n%s", c.name, lang, body)
			}
			for _, want := range []string{"Example ID", "/assets/oidcd.css?v=", "/assets/site.css?v=", "/assets/logo?v=", "https://example.com/help"} {
				if !strings.Contains(body, want) {
					t.Errorf("%s in %s: no %q", c.name, lang, want)
				}
			}
		}
	}
	for _, m := range missing {
		t.Errorf("untranslated: %s", m)
	}
	// Every template is rendered: the pages above here, the console's by
	// server/console's TestEveryPageEveryLanguage.
	consolePages := []string{"account.html", "audit.html", "client_form.html", "client_secret.html", "clients.html",
		"confirm_delete.html", "consents.html", "keys.html", "message.html", "overview.html", "sessions.html",
		"user_form.html", "users.html"}
	for _, name := range r.sources.names {
		covered := slices.ContainsFunc(pageCases(), func(c struct {
			name string
			data any
		}) bool {
			return c.name == name
		})
		if rest, ok := strings.CutPrefix(name, "console/"); ok {
			covered = slices.Contains(consolePages, rest)
		}
		if !covered {
			t.Errorf("template %s is rendered by no page test", name)
		}
	}
	// Spot checks that the words are the language's.
	for lang, want := range map[string]string{"es": "Iniciar sesión", "fr": "Se connecter", "pl": "Zaloguj się", "en": "Sign in"} {
		w := httptest.NewRecorder()
		r.RenderLang(w, lang, 200, "login.html", pageCases()[0].data, "")
		if !strings.Contains(w.Body.String(), "<h1>"+want+"</h1>") {
			t.Errorf("login in %s: no %q", lang, want)
		}
	}
}

// A message a catalog lacks is reported (tests fail) and shown in English
// (people still get a page).
func TestMissingTranslationReported(t *testing.T) {
	var missing []string
	overlay := fstest.MapFS{"de.po": {Data: []byte("msgid \"Sign in\"\nmsgstr \"Anmelden\"\n")}}
	r, err := NewRenderer(Options{Translations: overlay, OnMissing: func(lang, id string) { missing = append(missing, lang+":"+id) }})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	if err := r.RenderLang(w, "de", 200, "login.html", pageCases()[0].data, ""); err != nil {
		t.Fatal(err)
	}
	body := w.Body.String()
	if !strings.Contains(body, "<h1>Anmelden</h1>") || !strings.Contains(body, ">Username</label>") {
		t.Fatalf("German login page:\n%s", body)
	}
	if !slices.Contains(missing, "de:Username") || slices.Contains(missing, "de:Sign in") {
		t.Fatalf("reported missing: %v", missing)
	}
}

func TestLanguageChoice(t *testing.T) {
	r, err := NewRenderer(Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, ui, locale, accept, want string
	}{
		{"default", "", "", "", "en"},
		{"ui_locales first", "fr es", "pl", "es", "fr"},
		{"ui_locales order", "pl fr", "", "", "pl"},
		{"region falls back to its language", "es-MX", "", "", "es"},
		{"unknown ui_locales skipped in order", "de it fr-CA", "", "", "fr"},
		{"unknown ui_locales: the locale claim", "de", "pl-PL", "es", "pl"},
		{"locale claim with underscore", "", "fr_FR", "", "fr"},
		{"unknown everywhere: Accept-Language", "de", "it", "de-DE,de;q=0.9,es;q=0.5", "es"},
		{"Accept-Language by weight", "", "", "fr;q=0.3, pl;q=0.8", "pl"},
		{"nothing known: default", "xx-invalid-tag zz", "", "ja, zh;q=0.5", "en"},
		{"malformed Accept-Language: default", "", "", ";;;=q,", "en"},
		{"malformed ui_locales", "%%% !!", "", "pl", "pl"},
	} {
		t.Run(c.name, func(t *testing.T) {
			hr := httptest.NewRequest("GET", "/login", nil)
			if c.accept != "" {
				hr.Header.Set("Accept-Language", c.accept)
			}
			if got := r.Language(hr, c.ui, c.locale); got != c.want {
				t.Fatalf("Language(ui_locales=%q, locale=%q, Accept-Language=%q) = %s, want %s", c.ui, c.locale, c.accept, got, c.want)
			}
		})
	}
	// A configured default and a restricted set.
	r, err = NewRenderer(Options{DefaultLanguage: "pl", Languages: []string{"pl", "es"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Languages(); !slices.Equal(got, []string{"pl", "es"}) {
		t.Fatalf("languages %v", got)
	}
	hr := httptest.NewRequest("GET", "/", nil)
	hr.Header.Set("Accept-Language", "fr, en;q=0.5")
	if got := r.Language(hr, "fr"); got != "pl" {
		t.Fatalf("French is not offered, got %s, want the default pl", got)
	}
	// An unknown language for a page renders the default.
	w := httptest.NewRecorder()
	if err := r.RenderLang(w, "xx", 200, "login.html", pageCases()[0].data, ""); err != nil || !strings.Contains(w.Body.String(), `lang="pl"`) {
		t.Fatalf("unknown page language: %v\n%s", err, w.Body.String())
	}
	for _, o := range []Options{{DefaultLanguage: "de"}, {Languages: []string{"en", "xx"}}, {Languages: []string{"not a tag!"}}} {
		if _, err := NewRenderer(o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

// An operator's catalog rewords a built-in message and leaves the rest.
func TestTranslationsOverlay(t *testing.T) {
	overlay := fstest.MapFS{"en.po": {Data: []byte("msgid \"Sign in\"\nmsgstr \"Log in\"\n")}}
	r, err := NewRenderer(Options{Translations: overlay})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.T("en", "Sign in"); got != "Log in" {
		t.Fatalf("reworded: %q", got)
	}
	if got := r.T("en", "Password"); got != "Password" {
		t.Fatalf("built-in: %q", got)
	}
	for name, data := range map[string]string{"english.po": "msgid \"a\"\nmsgstr \"b\"\n", "de.po": "# nothing\n"} {
		if _, err := NewRenderer(Options{Translations: fstest.MapFS{name: {Data: []byte(data)}}}); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}

// The built-in catalogs are parsed when their language is first used, not
// at start, and each once.
func TestBuiltInCatalogsParsedOnFirstUse(t *testing.T) {
	r, err := NewRenderer(Options{})
	if err != nil {
		t.Fatal(err)
	}
	parsed := func(lang string) bool { return r.cats[lang].files[0].m != nil }
	for _, lang := range r.Languages() {
		if parsed(lang) {
			t.Errorf("%s.po parsed at start", lang)
		}
	}
	if got := r.T("fr", "Password"); got == "Password" {
		t.Fatalf("fr: %q", got)
	}
	if !parsed("fr") || parsed("es") {
		t.Fatalf("after a French message: fr parsed %v, es parsed %v", parsed("fr"), parsed("es"))
	}
	m := r.cats["fr"].files[0].m
	r.T("fr", "Sign in")
	if reflect.ValueOf(r.cats["fr"].files[0].m).Pointer() != reflect.ValueOf(m).Pointer() {
		t.Fatal("fr.po parsed again")
	}
}

// Values in messages are escaped, bold ones too.
func TestMessageValuesEscaped(t *testing.T) {
	r, err := NewRenderer(Options{})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	data := map[string]any{"Step": "approved", "Client": map[string]any{"Name": `<script>x</script>`}}
	if err := r.RenderLang(w, "fr", 200, "device.html", data, ""); err != nil {
		t.Fatal(err)
	}
	body := w.Body.String()
	if strings.Contains(body, "<script>x") || !strings.Contains(body, "<strong>&lt;script&gt;x&lt;/script&gt;</strong> est maintenant connecté") {
		t.Fatalf("body:\n%s", body)
	}
}
