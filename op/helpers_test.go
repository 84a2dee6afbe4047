package op_test

import (
	"context"
	"errors"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oidcd/oidcd/keys"
	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage"
	"github.com/oidcd/oidcd/storage/memstore"
	"github.com/oidcd/oidcd/storage/sqlstore"
)

// rpCallback is where test clients are redirected; it is never fetched.
const rpCallback = "https://rp.example/cb"

// testEnv is a Provider behind a real HTTP server, with a minimal host
// application: /login logs in whoever env.loginAs names. Its storage is the
// in-memory backend unless the test is about SQLite (newSQLiteTestEnv).
type testEnv struct {
	t      testing.TB
	srv    *httptest.Server
	p      *op.Provider
	store  storage.Provider
	dbPath string // the SQLite file of newSQLiteTestEnv, to see what is at rest
	sealer keys.Sealer
	users  *testUsers
	clock  *clock
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// testUsers is the host application's user model: sessions in memory keyed
// by a cookie, claims in a map.
type testUsers struct {
	clock    *clock
	mu       sync.Mutex
	sessions map[string]*op.User
	claims   map[string]op.Claims
	loginAs  string
	logins   int
}

func (u *testUsers) CurrentUser(r *http.Request) (*op.User, error) {
	c, err := r.Cookie("test_session")
	if err != nil {
		return nil, nil
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if s, ok := u.sessions[c.Value]; ok {
		cp := *s
		return &cp, nil
	}
	return nil, nil
}

func (u *testUsers) Claims(ctx context.Context, id string, c *op.Claims) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	cl, ok := u.claims[id]
	if !ok {
		return errors.New("no such user")
	}
	*c = cl
	return nil
}

// AuthenticatePassword makes testUsers a PasswordAuthenticator: every user's
// password is "pw-" + id; "locked" is always throttled.
func (u *testUsers) AuthenticatePassword(r *http.Request, username, password string) (*op.User, error) {
	if username == "locked" {
		return nil, &op.ThrottledError{RetryAfter: 90 * time.Second}
	}
	u.mu.Lock()
	_, ok := u.claims[username]
	u.mu.Unlock()
	if !ok || password != "pw-"+username {
		return nil, op.ErrInvalidCredentials
	}
	return &op.User{ID: username, AuthTime: u.clock.Now()}, nil
}

// EndSession makes testUsers an op.SessionEnder: the session is forgotten
// and its cookie cleared.
func (u *testUsers) EndSession(w http.ResponseWriter, r *http.Request, _ *op.User) error {
	if c, err := r.Cookie("test_session"); err == nil {
		u.mu.Lock()
		delete(u.sessions, c.Value)
		u.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: "test_session", Value: "", Path: "/", MaxAge: -1})
	return nil
}

// login is the host's login page: it logs in users.loginAs and follows next.
func (u *testUsers) login(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	u.logins++
	id := "s" + strings.Repeat("x", u.logins)
	u.sessions[id] = &op.User{ID: u.loginAs, AuthTime: u.clock.Now(), SessionID: "sid-" + id}
	u.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: "test_session", Value: id, Path: "/"})
	next := r.URL.Query().Get("next")
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
		next = "/"
	}
	http.Redirect(w, r, next, http.StatusFound)
}

func newTestEnv(t testing.TB, mutate func(*op.Config)) *testEnv {
	t.Helper()
	return newTestEnvOn(t, memstore.New(), mutate)
}

