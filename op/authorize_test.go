package op_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage"
)

func authURL(env *testEnv, params map[string]string) string {
	q := url.Values{}
	for k, v := range params {
		q.Set(k, v)
	}
	return env.srv.URL + "/authorize?" + q.Encode()
}

// SECURITY A1, A3: untrusted client or redirect URI → an error page, never a redirect.
func TestAuthorizeUntrustedRedirectShowsPage(t *testing.T) {
	env := newTestEnv(t, nil)
	id, _ := env.client(storage.Client{RedirectURIs: []string{"https://rp.example/cb?x=1", "http://127.0.0.1/cb"}})
	b := env.browser()
	base := map[string]string{"client_id": id, "response_type": "code", "scope": "openid", "state": "s"}
	for name, ru := range map[string]string{
		"missing":             "",
		"other path case":     "https://rp.example/CB?x=1",
		"extra segment":       "https://rp.example/cb/x?x=1",
		"trailing slash":      "https://rp.example/cb/?x=1",
		"changed query":       "https://rp.example/cb?x=2",
		"dropped query":       "https://rp.example/cb",
		"added query":         "https://rp.example/cb?x=1&y=2",
		"dot segments":        "https://rp.example/cb/../cb?x=1",
		"encoded dots":        "https://rp.example/cb/%2e%2e/cb?x=1",
		"userinfo":            "https://rp.example@evil.example/cb?x=1",
		"other host":          "https://evil.example/cb?x=1",
		"fragment":            "https://rp.example/cb?x=1#f",
		"loopback other path": "http://127.0.0.1:5000/other",
		"localhost port":      "http://localhost:5000/cb",
	} {
		t.Run(name, func(t *testing.T) {
			p := map[string]string{}
			for k, v := range base {
				p[k] = v
			}
			if ru != "" {
				p["redirect_uri"] = ru
			}
			p["prompt"] = "bogus" // another error must not turn it into a redirect
			pg := b.get(authURL(env, p))
			if pg.status != http.StatusBadRequest || pg.header.Get("Location") != "" {
				t.Fatalf("status %d location %q", pg.status, pg.header.Get("Location"))
			}
			if !strings.Contains(pg.body, "invalid_request") {
				t.Fatalf("error page: %s", pg.body)
			}
			if pg.header.Get("X-Frame-Options") != "DENY" || !strings.Contains(pg.header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
				t.Fatal("error page is frameable")
			}
		})
	}
	t.Run("unknown client", func(t *testing.T) {
		pg := b.get(authURL(env, map[string]string{"client_id": "nope", "redirect_uri": rpCallback, "response_type": "code", "scope": "openid"}))
		if pg.status != http.StatusBadRequest || !strings.Contains(pg.body, "invalid_client") {
			t.Fatalf("%d %s", pg.status, pg.body)
		}
	})
	t.Run("loopback port may vary (RFC 8252 §7.3)", func(t *testing.T) {
		p := map[string]string{"redirect_uri": "http://127.0.0.1:49152/cb"}
		for k, v := range base {
			p[k] = v
		}
		got := callback(t, b.get(authURL(env, p)))
		if got.Get("code") == "" {
			t.Fatalf("loopback redirect: %v", got)
		}
	})
}

func TestAuthorizeRedirectErrors(t *testing.T) {
	env := newTestEnv(t, nil)
	id, _ := env.client(storage.Client{Scope: []string{"openid", "profile", "email", "read_books"}})
	other, _ := env.client(storage.Client{Name: "Other"})
	_ = other
	b := env.browser()
	cases := []struct {
		name   string
		params map[string]string
		want   string
	}{
		{"missing response_type", map[string]string{"response_type": ""}, "unsupported_response_type"},
		{"unknown response_type", map[string]string{"response_type": "code bogus"}, "unsupported_response_type"},
		{"response_type not registered", map[string]string{"response_type": "id_token", "nonce": "n"}, "unauthorized_client"},
		{"unknown scope", map[string]string{"scope": "openid write_everything"}, "invalid_scope"},
		{"missing scope", map[string]string{"scope": ""}, "invalid_scope"},
		{"duplicate parameter", map[string]string{"dup": "state"}, "invalid_request"},
		{"bad prompt", map[string]string{"prompt": "sometimes"}, "invalid_request"},
		{"prompt none with login", map[string]string{"prompt": "none login"}, "invalid_request"},
		{"bad max_age", map[string]string{"max_age": "-1"}, "invalid_request"},
		{"unusable request object", map[string]string{"request": "eyJ"}, "invalid_request_object"},
		{"unregistered request_uri", map[string]string{"request_uri": "https://rp.example/r"}, "invalid_request_uri"},
		{"bad response_mode", map[string]string{"response_mode": "jwt"}, "invalid_request"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := url.Values{"client_id": {id}, "redirect_uri": {rpCallback}, "response_type": {"code"}, "scope": {"openid"}, "state": {"xyz"}}
			for k, v := range c.params {
				if k == "dup" {
					q.Add(v, "again")
					continue
				}
				if v == "" {
					q.Del(k)
				} else {
					q.Set(k, v)
				}
			}
			got := callback(t, b.get(env.srv.URL+"/authorize?"+q.Encode()))
			if got.Get("error") != c.want {
				t.Fatalf("error %q (%s), want %q", got.Get("error"), got.Get("error_description"), c.want)
			}
			if c.params["dup"] == "" && got.Get("state") != "xyz" {
				t.Fatalf("state not echoed: %v", got)
			}
			if got.Get("iss") != env.srv.URL {
				t.Fatalf("iss missing (RFC 9207): %v", got)
			}
		})
	}
	t.Run("registered client scope is allowed", func(t *testing.T) {
		got := b.authorize(authURL(env, map[string]string{"client_id": id, "redirect_uri": rpCallback, "response_type": "code", "scope": "openid read_books"}))
		if got.Get("code") == "" {
			t.Fatalf("%v", got)
		}
	})
}

