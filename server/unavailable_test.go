package server

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oidcd/oidcd/storage"
)

// downStore fails what the server pages read while down is set, as an
// unreachable database does.
type downStore struct {
	storage.Storage
	down atomic.Bool
}

var errDown = fmt.Errorf("test: connection refused: %w", storage.ErrUnavailable)

func (s *downStore) Ping(ctx context.Context) error {
	if s.down.Load() {
		return errDown
	}
	return s.Storage.Ping(ctx)
}

func (s *downStore) Session(ctx context.Context, hash []byte, now time.Time) (*storage.Session, error) {
	if s.down.Load() {
		return nil, errDown
	}
	return s.Storage.Session(ctx, hash, now)
}

func (s *downStore) UserByUsername(ctx context.Context, username string) (*storage.User, error) {
	if s.down.Load() {
		return nil, errDown
	}
	return s.Storage.UserByUsername(ctx, username)
}

func (s *downStore) Failures(ctx context.Context, key string, since time.Time) (int, error) {
	if s.down.Load() {
		return 0, errDown
	}
	return s.Storage.Failures(ctx, key, since)
}

// TestPagesWhenStorageUnavailable: /readyz, the login page and the login
// form answer 503 with a Retry-After while the database is unreachable, and
// work again afterwards.
func TestPagesWhenStorageUnavailable(t *testing.T) {
	var ds *downStore
	e := newTestServer(t, func(c *Config) {
		ds = &downStore{Storage: c.Store}
		c.Store = ds
	})
	e.addUser(t, "alice", "pw")
	c := e.browser(t)
	if r := e.login(t, c, "alice", "pw", "/"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d %s", r.StatusCode, r.body)
	}
	tok := e.csrf(t, c, "/login")

	ds.down.Store(true)
	check := func(name string, r response) {
		t.Helper()
		if r.StatusCode != http.StatusServiceUnavailable || r.Header.Get("Retry-After") != "5" {
			t.Errorf("%s during the outage: %d Retry-After=%q\n%s", name, r.StatusCode, r.Header.Get("Retry-After"), r.body)
		}
		if strings.Contains(r.body, "refused") {
			t.Errorf("%s: the cause leaked into the page", name)
		}
	}
	check("GET /readyz", do(t, c, "GET", e.ts.URL+"/readyz", nil))
	if r := do(t, c, "GET", e.ts.URL+"/healthz", nil); r.StatusCode != http.StatusOK {
		t.Errorf("healthz (liveness) during the outage: %d", r.StatusCode)
	}
	check("GET /login", do(t, c, "GET", e.ts.URL+"/login", nil))
	check("POST /login", do(t, c, "POST", e.ts.URL+"/login", url.Values{
		"csrf_token": {tok}, "username": {"alice"}, "password": {"pw"}, "next": {"/"},
	}))
	if !strings.Contains(e.logs.String(), "storage: unavailable") {
		t.Errorf("the cause was not logged:\n%s", e.logs)
	}

	ds.down.Store(false)
	if r := do(t, c, "GET", e.ts.URL+"/readyz", nil); r.StatusCode != http.StatusOK {
		t.Errorf("readyz after the outage: %d", r.StatusCode)
	}
	if r := do(t, c, "GET", e.ts.URL+"/login", nil); r.StatusCode != http.StatusOK {
		t.Errorf("login page after the outage: %d", r.StatusCode)
	}
}
