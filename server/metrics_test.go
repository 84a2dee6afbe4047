package server

import (
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage"
)

// scrape reads the metrics in the Prometheus text format and returns each
// sample line's value by its series ("name{labels}").
func scrape(t *testing.T, m *Metrics) map[string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", rec.Code, rec.Body)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad sample line %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// TestMetricsAfterCodeFlow: a whole code flow (login failure, login,
// consent, code exchange with go-oidc + x/oauth2, a refresh-token replay)
// moves the request, token, login, consent and reuse counters.
func TestMetricsAfterCodeFlow(t *testing.T) {
	m := NewMetrics()
	e := newTestServer(t, func(c *Config) { c.Metrics = m })
	e.addUser(t, "alice", "pw")
	client, secret, err := op.NewClient(storage.Client{
		Name: "RP", RedirectURIs: []string{"http://127.0.0.1:9/cb"}, RequireConsent: true,
	}, e.srv.sealer, e.clock.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.CreateClient(t.Context(), client); err != nil {
		t.Fatal(err)
	}
	ctx := oidc.ClientContext(t.Context(), e.ts.Client())
	provider, err := oidc.NewProvider(ctx, e.srv.cfg.Provider.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	conf := &oauth2.Config{ClientID: client.ID, ClientSecret: secret, Endpoint: provider.Endpoint(),
		RedirectURL: "http://127.0.0.1:9/cb", Scopes: []string{oidc.ScopeOpenID, oidc.ScopeOfflineAccess}}
	e.store.ObserveQueries(m.ObserveQuery)
	before := scrape(t, m)

	c := e.browser(t)
	if r := e.login(t, c, "alice", "wrong", "/"); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("bad login: %d", r.StatusCode)
	}
	pkce := oauth2.GenerateVerifier()
	r := do(t, c, "GET", conf.AuthCodeURL("st4te", oidc.Nonce("n"), oauth2.S256ChallengeOption(pkce)), nil)
	next := must(url.Parse(r.Header.Get("Location"))).Query().Get("next")
	if r := e.login(t, c, "alice", "pw", next); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", r.StatusCode)
	}
	r = do(t, c, "GET", e.ts.URL+next, nil)
	if r.StatusCode != http.StatusOK || !strings.Contains(r.body, `name="allow"`) {
		t.Fatalf("no consent page: %d\n%s", r.StatusCode, r.body)
	}
	form := url.Values{"allow": {"Authorize"}}
	for _, m := range hiddenInput.FindAllStringSubmatch(r.body, -1) {
		form.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	r = do(t, c, "POST", e.ts.URL+"/authorize", form)
	cb := must(url.Parse(r.Header.Get("Location")))
	if cb.Query().Get("code") == "" {
		t.Fatalf("consent: %d %s\n%s", r.StatusCode, cb, r.body)
	}
	tok, err := conf.Exchange(ctx, cb.Query().Get("code"), oauth2.VerifierOption(pkce))
	if err != nil {
		t.Fatal(err)
	}
	// Refresh once, then replay the old refresh token: reuse detected.
	if _, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err != nil {
		t.Fatal(err)
	}
	if _, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
		t.Fatal("a rotated refresh token worked again")
	}
	resp, err := http.Get(e.ts.URL + "/no/such/page/" + strings.Repeat("x", 20))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	after := scrape(t, m)
	moved := func(series string, want float64) {
		t.Helper()
		if d := after[series] - before[series]; d != want {
			t.Errorf("%s moved by %v, want %v", series, d, want)
		}
	}
	moved(`oidcd_tokens_issued_total{grant_type="authorization_code"}`, 1)
	moved(`oidcd_tokens_issued_total{grant_type="refresh_token"}`, 1)
	moved(`oidcd_logins_total`, 1)
	moved(`oidcd_login_failures_total`, 1)
	moved(`oidcd_consents_total{decision="accepted"}`, 1)
	moved(`oidcd_consents_total{decision="declined"}`, 0)
	moved(`oidcd_token_reuse_detected_total{artifact="refresh_token"}`, 1)
	moved(`oidcd_events_total{event="consent.accepted"}`, 1)
	moved(`oidcd_events_total{event="login.failed"}`, 1)
	moved(`oidcd_http_requests_total{code="200",endpoint="/token",method="POST"}`, 2)
	moved(`oidcd_http_requests_total{code="400",endpoint="/token",method="POST"}`, 1)
	moved(`oidcd_http_requests_total{code="200",endpoint="/.well-known/openid-configuration",method="GET"}`, 0) // fetched before the first scrape
	moved(`oidcd_http_request_duration_seconds_count{endpoint="/token"}`, 3)
	moved(`oidcd_http_request_duration_seconds_count{endpoint="/authorize"}`, 3)
	moved(`oidcd_http_requests_total{code="404",endpoint="unmatched",method="GET"}`, 1)
	for k := range after {
		if strings.Contains(k, "xxxx") {
			t.Errorf("a raw path became a label: %s", k)
		}
	}
	var key, build bool
	for k, v := range after {
		if strings.HasPrefix(k, "oidcd_build_info{") && v == 1 {
			build = true
		}
		if strings.HasPrefix(k, `oidcd_signing_key_age_seconds{alg="RS256"`) && strings.Contains(k, `state="active"`) && v >= 0 {
			key = true
		}
	}
	if !key || !build {
		t.Errorf("signing key age %v, build info %v", key, build)
	}
	// The same events as security log lines with a stable event field.
	for _, want := range []string{
		`msg="security event" event=login.failed username=alice ip=127.0.0.1`,
		`msg="security event" event=login.succeeded user_id=`,
		`msg="security event" event=consent.accepted client_id=` + client.ID,
		`msg="security event" event=token.reuse_detected client_id=` + client.ID,
	} {
		if !strings.Contains(e.logs.String(), want) {
			t.Errorf("log lacks %s", want)
		}
	}
	if strings.Contains(e.logs.String(), "password=") || strings.Contains(e.logs.String(), tok.RefreshToken) {
		t.Error("a secret reached the log")
	}
	if after["oidcd_db_query_duration_seconds_count"] <= before["oidcd_db_query_duration_seconds_count"] {
		t.Error("no database statement observed")
	}
	if _, ok := after["go_goroutines"]; !ok {
		t.Error("no Go runtime metrics")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// Every request gets an id: from a trusted proxy's X-Request-Id when
// well-formed, else a new one; it is in the response header, in every log
// line of the request and on error pages.
func TestRequestID(t *testing.T) {
	e := newTestServer(t, nil)
	get := func(path string, hdr string) (*http.Response, string) {
		req, _ := http.NewRequest("GET", e.ts.URL+path, nil)
		if hdr != "" {
			req.Header.Set("X-Request-Id", hdr)
		}
		resp, err := e.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, body := get("/authorize?client_id=nope&redirect_uri=https://x.example/cb", "from-the-client")
	id := resp.Header.Get("X-Request-Id")
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(id) {
		t.Fatalf("request id %q (an untrusted peer's header must not be taken)", id)
	}
	if !strings.Contains(body, "Request ID: <code>"+id+"</code>") {
		t.Errorf("error page lacks the request id:\n%s", body)
	}
	var lines int
	for _, l := range strings.Split(e.logs.String(), "\n") {
		if strings.Contains(l, "/authorize") || strings.Contains(l, "invalid_client") {
			lines++
			if !strings.Contains(l, "request_id="+id) {
				t.Errorf("log line without the request id: %s", l)
			}
		}
	}
	if lines < 2 {
		t.Errorf("%d log lines for the request (want the error and the access line):\n%s", lines, e.logs)
	}

	// Behind a trusted proxy its id is kept, unless malformed.
	e = newTestServer(t, func(c *Config) { c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")} })
	if resp, _ := get("/healthz", "f81d4fae-7dec-11d0-a765-00a0c91e6bf6"); resp.Header.Get("X-Request-Id") != "f81d4fae-7dec-11d0-a765-00a0c91e6bf6" {
		t.Errorf("proxy id not kept: %q", resp.Header.Get("X-Request-Id"))
	}
	if resp, _ := get("/healthz", "a b\" level=ERROR"); strings.Contains(resp.Header.Get("X-Request-Id"), " ") {
		t.Errorf("malformed proxy id kept: %q", resp.Header.Get("X-Request-Id"))
	}
}
