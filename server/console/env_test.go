package console

import (
	"bytes"
	"context"
	"encoding/base64"
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
	"testing"
	"time"

	"github.com/oidcd/oidcd/internal/logbuf"
	"github.com/oidcd/oidcd/internal/pgtest"
	"github.com/oidcd/oidcd/keys"
	"github.com/oidcd/oidcd/manage"
	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/server"
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

// env is a real oidcd server with the console on a real SQLite file,
// served over HTTP, with a settable clock.
// untranslated records every message a page showed without a translation
// in its language (TestEveryPageEveryLanguage fails on any).
var untranslated missingTexts

type missingTexts struct {
	mu   sync.Mutex
	list []string
}

func (m *missingTexts) add(lang, msgid string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.list = append(m.list, lang+": "+msgid)
}

func (m *missingTexts) take() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := m.list
	m.list = nil
	return out
}

type env struct {
	dsn     string
	srv     *server.Server
	svc     *manage.Service
	console *Console
	ts      *httptest.Server
	store   *sqlstore.Store
	sealer  keys.Sealer
	clock   *clock
	logs    *logbuf.Buffer
}

func newEnv(t *testing.T, mutate func(*Config)) *env {
	t.Helper()
	return newEnvAt(t, "", mutate)
}

// newEnvAt is newEnv with the issuer (and so every page) under path.
func newEnvAt(t *testing.T, path string, mutate func(*Config)) *env {
	t.Helper()
	clk := &clock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	return newNode(t, "sqlite:"+filepath.Join(t.TempDir(), "oidcd.db"), clk, path, mutate)
}

// newEnvPostgres is newEnv on a new PostgreSQL database.
func newEnvPostgres(t *testing.T, mutate func(*Config)) *env {
	t.Helper()
	clk := &clock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	return newNode(t, pgtest.NewDatabase(t, pgtest.URL()), clk, "", mutate)
}

// node starts another server with the console on e's database and clock,
// as a second node of a cluster.
func (e *env) node(t *testing.T) *env {
	t.Helper()
	return newNode(t, e.dsn, e.clock, "", nil)
}

func newNode(t *testing.T, dsn string, clk *clock, path string, mutate func(*Config)) *env {
	t.Helper()
	ctx := t.Context()
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
	logs := &logbuf.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ts := httptest.NewUnstartedServer(nil)
	scfg := server.Config{Store: store, Sealer: sealer, Logger: log, Now: clk.Now}
	scfg.Provider.OnMissingTranslation = untranslated.add
	scfg.Provider.Issuer = "http://" + ts.Listener.Addr().String() + path
	srv, err := server.New(ctx, scfg)
	if err != nil {
		t.Fatal(err)
	}
	p := srv.Provider()
	svc, err := manage.New(manage.Config{
		Store: store, Sealer: sealer, Rules: server.AccountRules{}, Now: clk.Now,
		TokenLifetime: time.Hour, KeyActivateAfter: 5 * time.Minute, InsecureAllowHTTP: true,
		EndSession: func(ctx context.Context, userID, sessionID string) error {
			_, err := p.EndSession(ctx, op.Logout{UserID: userID, SessionID: sessionID})
			return err
		},
		Emit: p.Emit,
		Changed: func(ctx context.Context, ch manage.Change) {
			if ch.ClientID != "" {
				p.ForgetClient(ch.ClientID)
			}
			if ch.KeyID != "" {
				p.ReloadKeys(ctx)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Server: srv, Service: svc, Store: store, Sealer: sealer, Logger: log, Now: clk.Now}
	if mutate != nil {
		mutate(&cfg)
	}
	con, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv.AddPages(con)
	ts.Config.Handler = srv.Handler()
	ts.Start()
	t.Cleanup(ts.Close)
	return &env{dsn: dsn, srv: srv, svc: svc, console: con, ts: ts, store: store, sealer: sealer, clock: clk, logs: logs}
}

// addUser stores an account.
func (e *env) addUser(t *testing.T, username, password string, admin bool) *storage.User {
	t.Helper()
	u, err := server.NewUser(username, password, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	u.Admin = admin
	u.Email = username + "@example.com"
	u.Name = strings.ToUpper(username[:1]) + username[1:]
	if err := e.store.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	return u
}

// browser is an HTTP client with its own cookies that does not follow
// redirects.
func (e *env) browser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
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

func (e *env) get(t *testing.T, c *http.Client, path string) response {
	t.Helper()
	return do(t, c, "GET", e.ts.URL+path, nil)
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// tokens returns the CSRF tokens of every form of a page.
func tokens(t *testing.T, r response) []string {
	t.Helper()
	var out []string
	for _, m := range csrfRE.FindAllStringSubmatch(r.body, -1) {
		out = append(out, m[1])
	}
	return out
}

// token fetches page and returns the CSRF token of its first form.
func (e *env) token(t *testing.T, c *http.Client, page string) string {
	t.Helper()
	r := e.get(t, c, page)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d\n%s", page, r.StatusCode, r.body)
	}
	ts := tokens(t, r)
	if len(ts) == 0 {
		t.Fatalf("GET %s: no csrf_token in\n%s", page, r.body)
	}
	return ts[0]
}

// post sends a console form with a fresh token from page.
func (e *env) post(t *testing.T, c *http.Client, page, action string, form url.Values) response {
	t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf_token", e.token(t, c, page))
	return do(t, c, "POST", e.ts.URL+action, form)
}

// login signs c in through the real login page.
func (e *env) login(t *testing.T, c *http.Client, username, password string) {
	t.Helper()
	r := e.get(t, c, "/login")
	m := csrfRE.FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("login page without csrf_token:\n%s", r.body)
	}
	r = do(t, c, "POST", e.ts.URL+"/login", url.Values{"csrf_token": {m[1]}, "username": {username}, "password": {password}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("login as %s: %d\n%s", username, r.StatusCode, r.body)
	}
}

// wantStatus fails unless r has status want.
func wantStatus(t *testing.T, what string, r response, want int) {
	t.Helper()
	if r.StatusCode != want {
		body := r.body
		if i := strings.Index(body, "<main"); i >= 0 {
			body = body[i:]
		}
		if len(body) > 3000 {
			body = body[:3000]
		}
		t.Fatalf("%s: status %d, want %d\n%s", what, r.StatusCode, want, body)
	}
}

// wantLogin fails unless r sends the browser to the login page with next.
func wantLogin(t *testing.T, what string, r response, next string) {
	t.Helper()
	if r.StatusCode != http.StatusFound && r.StatusCode != http.StatusSeeOther {
		t.Fatalf("%s: status %d, want a redirect to the login page\n%s", what, r.StatusCode, r.body)
	}
	want := "/login?" + url.Values{"next": {next}}.Encode()
	if got := r.Header.Get("Location"); got != want {
		t.Fatalf("%s: Location %q, want %q", what, got, want)
	}
}

func base64URL(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }
