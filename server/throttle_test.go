package server

import (
	"net/http"
	"sync"
	"testing"

	"github.com/oidcd/oidcd/storage/sqlstore"
)

// Two server instances, each with its own connections to one database,
// share the lockout: failures on either count for both (SECURITY I2).
func TestThrottleSharedAcrossInstances(t *testing.T) {
	a := newTestServer(t, nil)
	a.addUser(t, "alice", "right")
	b := newTestServer(t, func(c *Config) {
		other, err := sqlstore.Open(t.Context(), a.dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { other.Close() })
		c.Store = other
		c.Now = a.clock.Now
	})
	for i := range 10 {
		e := a
		if i%2 == 1 {
			e = b
		}
		if r := e.login(t, e.browser(t), "alice", "wrong", ""); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i+1, r.StatusCode)
		}
	}
	for name, e := range map[string]*testEnv{"a": a, "b": b} {
		if r := e.login(t, e.browser(t), "alice", "right", ""); r.StatusCode != http.StatusUnauthorized || cookie(r.Response, SessionCookie) != nil {
			t.Fatalf("instance %s after 5+5 failures: %d, want 401 and no session", name, r.StatusCode)
		}
	}
}

// 100 concurrent failed attempts through the login form are all counted:
// the bookkeeping loses no increment under load (issue: brute force).
func TestThrottleConcurrentAttempts(t *testing.T) {
	e := newTestServer(t, func(c *Config) { c.LoginMaxFailures = 1000 })
	e.addUser(t, "alice", "right")
	const n = 100
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = e.login(t, e.browser(t), "alice", "wrong", "").StatusCode
		}()
	}
	wg.Wait()
	for i, st := range statuses {
		if st != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i, st)
		}
	}
	got, err := e.store.Failures(t.Context(), e.srv.throttle.UserKey("alice"), e.clock.Now().Add(-e.srv.cfg.LoginFailureWindow))
	if err != nil {
		t.Fatal(err)
	}
	if got != n {
		t.Fatalf("%d failures recorded for %d attempts", got, n)
	}
}
