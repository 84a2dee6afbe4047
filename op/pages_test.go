package op_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage"
)

// newLangEnv fails the test on any page message shown untranslated.
func newLangEnv(t *testing.T, mutate func(*op.Config)) *testEnv {
	return newTestEnv(t, func(c *op.Config) {
		c.OnMissingTranslation = func(lang, msgid string) {
			t.Errorf("%s: %q shown untranslated", lang, msgid)
		}
		if mutate != nil {
			mutate(c)
		}
	})
}

// The consent page follows ui_locales (in order, skipping languages not
// offered), then the user's locale claim, then Accept-Language.
func TestConsentPageLanguage(t *testing.T) {
	env := newLangEnv(t, nil)
	id, _ := env.client(storage.Client{RequireConsent: true})
	b := env.browser()
	consent := func(ui, accept string) string {
		params := map[string]string{"client_id": id, "redirect_uri": rpCallback, "response_type": "code", "scope": "openid email offline_access", "state": "s"}
		if ui != "" {
			params["ui_locales"] = ui
		}
		req, _ := http.NewRequestWithContext(t.Context(), "GET", authURL(env, params), nil)
		if accept != "" {
			req.Header.Set("Accept-Language", accept)
		}
		pg := b.do(req)
		if !strings.Contains(pg.body, `name="allow"`) {
			t.Fatalf("no consent page: %d %s", pg.status, pg.body)
		}
		return pg.body
	}
	for _, c := range []struct{ ui, accept, want string }{
		{"pl", "", `<html lang="pl"`},
		{"de fr-CA es", "", `<html lang="fr"`},
		{"", "es-ES,es;q=0.9", `<html lang="es"`},
		{"xx", "de", `<html lang="en"`},
	} {
		body := consent(c.ui, c.accept)
		if !strings.Contains(body, c.want) {
			t.Errorf("ui_locales %q, Accept-Language %q: want %s in\n%s", c.ui, c.accept, c.want, body)
		}
	}
	body := consent("pl", "")
	for _, want := range []string{"Zezwolić aplikacji <strong>", "Twoja tożsamość", "Adres e-mail", "Dostęp pod Twoją nieobecność", `value="Zezwól"`, `value="Odmów"`} {
		if !strings.Contains(body, want) && !strings.Contains(body, strings.ReplaceAll(want, "<strong>", "")) {
			t.Errorf("Polish consent page lacks %q:\n%s", want, body)
		}
	}
	// The user's locale claim, when ui_locales names nothing offered.
	env.users.mu.Lock()
	c := env.users.claims["alice"]
	c.Locale = "fr-FR"
	env.users.claims["alice"] = c
	env.users.mu.Unlock()
	if body := consent("de", "es"); !strings.Contains(body, `<html lang="fr"`) || !strings.Contains(body, "Votre identité") {
		t.Errorf("locale claim fr-FR:\n%s", body)
	}
	// ui_locales beats it.
	if body := consent("es", ""); !strings.Contains(body, `<html lang="es"`) {
		t.Errorf("ui_locales es with locale fr-FR:\n%s", body)
	}
}

// The error page speaks the request's language; the error code and its
// English description, as relying parties get them, are the technical
// details. Relying parties always get English.
func TestErrorPageLanguage(t *testing.T) {
	env := newLangEnv(t, nil)
	id, _ := env.client(storage.Client{})
	pg := env.browser().get(authURL(env, map[string]string{"client_id": "nobody", "redirect_uri": rpCallback, "response_type": "code", "scope": "openid", "ui_locales": "fr"}))
	for _, want := range []string{`<html lang="fr"`, "Application inconnue", "Détails techniques", `<p lang="en"><code>invalid_client</code>`} {
		if !strings.Contains(pg.body, want) {
			t.Errorf("French error page lacks %q:\n%s", want, pg.body)
		}
	}
	if pg.status != http.StatusBadRequest && pg.status != http.StatusUnauthorized {
		t.Errorf("status %d", pg.status)
	}
	got := callback(t, env.browser().get(authURL(env, map[string]string{"client_id": id, "redirect_uri": rpCallback, "response_type": "code", "scope": "openid", "prompt": "none", "ui_locales": "pl"})))
	if got.Get("error") != "login_required" || got.Get("error_description") != "The user is not logged in." && !isASCII(got.Get("error_description")) {
		t.Errorf("error to the relying party: %v", got)
	}
	if d := got.Get("error_description"); !isASCII(d) {
		t.Errorf("error_description not English: %q", d)
	}
}

func isASCII(s string) bool {
	for _, r := range s {
		if r > 127 {
			return false
		}
	}
	return true
}

