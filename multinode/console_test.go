package multinode_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/oidcd/oidcd/internal/pgtest"
)

// clientCacheTTL is op.Config.ClientCacheTTL's default, the documented
// bound ("Console and audit" in the README) on how long a node serves a
// client as it was before a change made elsewhere.
const clientCacheTTL = 5 * time.Second

// TestClientEditAcrossNodes: a redirect URI changed with `oidcd clients
// update` (the service layer the console uses) is honoured by every node
// within the client cache lifetime, and the replaced one refused, though
// every node had the client cached before the change.
func TestClientEditAcrossNodes(t *testing.T) {
	c := startCluster(t, pgtest.NewDatabase(t, pgtest.URL()), 3)
	rp := c.newClient()
	b := newBrowser(t)
	const moved = "http://127.0.0.1:9/moved"
	status := func(n *node, redirect string) int {
		t.Helper()
		cfg := c.oauthConfig(rp, n)
		cfg.RedirectURL = redirect
		return b.do("GET", on(t, n, cfg.AuthCodeURL("s", oidc.Nonce("n"))), nil).status
	}
	// Signed out: a valid request redirects to the login page, one with an
	// unregistered redirect URI gets the error page (never a redirect).
	for _, n := range c.nodes {
		if got := status(n, callback); got != http.StatusFound {
			t.Fatalf("%s: the registered redirect URI: %d", n.name, got)
		}
		if got := status(n, moved); got != http.StatusBadRequest {
			t.Fatalf("%s: an unregistered redirect URI: %d", n.name, got)
		}
	}
	start := time.Now()
	c.cli("clients", "update", rp.ID, "--redirect-uri", moved)
	var worst time.Duration
	for _, n := range c.nodes {
		for status(n, moved) != http.StatusFound || status(n, callback) != http.StatusBadRequest {
			if time.Since(start) > clientCacheTTL+2*time.Second {
				t.Fatalf("%s still serves the old redirect URIs %v after the change", n.name, time.Since(start))
			}
			time.Sleep(50 * time.Millisecond)
		}
		worst = max(worst, time.Since(start))
	}
	t.Logf("every node honoured the edited redirect URI %v after the change (bound: %v)", worst.Round(time.Millisecond), clientCacheTTL)
	var recs []struct {
		Action, Target, Detail string
	}
	if err := jsonUnmarshal(c.cli("audit", "--target", "client:"+rp.ID, "--json"), &recs); err != nil || len(recs) != 2 ||
		recs[0].Action != "admin.client_updated" || recs[0].Detail != "changed redirect_uris" {
		t.Fatalf("audit: %v %+v", err, recs)
	}
}
