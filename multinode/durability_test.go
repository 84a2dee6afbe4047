package multinode_test

import (
	"context"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oidcd/oidcd/internal/pgtest"
)

// TestReceivedTokensSurviveSIGKILL (issue 15): while clients request
// tokens as fast as they can, the node is killed with SIGKILL, so that
// commits are in flight. Every token a client received (a 200 answer) is
// active after the node starts again on the same database: nothing is
// answered before it is durable. Then a revocation takes effect at once on
// the node that received it and, on PostgreSQL, on another node (every
// introspection reads the database; no node caches tokens). On a SQLite file
// and on PostgreSQL, with stored tokens and with stateless ones
// (OIDCD_STATELESS_CLIENT_CREDENTIALS: a revocation is a row every node
// reads).
func TestReceivedTokensSurviveSIGKILL(t *testing.T) {
	for _, tc := range []struct{ backend, tokens string }{
		{"sqlite", "stored"}, {"postgres", "stored"}, {"sqlite", "stateless"}, {"postgres", "stateless"},
	} {
		t.Run(tc.backend+"/"+tc.tokens, func(t *testing.T) {
			dsn, nodes := "sqlite:"+filepath.Join(t.TempDir(), "oidcd.db"), 1
			if tc.backend == "postgres" {
				dsn, nodes = pgtest.NewDatabase(t, pgtest.URL()), 2
			}
			c := newCluster(t, dsn, nodes)
			for _, n := range c.nodes {
				if tc.tokens == "stateless" {
					n.env = append(n.env, "OIDCD_STATELESS_CLIENT_CREDENTIALS=true")
				}
				n.start()
				n.waitReady()
			}
			rp := c.newClient("--scope", "api", "--grant-type", "client_credentials")
			rs := c.newClient("--scope", "token_introspection", "--scope", rp.ID)
			n1 := c.nodes[0]
			ctx := t.Context()

			// The load: workers issue tokens back to back until the node
			// stops answering.
			const workers = 8
			var mu sync.Mutex
			var tokens []string
			hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
			form := url.Values{"grant_type": {"client_credentials"}, "scope": {"api"}}
			var wg sync.WaitGroup
			for range workers {
				wg.Go(func() {
					for i := 0; i < 100000; i++ {
						status, body, err := tokenRequest(ctx, hc, n1, rp, form)
						if err != nil {
							return // the node is gone
						}
						tok, _ := body["access_token"].(string)
						if status != http.StatusOK || tok == "" {
							t.Errorf("token request: %d %v", status, body)
							return
						}
						mu.Lock()
						tokens = append(tokens, tok)
						mu.Unlock()
					}
				})
			}
			// Kill once the load has run a while, at a moment no request
			// chose.
			deadline := time.Now().Add(10 * time.Second)
			for {
				mu.Lock()
				n := len(tokens)
				mu.Unlock()
				if n >= 300 || time.Now().After(deadline) {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			n1.kill()
			wg.Wait()
			hc.CloseIdleConnections()
			if len(tokens) < 50 {
				t.Fatalf("only %d tokens before the kill", len(tokens))
			}
			if got := strings.HasPrefix(tokens[0], "cc1_"); got != (tc.tokens == "stateless") {
				t.Fatalf("token %q with %s tokens", tokens[0], tc.tokens)
			}

			n1.start()
			n1.waitReady()
			inactive := 0
			for _, tok := range tokens {
				ok, err := introspect(ctx, hc, n1, rs, tok)
				if err != nil {
					t.Fatalf("introspect after restart: %v", err)
				}
				if !ok {
					inactive++
				}
			}
			if inactive > 0 {
				t.Fatalf("%d of the %d tokens clients received before SIGKILL are not active after the restart", inactive, len(tokens))
			}
			t.Logf("%d tokens received before SIGKILL, all active after the restart", len(tokens))

			// A revocation takes effect at once on the node that received
			// it, and within the token cache's TTL on the others, which
			// have just read the token; the other tokens stay active.
			for _, n := range c.nodes {
				if ok, err := introspect(ctx, hc, n, rs, tokens[0]); err != nil || !ok {
					t.Fatalf("%s: the token is inactive before its revocation (%v)", n.name, err)
				}
			}
			revoke(t, ctx, hc, n1, rp, tokens[0])
			refusedEverywhere(t, c, n1, "the revoked token", func(n *node) bool {
				ok, err := introspect(ctx, hc, n, rs, tokens[0])
				return err == nil && !ok
			})
			for _, n := range c.nodes {
				if ok, err := introspect(ctx, hc, n, rs, tokens[1]); err != nil || !ok {
					t.Errorf("%s: a token that was not revoked is inactive (%v)", n.name, err)
				}
			}
		})
	}
}

// revoke revokes token at node n as client cl (RFC 7009).
func revoke(t *testing.T, ctx context.Context, hc *http.Client, n *node, cl client, token string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, n.url+"/revoke", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(cl.ID), url.QueryEscape(cl.Secret))
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("revoke: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: status %d", resp.StatusCode)
	}
}