// The login URL gets the request's ui_locales, so that the host's login
// page speaks the same language; discovery lists the languages.
func TestUILocalesToLoginAndDiscovery(t *testing.T) {
	env := newLangEnv(t, func(c *op.Config) { c.Languages = []string{"en", "pl"} })
	id, _ := env.client(storage.Client{})
	b := env.browser()
	b.http.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	pg := b.get(authURL(env, map[string]string{"client_id": id, "redirect_uri": rpCallback, "response_type": "code", "scope": "openid", "ui_locales": "pl en"}))
	if loc := pg.header.Get("Location"); !strings.Contains(loc, "ui_locales=pl+en") {
		t.Fatalf("login redirect %q", loc)
	}
	_, doc := doReq(t, "GET", env.srv.URL+"/.well-known/openid-configuration", nil, nil)
	got, _ := doc["ui_locales_supported"].([]any)
	if len(got) != 2 || got[0] != "en" || got[1] != "pl" {
		t.Fatalf("ui_locales_supported %v", doc["ui_locales_supported"])
	}
}

// What a client asks for beyond the user's last consent is marked New;
// "remember this decision" is offered only to clients whose reuse_consent
// allows it, and unchecked it leaves the answer unremembered.
func TestConsentNewAndRemember(t *testing.T) {
	env := newLangEnv(t, nil)
	reuse, _ := env.client(storage.Client{RequireConsent: true, ReuseConsent: true})
	noReuse, _ := env.client(storage.Client{RequireConsent: true})
	b := env.browser()
	req := func(id, scope string, extra ...string) string {
		m := map[string]string{"client_id": id, "redirect_uri": rpCallback, "response_type": "code", "scope": scope, "state": "s"}
		for i := 0; i+1 < len(extra); i += 2 {
			m[extra[i]] = extra[i+1]
		}
		return authURL(env, m)
	}
	first := b.get(req(reuse, "openid email"))
	if strings.Contains(first.body, `class="new"`) || !strings.Contains(first.body, `name="remember" value="1" checked`) {
		t.Fatalf("first consent page: nothing is new, remember is offered:\n%s", first.body)
	}
	if got := callback(t, b.consent(first, true)); got.Get("code") == "" {
		t.Fatalf("consent: %v", got)
	}
	// More than before: phone is new, email is not.
	second := b.get(req(reuse, "openid email phone", "prompt", "consent"))
	items := strings.Split(second.body, "<li>")
	var marked []string
	for _, it := range items {
		if strings.Contains(it, `class="new"`) {
			marked = append(marked, strings.SplitN(strings.SplitN(it, `<span class="scope-title">`, 2)[1], "<", 2)[0])
		}
	}
	if !slices.Equal(marked, []string{"Phone number"}) || !strings.Contains(second.body, "were not part of what you allowed before") {
		t.Fatalf("marked new %v:\n%s", marked, second.body)
	}
	// Unchecking "remember": allowed, but asked again next time.
	form := second
	form.body = strings.Replace(form.body, `name="remember" value="1" checked`, `name="remember" value="1"`, 1)
	if got := callback(t, b.consent(form, true)); got.Get("code") == "" {
		t.Fatalf("consent without remembering: %v", got)
	}
	if got := callback(t, b.get(req(reuse, "openid email phone", "prompt", "none"))); got.Get("error") != "consent_required" {
		t.Fatalf("an answer the user did not want remembered was used: %v", got)
	}
	// Remembered: not asked again.
	third := b.get(req(reuse, "openid email phone"))
	callback(t, b.consent(third, true))
	if got := callback(t, b.get(req(reuse, "openid email phone", "prompt", "none"))); got.Get("code") == "" {
		t.Fatalf("remembered consent not used: %v", got)
	}
	// A client without reuse_consent: no checkbox.
	if pg := b.get(req(noReuse, "openid")); strings.Contains(pg.body, `name="remember"`) || strings.Contains(pg.body, "remember_offered") {
		t.Fatalf("remember offered without reuse_consent:\n%s", pg.body)
	}
}

