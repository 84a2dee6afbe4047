package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oidcd/oidcd/internal/logbuf"
	"github.com/oidcd/oidcd/keys"
	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage"
	"github.com/oidcd/oidcd/storage/sqlstore"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type testEnv struct {
	srv   *Server
	ts    *httptest.Server
	store *sqlstore.Store
	dsn   string // the SQLite file, for a second server on the same database
	clock *clock
	logs  *logbuf.Buffer
}

// newTestServer starts a server on a fresh SQLite file with a fixed clock;
// mutate may change the defaults.
func newTestServer(t testing.TB, mutate func(*Config)) *testEnv {
	t.Helper()
	ctx := t.Context()
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "oidcd.db")
	store, err := sqlstore.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	sealer, err := keys.NewSealer(bytes.Repeat([]byte("k"), 32))
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	logs := &logbuf.Buffer{}
	cfg := Config{
		Store:  store,
		Sealer: sealer,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:    clk.Now,
	}
	// The issuer is the test server's own URL, so relying parties can use it.
	ts := httptest.NewUnstartedServer(nil)
	cfg.Provider.Issuer = "http://" + ts.Listener.Addr().String()
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := New(ctx, cfg)
	if err != nil {
		ts.Close()
		t.Fatal(err)
	}
	ts.Config.Handler = srv.Handler()
	ts.Start()
	t.Cleanup(ts.Close)
	return &testEnv{srv: srv, ts: ts, store: store, dsn: dsn, clock: clk, logs: logs}
}

