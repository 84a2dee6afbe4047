package server

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/oidcd/oidcd/internal/pgtest"
	"github.com/oidcd/oidcd/storage/sqlstore"
)

// loginCSRF fetches the login form once and returns a browser and its token,
// so that the concurrent POSTs below all start at once.
func loginCSRF(t *testing.T, e *testEnv) (*http.Client, string) {
	c := e.browser(t)
	return c, e.csrf(t, c, "/login")
}

// postLogins sends n concurrent login POSTs for username, password(i), spread
// over the test servers, and returns their responses.
func postLogins(t *testing.T, envs []*testEnv, n int, username string, password func(i int) string) []response {
	t.Helper()
	type prepared struct {
		e   *testEnv
		c   *http.Client
		tok string
	}
	ps := make([]prepared, n)
	for i := range n {
		e := envs[i%len(envs)]
		c, tok := loginCSRF(t, e)
		ps[i] = prepared{e, c, tok}
	}
	out := make([]response, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			p := ps[i]
			out[i] = do(t, p.c, "POST", p.e.ts.URL+"/login", url.Values{
				"csrf_token": {p.tok}, "username": {username}, "password": {password(i)},
			})
		}()
	}
	close(start)
	wg.Wait()
	return out
}

// checked counts the attempts whose password was checked and failed, and
// those refused unchecked, from the servers' logs.
func checkedAndRefused(envs []*testEnv) (failed, throttled int) {
	for _, e := range envs {
		l := e.logs.String()
		failed += strings.Count(l, `msg="login failed"`)
		throttled += strings.Count(l, `msg="login throttled"`)
	}
	return failed, throttled
}

// TestLoginThrottleRace: 30 concurrent wrong guesses for one user (limit
// 10) check at most 10 passwords; the rest are refused unchecked, and the
// right password afterwards is refused too (SECURITY L7; docs/security.md).
// The username's and the IP's counters are reserved one after the other,
// so under contention an attempt can be among the first ten on one and not
// on the other: fewer than 10 may be checked, never more.
func TestLoginThrottleRace(t *testing.T) {
	e := newTestServer(t, nil)
	e.addUser(t, "alice", "right")
	rs := postLogins(t, []*testEnv{e}, 30, "alice", func(int) string { return "wrong" })
	for i, r := range rs {
		if r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i, r.StatusCode)
		}
	}
	failed, throttled := checkedAndRefused([]*testEnv{e})
	if failed < 1 || failed > 10 || failed+throttled != 30 {
		t.Fatalf("30 concurrent guesses: %d passwords checked, %d refused unchecked; want 1..10 checked", failed, throttled)
	}
	// Fewer than 10 may have been checked (see above): the lock comes with
	// the 10th recorded failure, and then the right password is refused.
	for range 10 - failed {
		if r := e.login(t, e.browser(t), "alice", "wrong", ""); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong password after the race: %d", r.StatusCode)
		}
	}
	if r := e.login(t, e.browser(t), "alice", "right", ""); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("right password after the race and 10 failures: %d, want 401 (locked)", r.StatusCode)
	}
}

// TestLoginThrottleRacePostgres: two servers (nodes) on one PostgreSQL
// database, 40 concurrent guesses spread over both: at most 10 checked.
func TestLoginThrottleRacePostgres(t *testing.T) {
	dsn := pgtest.NewDatabase(t, pgtest.URL())
	open := func(c *Config) {
		s, err := sqlstore.Open(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if err := s.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		c.Store = s
	}
	a := newTestServer(t, open)
	b := newTestServer(t, func(c *Config) { open(c); c.Now = a.clock.Now })
	u, err := NewUser("alice", "right", a.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := a.srv.store.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	envs := []*testEnv{a, b}
	postLogins(t, envs, 40, "alice", func(int) string { return "wrong" })
	failed, throttled := checkedAndRefused(envs)
	if failed < 1 || failed > 10 || failed+throttled != 40 {
		t.Fatalf("40 guesses over two nodes: %d checked, %d refused unchecked; want 1..10 checked", failed, throttled)
	}
}

// TestPasswordGrantThrottleRace: the password grant reserves too.
func TestPasswordGrantThrottleRace(t *testing.T) {
	e := newTestServer(t, func(c *Config) { c.Provider.PasswordGrant = true })
	e.addUser(t, "alice", "right")
	conf, _, _ := newRP(t, e)
	conf.Endpoint.AuthStyle = oauth2.AuthStyleInHeader // one request per guess
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, e.ts.Client())
	const n = 25
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = conf.PasswordCredentialsToken(ctx, "alice", "wrong")
		}()
	}
	wg.Wait()
	for i, err := range errs {
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" || re.Response.Header.Get("Retry-After") != "" {
			t.Fatalf("guess %d: %v", i, err)
		}
	}
	if got := strings.Count(e.logs.String(), `msg="password grant throttled" ip=`); got < n-10 || got == n {
		t.Fatalf("%d of %d concurrent guesses refused unchecked, want %d..%d", got, n, n-10, n-1)
	}
}

var csrfValueRE = regexp.MustCompile(`value="[^"]*"`)

// TestLockoutLooksLikeWrongPassword: status, body, headers and time of a
// lockout are those of a wrong password (SECURITY I3).
func TestLockoutLooksLikeWrongPassword(t *testing.T) {
	e := newTestServer(t, func(c *Config) { c.LoginMaxFailures = 3 })
	e.addUser(t, "alice", "right")
	e.addUser(t, "bob", "right")
	timed := func(user string) (response, time.Duration) {
		c, tok := loginCSRF(t, e)
		start := time.Now()
		r := do(t, c, "POST", e.ts.URL+"/login", url.Values{"csrf_token": {tok}, "username": {user}, "password": {"wrong"}})
		return r, time.Since(start)
	}
	var wrongTimes, lockedTimes []time.Duration
	var wrong, locked response
	for range 3 {
		r, d := timed("alice")
		wrong, wrongTimes = r, append(wrongTimes, d)
	}
	for range 6 {
		r, d := timed("alice")
		locked, lockedTimes = r, append(lockedTimes, d)
	}
	if !strings.Contains(e.logs.String(), "login throttled") {
		t.Fatal("alice was not locked")
	}
	if wrong.StatusCode != locked.StatusCode {
		t.Fatalf("status: wrong password %d, locked %d", wrong.StatusCode, locked.StatusCode)
	}
	if a, b := csrfValueRE.ReplaceAllString(wrong.body, ""), csrfValueRE.ReplaceAllString(locked.body, ""); a != b {
		t.Fatalf("bodies differ:\n%s\n---\n%s", a, b)
	}
	headers := func(h http.Header) []string {
		var out []string
		for k, v := range h {
			if k == "Date" || k == "Set-Cookie" || k == "Content-Security-Policy" || k == "X-Request-Id" {
				out = append(out, k) // values vary per response (time, nonce, request id)
				continue
			}
			out = append(out, k+": "+strings.Join(v, ","))
		}
		sort.Strings(out)
		return out
	}
	if a, b := headers(wrong.Header), headers(locked.Header); strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Fatalf("headers differ:\n%v\n---\n%v", a, b)
	}
	// A refused attempt still hashes (the dummy hash), so it takes about as
	// long as a checked one; without that it is 10× faster. Load from other
	// tests only ever adds time, so the fastest of each kind is compared.
	if mw, ml := slices.Min(wrongTimes), slices.Min(lockedTimes); ml < mw/3 {
		t.Fatalf("a lockout answers in %v, a wrong password in %v: the lockout is visible by timing", ml, mw)
	}
}

// TestThrottleKeysAreDigests: the throttle table never holds the typed
// username or the IP (SECURITY L7).
func TestThrottleKeysAreDigests(t *testing.T) {
	e := newTestServer(t, nil)
	const typed = "alice' --"
	e.login(t, e.browser(t), typed, "wrong", "")
	db, err := sql.Open("sqlite", filepath.Clean(strings.TrimPrefix(e.dsn, "sqlite:")))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(t.Context(), `SELECT key FROM throttle_failures`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var k []byte
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		n++
		if bytes.Contains(bytes.ToLower(k), []byte("alice")) || bytes.Contains(k, []byte("127.0.0.1")) {
			t.Fatalf("throttle key %q holds what was typed", k)
		}
	}
	if n != 2 {
		t.Fatalf("%d throttle rows for one failed login, want 2 (username and IP)", n)
	}
}