// newSQLiteTestEnv is newTestEnv on a real SQLite file, for what measures or
// depends on a database (benchmarks).
func newSQLiteTestEnv(t testing.TB, mutate func(*op.Config)) *testEnv {
	t.Helper()
	ctx := t.Context()
	dbPath := t.TempDir() + "/op.db"
	store, err := sqlstore.Open(ctx, "sqlite:"+dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	env := newTestEnvOn(t, store, mutate)
	env.dbPath = dbPath
	return env
}

func newTestEnvOn(t testing.TB, store storage.Provider, mutate func(*op.Config)) *testEnv {
	t.Helper()
	ctx := t.Context()
	sealer, err := keys.NewSealer([]byte("0123456789abcdef0123456789abcdef-test"))
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{now: time.Now().Truncate(time.Second)}
	users := &testUsers{clock: clk, sessions: map[string]*op.User{}, claims: map[string]op.Claims{
		"alice": {Name: "Alice Liddell", GivenName: "Alice", FamilyName: "Liddell", Email: "alice@example.com",
			EmailVerified: true, PhoneNumber: "+1 555 0100", Address: op.Address{Locality: "Oxford", Country: "UK"}},
		"bob": {Name: "Bob", Email: "bob@example.com"},
	}, loginAs: "alice"}
	env := &testEnv{t: t, store: store, sealer: sealer, users: users, clock: clk}
	env.srv = httptest.NewUnstartedServer(nil)
	cfg := op.Config{
		Issuer:  "http://" + env.srv.Listener.Addr().String(),
		Storage: store,
		Users:   users,
		Sealer:  sealer,
		Now:     clk.Now,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	p, err := op.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	env.p = p
	mux := http.NewServeMux()
	mux.HandleFunc("/login", users.login)
	mux.Handle("/", p)
	env.srv.Config.Handler = mux
	env.srv.Start()
	t.Cleanup(env.srv.Close)
	return env
}

// client registers a client; the secret is empty for public clients.
func (env *testEnv) client(spec storage.Client) (id, secret string) {
	env.t.Helper()
	if spec.Name == "" {
		spec.Name = "Test App"
	}
	if len(spec.RedirectURIs) == 0 {
		spec.RedirectURIs = []string{rpCallback}
	}
	c, secret, err := op.NewClient(spec, env.sealer, env.clock.Now(), nil)
	if err != nil {
		env.t.Fatal(err)
	}
	if err := env.store.CreateClient(env.t.Context(), c); err != nil {
		env.t.Fatal(err)
	}
	return c.ID, secret
}

// browser is a user agent with cookies that follows redirects on the OP and
// stops at any other host (the relying party).
type browser struct {
	t    testing.TB
	env  *testEnv
	http *http.Client
}

func (env *testEnv) browser() *browser {
	jar, _ := cookiejar.New(nil)
	opHost := env.srv.Listener.Addr().String()
	return &browser{t: env.t, env: env, http: &http.Client{
		Jar: jar,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Host != opHost {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}}
}

// page is a response with its body read.
type page struct {
	status int
	header http.Header
	body   string
	url    *url.URL
}

func (b *browser) do(req *http.Request) *page {
	b.t.Helper()
	resp, err := b.http.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return &page{status: resp.StatusCode, header: resp.Header, body: string(body), url: resp.Request.URL}
}

func (b *browser) get(u string) *page {
	req, err := http.NewRequestWithContext(b.t.Context(), http.MethodGet, u, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

func (b *browser) post(u string, form url.Values) *page {
	req, err := http.NewRequestWithContext(b.t.Context(), http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var (
	hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)
	checkedBox  = regexp.MustCompile(`<input type="checkbox" id="[^"]*" name="([^"]*)" value="([^"]*)" checked>`)
)

// consent submits the consent page shown in pg, granting when allow.
func (b *browser) consent(pg *page, allow bool) *page {
	b.t.Helper()
	if !strings.Contains(pg.body, `name="allow"`) {
		b.t.Fatalf("not a consent page (status %d): %s", pg.status, pg.body)
	}
	form := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(pg.body, -1) {
		form.Add(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	// As a browser does, checked boxes ("remember this decision") are sent.
	for _, m := range checkedBox.FindAllStringSubmatch(pg.body, -1) {
		form.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	if allow {
		form.Set("allow", "Allow")
	}
	return b.post(b.env.srv.URL+"/authorize", form)
}

// callback returns the parameters the OP sent to the relying party: from the
// Location's query or fragment.
func callback(t testing.TB, pg *page) url.Values {
	t.Helper()
	loc := pg.header.Get("Location")
	if pg.status != http.StatusFound && pg.status != http.StatusSeeOther {
		t.Fatalf("want a redirect to the client, got %d: %s", pg.status, pg.body)
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(loc, rpCallback) && !strings.HasPrefix(loc, "http://127.0.0.1") {
		t.Fatalf("redirected to %s, not the client", loc)
	}
	if u.Fragment != "" {
		v, err := url.ParseQuery(u.Fragment)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	return u.Query()
}

// authorize runs a browser through login and (when shown) consent, and
// returns what reached the client.
func (b *browser) authorize(authURL string) url.Values {
	b.t.Helper()
	pg := b.get(authURL)
	if strings.Contains(pg.body, `name="allow"`) {
		pg = b.consent(pg, true)
	}
	return callback(b.t, pg)
}

// The engine is tested with both backends.
var (
	_ storage.Provider = (*sqlstore.Store)(nil)
	_ storage.Provider = (*memstore.Store)(nil)
)

// atomicCounter hands out 1, 2, 3… to parallel benchmark goroutines.
type atomicCounter struct{ n atomic.Int64 }

func (c *atomicCounter) add() int64 { return c.n.Add(1) }