// addUser stores an account with this username and password.
func (e *testEnv) addUser(t *testing.T, username, password string) *storage.User {
	t.Helper()
	u, err := NewUser(username, password, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	u.Email = username + "@example.com"
	if err := e.store.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	return u
}

// browser is an HTTP client with cookies that does not follow redirects.
func (e *testEnv) browser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

type response struct {
	*http.Response
	body string
}

func do(t *testing.T, c *http.Client, method, u string, form url.Values) response {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(t.Context(), method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
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

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// csrf fetches page and returns its CSRF token.
func (e *testEnv) csrf(t *testing.T, c *http.Client, page string) string {
	t.Helper()
	r := do(t, c, "GET", e.ts.URL+page, nil)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d", page, r.StatusCode)
	}
	m := csrfRE.FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("GET %s: no csrf_token in\n%s", page, r.body)
	}
	return m[1]
}

// login posts the login form and returns the response.
func (e *testEnv) login(t *testing.T, c *http.Client, username, password, next string) response {
	t.Helper()
	tok := e.csrf(t, c, "/login")
	return do(t, c, "POST", e.ts.URL+"/login", url.Values{
		"csrf_token": {tok}, "username": {username}, "password": {password}, "next": {next},
	})
}

// currentUser asks the server's op.Users who the browser's cookies belong to.
func (e *testEnv) currentUser(t *testing.T, c *http.Client) string {
	t.Helper()
	req := httptest.NewRequest("GET", e.ts.URL+"/authorize", nil)
	u, _ := url.Parse(e.ts.URL)
	for _, ck := range c.Jar.Cookies(u) {
		req.AddCookie(ck)
	}
	user, err := (*users)(e.srv).CurrentUser(req)
	if err != nil {
		t.Fatal(err)
	}
	if user == nil {
		return ""
	}
	return user.ID
}

func cookie(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func TestLoginFlow(t *testing.T) {
	e := newTestServer(t, nil)
	alice := e.addUser(t, "alice", "correct horse")
	c := e.browser(t)

	// The form carries the fields of the outside contract.
	r := do(t, c, "GET", e.ts.URL+"/login?next="+url.QueryEscape("/authorize?client_id=x")+"&login_hint=alice", nil)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("GET /login: %d", r.StatusCode)
	}
	for _, want := range []string{`name="username"`, `name="password"`, `name="next" value="/authorize?client_id=x"`, `value="alice"`, `name="csrf_token"`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("login page lacks %s", want)
		}
	}
	if r.Header.Get("X-Frame-Options") != "DENY" || !strings.Contains(r.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("login page headers: %v", r.Header)
	}
	// form-action would block the redirect chain to the relying party.
	if strings.Contains(r.Header.Get("Content-Security-Policy"), "form-action") {
		t.Errorf("login page CSP restricts form-action: %s", r.Header.Get("Content-Security-Policy"))
	}
	ck := cookie(r.Response, CSRFCookie)
	if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode {
		t.Fatalf("csrf cookie = %+v", ck)
	}

	r = e.login(t, c, "alice", "correct horse", "/authorize?client_id=x")
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/authorize?client_id=x" {
		t.Fatalf("POST /login: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	sc := cookie(r.Response, SessionCookie)
	if sc == nil || !sc.HttpOnly || sc.SameSite != http.SameSiteLaxMode || sc.Secure || sc.Path != "/" {
		t.Fatalf("session cookie = %+v", sc)
	}
	if got := e.currentUser(t, c); got != alice.ID {
		t.Fatalf("CurrentUser = %q, want %q", got, alice.ID)
	}

	// A second login gets a new session; the old one stops working (SECURITY F5).
	old := sc.Value
	r = e.login(t, c, "alice", "correct horse", "")
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/" {
		t.Fatalf("second login: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	if nc := cookie(r.Response, SessionCookie); nc == nil || nc.Value == old {
		t.Fatal("session cookie not renewed at login")
	}
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(&http.Cookie{Name: SessionCookie, Value: old})
	if u, err := (*users)(e.srv).CurrentUser(req); err != nil || u != nil {
		t.Fatalf("old session still valid: %v %v", u, err)
	}

	// The login page now tells who is signed in.
	r = do(t, c, "GET", e.ts.URL+"/login", nil)
	if !strings.Contains(r.body, "Signed in as <strong>alice</strong>") {
		t.Errorf("login page does not show the signed-in user:\n%s", r.body)
	}
}

func TestSecureCookiesOnHTTPSIssuer(t *testing.T) {
	e := newTestServer(t, func(c *Config) { c.Provider.Issuer = "https://id.example.com" })
	e.addUser(t, "alice", "pw")
	c := e.browser(t)
	r := do(t, c, "GET", e.ts.URL+"/login", nil)
	if ck := cookie(r.Response, CSRFCookie); ck == nil || !ck.Secure {
		t.Fatalf("csrf cookie not Secure: %+v", ck)
	}
	tok := csrfRE.FindStringSubmatch(r.body)[1]
	// The test server is http, so the jar would not send a Secure cookie:
	// send it by hand.
	req, _ := http.NewRequest("POST", e.ts.URL+"/login", strings.NewReader(url.Values{
		"csrf_token": {tok}, "username": {"alice"}, "password": {"pw"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(cookie(r.Response, CSRFCookie))
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if ck := cookie(resp, SessionCookie); resp.StatusCode != http.StatusSeeOther || ck == nil || !ck.Secure {
		t.Fatalf("login: %d, session cookie %+v", resp.StatusCode, ck)
	}
}

func TestLoginBadCSRF(t *testing.T) {
	e := newTestServer(t, nil)
	e.addUser(t, "alice", "pw")
	other := e.browser(t)
	otherTok := e.csrf(t, other, "/login")

	tests := []struct {
		name  string
		token func(c *http.Client) string
	}{
		{"missing", func(*http.Client) string { return "" }},
		{"garbage", func(*http.Client) string { return "not-a-token" }},
		{"another browser's token", func(*http.Client) string { return otherTok }},
		{"logout token", func(c *http.Client) string {
			e.csrf(t, c, "/login") // sets the cookie
			// A logout token is for another form; make one the way the server would.
			u, _ := url.Parse(e.ts.URL)
			var v string
			for _, ck := range c.Jar.Cookies(u) {
				if ck.Name == CSRFCookie {
					v = ck.Value
				}
			}
			return b64url(e.srv.sealer.MAC(csrfLogout, v))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := e.browser(t)
			e.csrf(t, c, "/login")
			r := do(t, c, "POST", e.ts.URL+"/login", url.Values{
				"csrf_token": {tt.token(c)}, "username": {"alice"}, "password": {"pw"},
			})
			if r.StatusCode != http.StatusForbidden {
				t.Fatalf("status %d, want 403", r.StatusCode)
			}
			if cookie(r.Response, SessionCookie) != nil {
				t.Fatal("session cookie set despite bad CSRF token")
			}
		})
	}
	// Without any CSRF cookie at all.
	c := e.browser(t)
	r := do(t, c, "POST", e.ts.URL+"/login", url.Values{"csrf_token": {otherTok}, "username": {"alice"}, "password": {"pw"}})
	if r.StatusCode != http.StatusForbidden {
		t.Fatalf("no cookie: status %d, want 403", r.StatusCode)
	}
}

func TestLoginNextStaysLocal(t *testing.T) {
	e := newTestServer(t, nil)
	e.addUser(t, "alice", "pw")
	tests := []struct{ next, want string }{
		{"//evil.com", "/"},
		{"https://evil.com", "/"},
		{"/\\evil.com", "/"},
		{"\\\\evil.com", "/"},
		{"/\t/evil.com", "/"},
		{"javascript:alert(1)", "/"},
		{"http:evil.com", "/"},
		{"evil.com", "/"},
		{"", "/"},
		{"/authorize?client_id=a&redirect_uri=https%3A%2F%2Frp.example%2Fcb", "/authorize?client_id=a&redirect_uri=https%3A%2F%2Frp.example%2Fcb"},
	}
	for _, tt := range tests {
		t.Run(tt.next, func(t *testing.T) {
			r := e.login(t, e.browser(t), "alice", "pw", tt.next)
			if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != tt.want {
				t.Fatalf("next=%q: %d Location %q, want %q", tt.next, r.StatusCode, r.Header.Get("Location"), tt.want)
			}
		})
	}
}

func TestLoginThrottle(t *testing.T) {
	e := newTestServer(t, nil)
	e.addUser(t, "alice", "right")
	c := e.browser(t)
	for i := range 10 {
		r := e.login(t, c, "alice", "wrong", "")
		if r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d: status %d, want 401", i+1, r.StatusCode)
		}
	}
	// Locked: even the right password is refused, the password unchecked,
	// with the answer of a wrong password (SECURITY I3).
	// A different case of the username shares the counter.
	for _, name := range []string{"alice", "ALICE"} {
		r := e.login(t, c, name, "right", "")
		if r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%s after 10 failures: status %d, want 401", name, r.StatusCode)
		}
		if r.Header.Get("Retry-After") != "" {
			t.Fatalf("Retry-After = %q", r.Header.Get("Retry-After"))
		}
		if !strings.Contains(r.body, "Invalid username or password") || cookie(r.Response, SessionCookie) != nil {
			t.Fatalf("locked response:\n%s", r.body)
		}
	}
	if !strings.Contains(e.logs.String(), "login throttled") {
		t.Error("lockout not logged")
	}
	// After the window the account works again.
	e.clock.Add(5*time.Minute + time.Second)
	if r := e.login(t, c, "alice", "right", ""); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("after window: status %d", r.StatusCode)
	}
}

func TestLoginThrottlePerIP(t *testing.T) {
	e := newTestServer(t, func(c *Config) { c.LoginMaxFailures = 3 })
	e.addUser(t, "bob", "right")
	c := e.browser(t)
	// Failures spread over unknown usernames still count for the IP.
	for i, name := range []string{"u1", "u2", "u3"} {
		if r := e.login(t, c, name, "x", ""); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i, r.StatusCode)
		}
	}
	if r := e.login(t, c, "bob", "right", ""); r.StatusCode != http.StatusUnauthorized || cookie(r.Response, SessionCookie) != nil {
		t.Fatalf("bob from a locked IP: %d, want 401", r.StatusCode)
	}
}