func TestPromptAndLogin(t *testing.T) {
	env := newTestEnv(t, nil)
	id, _ := env.client(storage.Client{RequireConsent: true, ReuseConsent: true})
	req := func(extra map[string]string) string {
		p := map[string]string{"client_id": id, "redirect_uri": rpCallback, "response_type": "code", "scope": "openid email", "state": "s"}
		for k, v := range extra {
			p[k] = v
		}
		return authURL(env, p)
	}
	b := env.browser()

	// Not logged in, prompt=none: login_required and no page (SECURITY F6).
	got := callback(t, b.get(req(map[string]string{"prompt": "none"})))
	if got.Get("error") != "login_required" || got.Get("state") != "s" {
		t.Fatalf("prompt=none logged out: %v", got)
	}
	// Not logged in: sent to the login URL with next pointing back.
	noFollow := *b.http
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := noFollow.Get(req(map[string]string{"login_hint": "alice"}))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if loc.Path != "/login" || !strings.HasPrefix(loc.Query().Get("next"), "/authorize?") || loc.Query().Get("login_hint") != "alice" {
		t.Fatalf("login redirect: %s", resp.Header.Get("Location"))
	}

	// Log in, consent once; then prompt=none passes without a page.
	pg := b.get(req(nil))
	got = callback(t, b.consent(pg, true))
	if got.Get("code") == "" {
		t.Fatal("no code")
	}
	got = callback(t, b.get(req(map[string]string{"prompt": "none"})))
	if got.Get("code") == "" {
		t.Fatalf("prompt=none with session and consent: %v", got)
	}
	// A wider scope is not covered by the stored consent.
	got = callback(t, b.get(req(map[string]string{"prompt": "none", "scope": "openid email phone"})))
	if got.Get("error") != "consent_required" {
		t.Fatalf("prompt=none without consent: %v", got)
	}
	// prompt=consent always asks.
	pg = b.get(req(map[string]string{"prompt": "consent"}))
	if !strings.Contains(pg.body, `name="allow"`) {
		t.Fatal("prompt=consent did not show the consent page")
	}

	// prompt=login forces one new login and does not loop.
	before := env.users.logins
	env.clock.Add(time.Minute)
	got = callback(t, b.get(req(map[string]string{"prompt": "login"})))
	if got.Get("code") == "" || env.users.logins != before+1 {
		t.Fatalf("prompt=login: logins %d→%d, %v", before, env.users.logins, got)
	}
	// max_age: an older session re-authenticates, a young one does not.
	env.clock.Add(10 * time.Minute)
	before = env.users.logins
	got = callback(t, b.get(req(map[string]string{"max_age": "60"})))
	if got.Get("code") == "" || env.users.logins != before+1 {
		t.Fatalf("max_age=60 after 10m: logins %d→%d", before, env.users.logins)
	}
	got = callback(t, b.get(req(map[string]string{"max_age": "3600"})))
	if got.Get("code") == "" || env.users.logins != before+1 {
		t.Fatal("max_age=3600 forced a login")
	}
	// max_age=0 forces a login once without looping.
	env.clock.Add(time.Second)
	got = callback(t, b.get(req(map[string]string{"max_age": "0"})))
	if got.Get("code") == "" || env.users.logins != before+2 {
		t.Fatalf("max_age=0: logins %d", env.users.logins-before)
	}
	// prompt=none with a stale session: login_required.
	env.clock.Add(time.Hour)
	got = callback(t, b.get(req(map[string]string{"prompt": "none", "max_age": "60"})))
	if got.Get("error") != "login_required" {
		t.Fatalf("prompt=none + max_age: %v", got)
	}
	// A forged fresh marker is ignored.
	got = callback(t, b.get(req(map[string]string{"prompt": "none", "max_age": "60", "oidcd_fresh": "1.AAAA"})))
	if got.Get("error") != "login_required" {
		t.Fatalf("forged fresh marker: %v", got)
	}
}

