package server

import (
	"strings"
	"testing"
	"time"

	"github.com/oidcd/oidcd/op"
)

// ClaimsCacheTTL: zero means the 5 s default (a changed account shows only
// after it), negative disables the cache (a change shows at once), as
// op.Config.ClientCacheTTL does.
func TestClaimsCacheTTL(t *testing.T) {
	for _, tc := range []struct {
		name      string
		ttl       time.Duration
		wantFresh bool
	}{{"default", 0, false}, {"disabled", -1, true}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestServer(t, func(c *Config) { c.ClaimsCacheTTL = tc.ttl })
			u := e.addUser(t, "alice", "password-123")
			claims := func() string {
				var c op.Claims
				if err := (*users)(e.srv).Claims(t.Context(), u.ID, &c); err != nil {
					t.Fatal(err)
				}
				return c.Name
			}
			claims() // fills the cache, if any
			u.Name = "Alice Renamed"
			if err := e.store.UpdateUser(t.Context(), u); err != nil {
				t.Fatal(err)
			}
			if fresh := claims() == "Alice Renamed"; fresh != tc.wantFresh {
				t.Fatalf("claims after the change: fresh=%v, want %v", fresh, tc.wantFresh)
			}
			e.clock.Add(6 * time.Second)
			if got := claims(); got != "Alice Renamed" {
				t.Fatalf("claims after 6s: %q", got)
			}
		})
	}
}

// server.New refuses an op.Config whose collaborators it would overwrite,
// instead of silently ignoring them.
func TestNewRefusesProviderCollaborators(t *testing.T) {
	e := newTestServer(t, nil)
	_, err := New(t.Context(), Config{Store: e.store, Sealer: e.srv.sealer,
		Provider: op.Config{Issuer: "https://id.example", Now: time.Now, Sealer: e.srv.sealer}})
	if err == nil || !strings.Contains(err.Error(), "Provider.Now is set by the server") || !strings.Contains(err.Error(), "Provider.Sealer is set by the server") {
		t.Fatalf("New = %v", err)
	}
}