func TestUnknownUserLooksLikeWrongPassword(t *testing.T) {
	e := newTestServer(t, nil)
	e.addUser(t, "alice", "right")
	c := e.browser(t)
	wrong := e.login(t, c, "alice", "wrong", "/x")
	unknown := e.login(t, c, "zelda", "wrong", "/x")
	if wrong.StatusCode != http.StatusUnauthorized || unknown.StatusCode != wrong.StatusCode {
		t.Fatalf("status: wrong password %d, unknown user %d", wrong.StatusCode, unknown.StatusCode)
	}
	// The pages differ only by the echoed username.
	if a, b := strings.ReplaceAll(wrong.body, "alice", "NAME"), strings.ReplaceAll(unknown.body, "zelda", "NAME"); a != b {
		t.Fatalf("bodies differ:\n%s\n---\n%s", a, b)
	}
	// And once locked, known and unknown accounts answer alike (SECURITY I3).
	for range 10 {
		e.login(t, c, "alice", "wrong", "/x")
		e.login(t, c, "zelda", "wrong", "/x")
	}
	lk := e.login(t, e.browser(t), "alice", "wrong", "/x")
	lu := e.login(t, e.browser(t), "zelda", "wrong", "/x")
	if lk.StatusCode != http.StatusUnauthorized || lu.StatusCode != lk.StatusCode {
		t.Fatalf("locked status: known %d, unknown %d", lk.StatusCode, lu.StatusCode)
	}
}