func TestConsent(t *testing.T) {
	var events []op.ConsentEvent
	env := newTestEnv(t, func(c *op.Config) {
		c.Hooks.OnConsent = func(_ context.Context, e op.ConsentEvent) { events = append(events, e) }
	})
	always, _ := env.client(storage.Client{RequireConsent: true})
	skip, _ := env.client(storage.Client{RequireConsent: false})
	b := env.browser()
	req := func(id, state string) string {
		return authURL(env, map[string]string{"client_id": id, "redirect_uri": rpCallback, "response_type": "code", "scope": "openid profile", "state": state})
	}
	pg := b.get(req(always, "s1"))
	for _, want := range []string{"Test App", "Basic profile", `name="allow"`, `value="Deny"`} {
		if !strings.Contains(pg.body, want) {
			t.Fatalf("consent page lacks %q", want)
		}
	}
	got := callback(t, b.consent(pg, false))
	if got.Get("error") != "access_denied" || got.Get("state") != "s1" {
		t.Fatalf("decline: %v", got)
	}
	if len(events) != 1 || events[0].Accepted || events[0].UserID != "alice" {
		t.Fatalf("decline event: %+v", events)
	}
	// Without reuse_consent the page comes back every time.
	pg = b.get(req(always, "s2"))
	got = callback(t, b.consent(pg, true))
	if got.Get("code") == "" || len(events) != 2 || !events[1].Accepted {
		t.Fatalf("accept: %v %+v", got, events)
	}
	if pg := b.get(req(always, "s3")); !strings.Contains(pg.body, `name="allow"`) {
		t.Fatal("consent skipped without reuse_consent")
	}
	// require_consent off: no page for a confidential client.
	if got := callback(t, b.get(req(skip, "s4"))); got.Get("code") == "" {
		t.Fatalf("require_consent=false: %v", got)
	}

	// SECURITY F1: the consent form of one browser cannot be replayed by another.
	pg = b.get(req(always, "s5"))
	other := env.browser()
	other.get(env.srv.URL + "/login?next=/") // logged in as alice too, another session
	pg2 := other.consent(pg, true)
	if pg2.status != http.StatusBadRequest || pg2.header.Get("Location") != "" {
		t.Fatalf("cross-browser consent: %d %s", pg2.status, pg2.header.Get("Location"))
	}
	// A tampered request (changed scope) fails too.
	tampered := strings.Replace(pg.body, `value="openid profile"`, `value="openid profile email"`, 1)
	pg3 := b.consent(&page{body: tampered}, true)
	if pg3.status != http.StatusBadRequest {
		t.Fatalf("tampered consent: %d", pg3.status)
	}
}

// TestFreshMarkerBoundAndShortLived: the marker that lets a request pass
// after the fresh login it asked for cannot be taken by someone else and
// replayed on another request, nor used after freshLifetime
// (docs/security.md "Authorization requests").
func TestFreshMarkerBoundAndShortLived(t *testing.T) {
	env := newTestEnv(t, nil)
	id, _ := env.client(storage.Client{})
	req := func(extra map[string]string) string {
		m := map[string]string{"client_id": id, "redirect_uri": rpCallback, "response_type": "code", "scope": "openid", "state": "s1", "prompt": "login"}
		for k, v := range extra {
			m[k] = v
		}
		return authURL(env, m)
	}
	// An anonymous visitor collects a marker from the login redirect.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(req(nil))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	next, _ := url.Parse(loc.Query().Get("next"))
	marker := next.Query().Get("oidcd_fresh")
	if marker == "" {
		t.Fatalf("no fresh marker in %s", resp.Header.Get("Location"))
	}
	// A user signs in afterwards.
	env.clock.Add(time.Second)
	b := env.browser()
	if got := callback(t, b.get(req(map[string]string{"prompt": ""}))); got.Get("code") == "" {
		t.Fatalf("first login: %v", got)
	}
	// The marker on another request does not cancel prompt=login.
	before := env.users.logins
	got := callback(t, b.get(req(map[string]string{"state": "s2", "oidcd_fresh": marker})))
	if got.Get("code") == "" || env.users.logins != before+1 {
		t.Fatalf("marker replayed on another request: logins %d→%d", before, env.users.logins)
	}
	// Nor on the same request once it has expired.
	env.clock.Add(11 * time.Minute)
	before = env.users.logins
	got = callback(t, b.get(req(map[string]string{"oidcd_fresh": marker})))
	if got.Get("code") == "" || env.users.logins != before+1 {
		t.Fatalf("expired marker honoured: logins %d→%d", before, env.users.logins)
	}
}