// claims_locales (OIDC Core §5.2): for each released claim the user has in
// other languages, userinfo and ID tokens add the value in the language
// the request prefers, as "<claim>#<tag>"; without claims_locales, only the
// plain values. Discovery lists claims_locales_supported.
func TestClaimsLocales(t *testing.T) {
	env := newTestEnv(t, func(c *op.Config) { c.IDTokenIncludeClaims = true })
	env.users.mu.Lock()
	c := env.users.claims["alice"]
	c.Localized = map[string]string{"name#ja-Kana-JP": "アリス・リデル", "name#fr": "Alice L.", "family_name#ja-Kana-JP": "リデル", "nickname#ja": "ありす"}
	env.users.claims["alice"] = c
	env.users.mu.Unlock()
	id, secret := env.client(storage.Client{})
	run := func(locales string) (userinfo map[string]any, idt map[string]any, refreshed map[string]any) {
		params := map[string]string{"client_id": id, "redirect_uri": rpCallback, "response_type": "code", "scope": "openid profile offline_access", "state": "s"}
		if locales != "" {
			params["claims_locales"] = locales
		}
		got := env.browser().authorize(authURL(env, params))
		st, body, _ := env.tokenRequest(id, secret, url.Values{"grant_type": {"authorization_code"}, "code": {got.Get("code")}, "redirect_uri": {rpCallback}})
		if st != 200 {
			t.Fatalf("exchange: %d %v", st, body)
		}
		userinfo = env.userinfo(body["access_token"].(string)) // before the refresh, which ends this token
		st, ref, _ := env.tokenRequest(id, secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {body["refresh_token"].(string)}})
		if st != 200 {
			t.Fatalf("refresh: %d %v", st, ref)
		}
		return userinfo, jwtClaims(t, body["id_token"].(string)), env.userinfo(ref["access_token"].(string))
	}
	info, idt, again := run("ja fr")
	for _, m := range []map[string]any{info, idt, again} {
		if m["name"] != "Alice Liddell" || m["name#ja-Kana-JP"] != "アリス・リデル" || m["family_name#ja-Kana-JP"] != "リデル" {
			t.Errorf("claims_locales=ja fr: %v", m)
		}
		if _, ok := m["name#fr"]; ok {
			t.Errorf("a second language of one claim: %v", m)
		}
		if _, ok := m["nickname#ja"]; ok {
			t.Errorf("a claim the user has no plain value of: %v", m)
		}
	}
	info, _, _ = run("fr-CA")
	if info["name#fr"] != "Alice L." || info["name#ja-Kana-JP"] != nil {
		t.Errorf("claims_locales=fr-CA: %v", info)
	}
	info, idt, _ = run("")
	for k := range info {
		if strings.Contains(k, "#") {
			t.Errorf("no claims_locales, yet %s in userinfo", k)
		}
	}
	for k := range idt {
		if strings.Contains(k, "#") {
			t.Errorf("no claims_locales, yet %s in the ID token", k)
		}
	}
	_, doc := doReq(t, "GET", env.srv.URL+"/.well-known/openid-configuration", nil, nil)
	if got := fmt.Sprint(doc["claims_locales_supported"]); got != "[en es fr pl]" {
		t.Errorf("claims_locales_supported %s", got)
	}
}

// jwtClaims decodes a JWT's payload (its signature is checked elsewhere).
func jwtClaims(t *testing.T, raw string) map[string]any {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", raw)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// The consent page links the client's privacy policy (policy_uri), which
// registration takes, returns and checks.
func TestConsentPolicyURI(t *testing.T) {
	env := newTestEnv(t, nil)
	spec := storage.Client{RequireConsent: true, Website: "https://rp.example/", TermsURL: "https://rp.example/terms"}
	spec.PolicyURI = "https://rp.example/privacy"
	id, _ := env.client(spec)
	pg := env.browser().get(authURL(env, map[string]string{"client_id": id, "redirect_uri": rpCallback, "response_type": "code", "scope": "openid", "state": "s"}))
	for _, want := range []string{`<a href="https://rp.example/privacy" rel="noopener">Privacy policy</a>`, `<a href="https://rp.example/terms" rel="noopener">Terms of service</a>`, `<a href="https://rp.example/" rel="noopener">Website</a>`} {
		if !strings.Contains(pg.body, want) {
			t.Errorf("consent page lacks %s:\n%s", want, pg.body)
		}
	}
	m := op.ClientMetadata{ClientName: "x", RedirectURIs: []string{"https://rp.example/cb"}, PolicyURI: "https://rp.example/p"}
	s, err := m.Client()
	if err != nil || s.PolicyURI != "https://rp.example/p" {
		t.Fatalf("client: %+v %v", s.ClientMetadata, err)
	}
	created, _, err := op.NewClient(s, env.sealer, time.Now(), nil)
	if err != nil || op.MetadataOf(created).PolicyURI != "https://rp.example/p" {
		t.Fatalf("created: %v %v", created, err)
	}
	for _, bad := range []string{"javascript:alert(1)", "/privacy", "ftp://rp.example/p"} {
		s.PolicyURI = bad
		if _, _, err := op.NewClient(s, env.sealer, time.Now(), nil); err == nil || !strings.Contains(err.Error(), "policy_uri") {
			t.Errorf("policy_uri %q: %v", bad, err)
		}
	}
}