func TestLogout(t *testing.T) {
	e := newTestServer(t, nil)
	e.addUser(t, "alice", "pw")
	c := e.browser(t)
	if r := e.login(t, c, "alice", "pw", ""); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", r.StatusCode)
	}
	r := do(t, c, "GET", e.ts.URL+"/logout", nil)
	if r.StatusCode != http.StatusOK || !strings.Contains(r.body, "<strong>alice</strong>") {
		t.Fatalf("GET /logout: %d\n%s", r.StatusCode, r.body)
	}
	tok := csrfRE.FindStringSubmatch(r.body)[1]

	// GET alone and a POST without the token change nothing.
	if r := do(t, c, "POST", e.ts.URL+"/logout", url.Values{"csrf_token": {"x"}}); r.StatusCode != http.StatusForbidden {
		t.Fatalf("logout without token: %d", r.StatusCode)
	}
	if e.currentUser(t, c) == "" {
		t.Fatal("logged out by a GET or a bad POST")
	}

	r = do(t, c, "POST", e.ts.URL+"/logout", url.Values{"csrf_token": {tok}})
	if r.StatusCode != http.StatusOK || !strings.Contains(r.body, "Signed out") {
		t.Fatalf("POST /logout: %d\n%s", r.StatusCode, r.body)
	}
	if ck := cookie(r.Response, SessionCookie); ck == nil || ck.MaxAge >= 0 {
		t.Fatalf("session cookie not cleared: %+v", ck)
	}
	if got := e.currentUser(t, c); got != "" {
		t.Fatalf("still logged in as %s", got)
	}
}

func TestSelectAccountContinue(t *testing.T) {
	e := newTestServer(t, nil)
	e.addUser(t, "alice", "pw")
	c := e.browser(t)
	e.login(t, c, "alice", "pw", "")
	next := "/authorize?client_id=a&prompt=select_account+consent"
	r := do(t, c, "GET", e.ts.URL+"/login?prompt=select_account&next="+url.QueryEscape(next), nil)
	if !strings.Contains(r.body, `href="/authorize?client_id=a&amp;prompt=consent"`) {
		t.Fatalf("no continue link without select_account:\n%s", r.body)
	}
}

// /healthz is liveness (no dependency: a database outage must not get
// every node restarted), /readyz readiness (database and keys), with the
// meaning Kubernetes gives them; the version only when asked.
func TestHealthzReadyz(t *testing.T) {
	e := newTestServer(t, nil)
	c := e.browser(t)
	r := do(t, c, "GET", e.ts.URL+"/healthz", nil)
	if r.StatusCode != http.StatusOK || strings.TrimSpace(r.body) != `{"status":"ok"}` {
		t.Fatalf("healthz: %d %s", r.StatusCode, r.body)
	}
	r = do(t, c, "GET", e.ts.URL+"/readyz", nil)
	if r.StatusCode != http.StatusOK || strings.TrimSpace(r.body) != `{"status":"ready"}` {
		t.Fatalf("readyz: %d %s", r.StatusCode, r.body)
	}
	e.store.Close()
	r = do(t, c, "GET", e.ts.URL+"/readyz", nil)
	if r.StatusCode != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" {
		t.Fatalf("readyz with closed store: %d", r.StatusCode)
	}
	if !strings.Contains(e.logs.String(), `level=ERROR msg="readiness check failed"`) {
		t.Fatalf("a database that does not answer is not logged as an error:\n%s", e.logs)
	}
	if r := do(t, c, "GET", e.ts.URL+"/healthz", nil); r.StatusCode != http.StatusOK {
		t.Fatalf("healthz with closed store: %d (liveness must not depend on the database)", r.StatusCode)
	}
	if r := do(t, c, "POST", e.ts.URL+"/readyz", nil); r.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST /readyz: %d", r.StatusCode)
	}

	// Config.Ready is one more condition: 503 while it fails, 200 after.
	// Start-up work still under way (op.ErrStarting) is no fault: every
	// probe of a first start meets it, so it is logged at info level.
	var pending atomic.Bool
	pending.Store(true)
	e = newTestServer(t, func(c *Config) {
		c.Ready = func(context.Context) error {
			if pending.Load() {
				return fmt.Errorf("the admin account is still being made (%w)", op.ErrStarting)
			}
			return nil
		}
	})
	if r := do(t, e.browser(t), "GET", e.ts.URL+"/readyz", nil); r.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("readyz while Config.Ready fails: %d %s", r.StatusCode, r.body)
	}
	if logs := e.logs.String(); !strings.Contains(logs, `level=INFO msg="readiness check failed"`) || strings.Contains(logs, "level=ERROR") {
		t.Fatalf("start-up work under way is logged as an error:\n%s", logs)
	}
	pending.Store(false)
	if r := do(t, e.browser(t), "GET", e.ts.URL+"/readyz", nil); r.StatusCode != http.StatusOK {
		t.Fatalf("readyz once Config.Ready passes: %d %s", r.StatusCode, r.body)
	}

	e = newTestServer(t, func(c *Config) { c.HealthzVersion = true })
	r = do(t, e.browser(t), "GET", e.ts.URL+"/healthz", nil)
	if r.StatusCode != http.StatusOK || !strings.Contains(r.body, `"go_version":"go`) || !strings.Contains(r.body, `"status":"ok"`) {
		t.Fatalf("healthz with version: %d %s", r.StatusCode, r.body)
	}
}

func TestProviderMounted(t *testing.T) {
	for _, prefix := range []string{"", "/openid"} {
		t.Run("prefix="+prefix, func(t *testing.T) {
			var issuer string
			e := newTestServer(t, func(c *Config) {
				c.Provider.Issuer += prefix
				issuer = c.Provider.Issuer
			})
			tt := struct{ issuer, prefix string }{issuer, prefix}
			c := e.browser(t)
			for _, p := range []string{"/.well-known/openid-configuration", "/.well-known/openid-configuration/", "/jwks", "/login", "/healthz"} {
				if r := do(t, c, "GET", e.ts.URL+tt.prefix+p, nil); r.StatusCode != http.StatusOK {
					t.Errorf("GET %s%s: %d", tt.prefix, p, r.StatusCode)
				}
			}
			r := do(t, c, "GET", e.ts.URL+tt.prefix+"/.well-known/openid-configuration", nil)
			if !strings.Contains(r.body, `"issuer":"`+tt.issuer+`"`) {
				t.Errorf("discovery: %s", r.body)
			}
			// The provider sends unauthenticated browsers to our login page.
			r = do(t, c, "GET", e.ts.URL+tt.prefix+"/authorize?client_id=unknown", nil)
			if r.StatusCode != http.StatusBadRequest {
				t.Errorf("authorize with unknown client: %d", r.StatusCode)
			}
			if r := do(t, c, "PUT", e.ts.URL+tt.prefix+"/login", nil); r.StatusCode != http.StatusMethodNotAllowed {
				t.Errorf("PUT /login: %d", r.StatusCode)
			}
		})
	}
}

func TestAccessLogOmitsQuery(t *testing.T) {
	e := newTestServer(t, nil)
	c := e.browser(t)
	const secret = "SECRETTOKEN0123456789"
	do(t, c, "GET", e.ts.URL+"/userinfo?access_token="+secret, nil)
	do(t, c, "GET", e.ts.URL+"/login?next=/authorize%3Fcode%3D"+secret, nil)
	logs := e.logs.String()
	if strings.Contains(logs, secret) {
		t.Fatalf("access log holds the query string:\n%s", logs)
	}
	if !strings.Contains(logs, "path=/userinfo") || !strings.Contains(logs, "status=401") || !strings.Contains(logs, "method=GET") {
		t.Fatalf("access log lacks the request:\n%s", logs)
	}
}

func TestRecoverPanic(t *testing.T) {
	e := newTestServer(t, nil)
	h := e.srv.accessLog(e.srv.recover(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("boom")
	})))
	ts := httptest.NewServer(h)
	defer ts.Close()
	for range 2 { // the server lives on
		r := do(t, ts.Client(), "GET", ts.URL+"/x", nil)
		if r.StatusCode != http.StatusInternalServerError {
			t.Fatalf("status %d, want 500", r.StatusCode)
		}
	}
	if logs := e.logs.String(); !strings.Contains(logs, "panic serving request") || !strings.Contains(logs, "boom") {
		t.Fatalf("panic not logged:\n%s", logs)
	}
}

func TestClientIP(t *testing.T) {
	e := newTestServer(t, nil)
	s := e.srv
	s.cfg.TrustedProxies = mustPrefixes(t, "10.0.0.0/8", "::1/128")
	tests := []struct {
		name, remote, xff, want string
	}{
		{"untrusted peer ignores header", "203.0.113.5:4000", "198.51.100.7", "203.0.113.5"},
		{"trusted peer", "10.1.2.3:4000", "198.51.100.7", "198.51.100.7"},
		{"rightmost untrusted hop", "10.1.2.3:4000", "1.1.1.1, 198.51.100.7, 10.9.9.9", "198.51.100.7"},
		{"spoofed leftmost ignored", "10.1.2.3:4000", "6.6.6.6,198.51.100.7", "198.51.100.7"},
		{"no header", "10.1.2.3:4000", "", "10.1.2.3"},
		{"garbage", "10.1.2.3:4000", "nonsense", "10.1.2.3"},
		{"ipv6 peer", "[::1]:4000", "2001:db8::1", "2001:db8::1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			if tt.xff != "" {
				r.Header.Set("X-Forwarded-For", tt.xff)
			}
			if got := s.clientIP(r); got != tt.want {
				t.Fatalf("clientIP = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestClaims(t *testing.T) {
	e := newTestServer(t, nil)
	u := e.addUser(t, "alice", "pw")
	u.Name, u.PhoneNumber, u.EmailVerified = "Alice A", "+1 555", true
	u.Address.Country = "NZ"
	if err := e.store.UpdateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	var c claimsT
	if err := (*users)(e.srv).Claims(context.Background(), u.ID, &c); err != nil {
		t.Fatal(err)
	}
	if c.Name != "Alice A" || c.Email != "alice@example.com" || !c.EmailVerified || c.PhoneNumber != "+1 555" ||
		c.Address.Country != "NZ" || c.PreferredUsername != "alice" || c.UpdatedAt.IsZero() {
		t.Fatalf("claims = %+v", c)
	}
	if err := (*users)(e.srv).Claims(context.Background(), "nobody", &c); err == nil {
		t.Fatal("claims of an unknown user: no error")
	}
}
