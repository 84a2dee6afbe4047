package multinode_test

import (
	"bytes"
	"context"
	"errors"
	"github.com/oidcd/oidcd/internal/pgtest"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/oidcd/oidcd/storage"
	"github.com/oidcd/oidcd/storage/sqlstore"
)

// oauthConfig is the relying party's x/oauth2 configuration with its token
// endpoint on node n (every URL the provider publishes names node 1, the
// shared issuer; a load balancer would pick the node).
func (c *cluster) oauthConfig(cl client, n *node) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     cl.ID,
		ClientSecret: cl.Secret,
		RedirectURL:  callback,
		Scopes:       []string{oidc.ScopeOpenID, "email", "profile", oidc.ScopeOfflineAccess},
		Endpoint: oauth2.Endpoint{
			AuthURL:   c.issuer + "/authorize",
			TokenURL:  n.url + "/token",
			AuthStyle: oauth2.AuthStyleInHeader,
		},
	}
}

// TestCodeFlowAcrossNodes runs one authorization code flow in which every
// step lands on another node than the one before: the authorization request
// on node 1, the login on node 2, the consent page on node 3, the consent
// answer on node 1, the token request on node 2, userinfo on node 3 and the
// refresh on node 1. A replayed refresh token is caught on yet another node.
func TestCodeFlowAcrossNodes(t *testing.T) {
	c := startCluster(t, pgtest.NewDatabase(t, pgtest.URL()), 3)
	n1, n2, n3 := c.nodes[0], c.nodes[1], c.nodes[2]
	rp := c.newClient("--require-consent")
	ctx := t.Context()
	provider, err := oidc.NewProvider(ctx, c.issuer) // discovery from node 1, the issuer
	if err != nil {
		t.Fatal(err)
	}
	verifier := provider.Verifier(&oidc.Config{ClientID: rp.ID})
	b := newBrowser(t)
	pkce := oauth2.GenerateVerifier()

	// 1. The authorization request, node 1: off to the login page.
	authURL := c.oauthConfig(rp, n1).AuthCodeURL("st4te", oidc.Nonce("n0nce"), oauth2.S256ChallengeOption(pkce))
	loginURL, _ := url.Parse(b.do("GET", on(t, n1, authURL), nil).location(t))
	if loginURL.Path != "/login" {
		t.Fatalf("authorize sent the browser to %s", loginURL)
	}
	next := loginURL.Query().Get("next")

	// 2. The login, node 2: back to the authorization request.
	back := b.login(n2, next)
	if !strings.HasPrefix(back, "/authorize?") {
		t.Fatalf("login sent the browser to %q", back)
	}

	// 3. The consent page, node 3.
	form := consentForm(t, b.do("GET", on(t, n3, back), nil))

	// 4. The consent answer, node 1: the code goes to the client.
	form.Set("allow", "Authorize")
	cb := callbackParams(t, b.do("POST", n1.url+"/authorize", form).location(t))
	if cb.Get("state") != "st4te" || cb.Get("iss") != c.issuer || cb.Get("code") == "" {
		t.Fatalf("callback = %v", cb)
	}

	// 5. The token request, node 2.
	tok, err := c.oauthConfig(rp, n2).Exchange(ctx, cb.Get("code"), oauth2.VerifierOption(pkce))
	if err != nil {
		t.Fatalf("exchange on node 2: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := verifier.Verify(ctx, raw)
	if err != nil {
		t.Fatalf("verify ID token: %v", err)
	}
	if idt.Nonce != "n0nce" || idt.Issuer != c.issuer {
		t.Fatalf("ID token nonce %q issuer %q", idt.Nonce, idt.Issuer)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Fatalf("at_hash: %v", err)
	}

	// 6. Userinfo, node 3.
	status, claims := userinfo(t, n3, tok.AccessToken)
	if status != http.StatusOK || claims["sub"] != idt.Subject || claims["email"] != "alice@example.com" {
		t.Fatalf("userinfo on node 3: %d %v", status, claims)
	}

	// 7. The refresh, node 1.
	expired := &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Hour)}
	fresh, err := c.oauthConfig(rp, n1).TokenSource(ctx, expired).Token()
	if err != nil {
		t.Fatalf("refresh on node 1: %v", err)
	}
	if fresh.AccessToken == tok.AccessToken || fresh.RefreshToken == "" || fresh.RefreshToken == tok.RefreshToken {
		t.Fatal("the refresh did not issue new tokens")
	}
	if raw, ok := fresh.Extra("id_token").(string); ok && raw != "" {
		if idt2, err := verifier.Verify(ctx, raw); err != nil || idt2.Subject != idt.Subject {
			t.Fatalf("refreshed ID token: %v", err)
		}
	}
	if status, _ := userinfo(t, n2, fresh.AccessToken); status != http.StatusOK {
		t.Fatalf("new access token on node 2: %d", status)
	}
	// The previous access token of the grant stopped working: at once on
	// node 1, which took the refresh, and on node 3, which had used it,
	// within the token cache's TTL.
	refusedEverywhere(t, c, n1, "old access token", func(n *node) bool {
		status, _ := userinfo(t, n, tok.AccessToken)
		return status == http.StatusUnauthorized
	})

	// A replay of the used refresh token on node 3 is caught and revokes the
	// grant on every node (node 2 had used its access token).
	_, err = c.oauthConfig(rp, n3).TokenSource(ctx, expired).Token()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Fatalf("replayed refresh token on node 3: %v", err)
	}
	refusedEverywhere(t, c, n3, "token of a revoked grant", func(n *node) bool {
		status, _ := userinfo(t, n, fresh.AccessToken)
		return status == http.StatusUnauthorized
	})
}

// TestConcurrentRedemptionAcrossNodes: 50 token requests with one code,
// spread over three nodes at once: exactly one gets tokens, the others get
// invalid_grant, and the replays revoke what the winner got.
func TestConcurrentRedemptionAcrossNodes(t *testing.T) {
	c := startCluster(t, pgtest.NewDatabase(t, pgtest.URL()), 3)
	rp := c.newClient()
	b := newBrowser(t)
	pkce := oauth2.GenerateVerifier()
	authURL := c.oauthConfig(rp, c.nodes[0]).AuthCodeURL("s", oidc.Nonce("n"), oauth2.S256ChallengeOption(pkce))
	loginURL, _ := url.Parse(b.do("GET", on(t, c.nodes[0], authURL), nil).location(t))
	back := b.login(c.nodes[1], loginURL.Query().Get("next"))
	code := callbackParams(t, b.do("GET", on(t, c.nodes[2], back), nil).location(t)).Get("code")
	if code == "" {
		t.Fatal("no code")
	}

	const n = 50
	hc := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {callback}, "code_verifier": {pkce}}
	type answer struct {
		node   string
		status int
		body   map[string]any
		err    error
	}
	answers := make([]answer, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		nd := c.nodes[i%len(c.nodes)]
		wg.Go(func() {
			<-start
			status, body, err := tokenRequest(t.Context(), hc, nd, rp, form)
			answers[i] = answer{nd.name, status, body, err}
		})
	}
	close(start)
	wg.Wait()

	var won []answer
	perNode := map[string]int{}
	for _, a := range answers {
		switch {
		case a.err != nil:
			t.Errorf("%s: %v", a.node, a.err)
		case a.status == http.StatusOK:
			won = append(won, a)
		case a.status == http.StatusBadRequest && a.body["error"] == "invalid_grant":
		default:
			t.Errorf("%s: %d %v", a.node, a.status, a.body)
		}
		perNode[a.node]++
	}
	if len(won) != 1 {
		t.Fatalf("%d of %d redemptions succeeded, want exactly 1", len(won), n)
	}
	t.Logf("the winner was on %s; requests per node %v", won[0].node, perNode)
	// The replays revoked the grant: its tokens stop working everywhere.
	access, _ := won[0].body["access_token"].(string)
	for _, nd := range c.nodes {
		if status, _ := userinfo(t, nd, access); status != http.StatusUnauthorized {
			t.Errorf("the winner's access token after replays, on %s: %d", nd.name, status)
		}
	}
}

// TestSimultaneousFirstStart starts three nodes at the same moment on an
// empty database: the schema is applied once, one signing key and one
// admin account are created, and every node publishes the same JWKS.
func TestSimultaneousFirstStart(t *testing.T) {
	for round := range 2 {
		c := newCluster(t, pgtest.NewDatabase(t, pgtest.URL()), 3)
		var wg sync.WaitGroup
		gate := make(chan struct{})
		for _, n := range c.nodes {
			wg.Go(func() { <-gate; n.start() })
		}
		close(gate)
		wg.Wait()
		for _, n := range c.nodes {
			n.waitReady()
		}
		db := c.db()
		if n := count(t, db, `SELECT COUNT(*) FROM signing_keys`); n != 1 {
			t.Errorf("round %d: %d signing keys, want 1", round, n)
		}
		want := migrationCount(t)
		if n := count(t, db, `SELECT COUNT(*) FROM schema_migrations`); n != want {
			t.Errorf("round %d: schema_migrations has %d rows, want %d", round, n, want)
		}
		if n := count(t, db, `SELECT COUNT(DISTINCT version) FROM schema_migrations`); n != want {
			t.Errorf("round %d: %d distinct migrations, want %d", round, n, want)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM users`); n != 1 {
			t.Errorf("round %d: %d users, want the one admin", round, n)
		}
		created := 0
		for _, n := range c.nodes {
			created += strings.Count(n.out(), "created admin user")
		}
		if created != 1 {
			t.Errorf("round %d: %d nodes say they created the admin", round, created)
		}
		var first []byte
		for i, n := range c.nodes {
			status, body := getBody(t, n.url+"/jwks")
			if status != http.StatusOK {
				t.Fatalf("round %d: %s /jwks: %d", round, n.name, status)
			}
			if i == 0 {
				first = body
			} else if !bytes.Equal(body, first) {
				t.Errorf("round %d: %s publishes another JWKS:\n%s\nvs\n%s", round, n.name, body, first)
			}
		}
		if kids := jwksKids(t, c.nodes[0]); len(kids) != 1 {
			t.Errorf("round %d: JWKS has %d keys", round, len(kids))
		}
	}
}

// TestFreshnessAcrossNodes: a key rotated and a client secret rotated
// through the CLI are seen by every node within the documented bounds:
// OIDCD_KEY_REFRESH for keys (1s here), the client cache lifetime for
// clients.
func TestFreshnessAcrossNodes(t *testing.T) {
	const keyRefresh = time.Second
	// The test polls with the rotated-out secret until it is refused; keep
	// those failures from tripping the client authentication throttle.
	const jwksMaxAge = time.Second
	c := startCluster(t, pgtest.NewDatabase(t, pgtest.URL()), 3, "OIDCD_KEY_REFRESH="+keyRefresh.String(),
		"OIDCD_JWKS_MAX_AGE=1", "OIDCD_CLIENT_AUTH_MAX_FAILURES=100000")
	rp := c.newClient()
	ctx := t.Context()
	b := newBrowser(t)
	// Log in once; this client needs no consent, so every later
	// authorization answers with a code at once.
	pkce := oauth2.GenerateVerifier()
	authURL := c.oauthConfig(rp, c.nodes[0]).AuthCodeURL("s", oidc.Nonce("n"), oauth2.S256ChallengeOption(pkce))
	loginURL, _ := url.Parse(b.do("GET", on(t, c.nodes[0], authURL), nil).location(t))
	b.login(c.nodes[0], loginURL.Query().Get("next"))
	idTokenFrom := func(n *node) string {
		t.Helper()
		cb := callbackParams(t, b.do("GET", on(t, n, authURL), nil).location(t))
		tok, err := c.oauthConfig(rp, n).Exchange(ctx, cb.Get("code"), oauth2.VerifierOption(pkce))
		if err != nil {
			t.Fatalf("%s: exchange: %v", n.name, err)
		}
		raw, _ := tok.Extra("id_token").(string)
		return raw
	}
	oldKids := jwksKids(t, c.nodes[0])
	if len(oldKids) != 1 {
		t.Fatalf("kids %v", oldKids)
	}

	// Keys.
	var rotated struct {
		Created struct {
			KID string `json:"kid"`
		} `json:"created"`
	}
	start := time.Now()
	if err := jsonUnmarshal(c.cli("keys", "rotate", "--alg", "RS256", "--json"), &rotated); err != nil || rotated.Created.KID == "" {
		t.Fatalf("keys rotate: %v", err)
	}
	newKid := rotated.Created.KID
	// The key's creation time is stamped inside the CLI, so it is no later
	// than the moment the command returned: the activation bound counts
	// from there (under load the CLI alone can take longer than a refresh).
	created := time.Now()
	var worst time.Duration
	for _, n := range c.nodes {
		for {
			kids := jwksKids(t, n)
			if slices.Contains(kids, newKid) {
				if !slices.Contains(kids, oldKids[0]) {
					t.Errorf("%s dropped the retired key at once: %v", n.name, kids)
				}
				break
			}
			if time.Since(start) > keyRefresh+2*time.Second {
				t.Fatalf("%s does not publish key %s %v after the rotation: %v", n.name, newKid, time.Since(start), kids)
			}
			time.Sleep(20 * time.Millisecond)
		}
		worst = max(worst, time.Since(start))
	}
	t.Logf("new key published by every node %v after the rotation (OIDCD_KEY_REFRESH=%v)", worst.Round(time.Millisecond), keyRefresh)
	// It signs once it has been published for key refresh + JWKS cache
	// lifetime (docs/security.md "Signing keys"), on every node within one
	// more refresh.
	time.Sleep(time.Until(created.Add(2*keyRefresh + jwksMaxAge + 300*time.Millisecond)))
	provider, err := oidc.NewProvider(ctx, c.issuer)
	if err != nil {
		t.Fatal(err)
	}
	verifier := provider.Verifier(&oidc.Config{ClientID: rp.ID})
	for _, n := range c.nodes {
		raw := idTokenFrom(n)
		if kid := jwtKid(t, raw); kid != newKid {
			t.Errorf("%s signs ID tokens with %s, want the new key %s", n.name, kid, newKid)
		}
		if _, err := verifier.Verify(ctx, raw); err != nil {
			t.Errorf("%s: ID token: %v", n.name, err)
		}
	}

	// Clients: every node has the client cached (a token each), then its
	// secret is rotated through the CLI.
	hc := &http.Client{Timeout: 10 * time.Second}
	cc := url.Values{"grant_type": {"client_credentials"}}
	for _, n := range c.nodes {
		if status, body, err := tokenRequest(ctx, hc, n, rp, cc); err != nil || status != http.StatusOK {
			t.Fatalf("%s: client_credentials: %d %v %v", n.name, status, body, err)
		}
	}
	var newSecret client
	start = time.Now()
	if err := jsonUnmarshal(c.cli("clients", "rotate-secret", rp.ID, "--json"), &newSecret); err != nil || newSecret.Secret == "" {
		t.Fatalf("rotate-secret: %v", err)
	}
	newSecret.ID = rp.ID
	const clientBound = 10 * time.Second
	worst = 0
	for _, n := range c.nodes {
		for {
			oldStatus, _, err1 := tokenRequest(ctx, hc, n, rp, cc)
			newStatus, _, err2 := tokenRequest(ctx, hc, n, newSecret, cc)
			if err1 != nil || err2 != nil {
				t.Fatalf("%s: %v %v", n.name, err1, err2)
			}
			if oldStatus == http.StatusUnauthorized && newStatus == http.StatusOK {
				break
			}
			if time.Since(start) > clientBound {
				t.Fatalf("%s: %v after rotate-secret the old secret gives %d, the new %d", n.name, time.Since(start), oldStatus, newStatus)
			}
			time.Sleep(50 * time.Millisecond)
		}
		worst = max(worst, time.Since(start))
	}
	t.Logf("new client secret in force on every node %v after the rotation", worst.Round(time.Millisecond))
}

// TestCleanupOnSeveralNodes: three nodes run the expiry cleanup every
// 200ms against one database; expired rows go, live rows stay, and no run
// fails because another node's run got there first.
func TestCleanupOnSeveralNodes(t *testing.T) {
	c := startCluster(t, pgtest.NewDatabase(t, pgtest.URL()), 3, "OIDCD_CLEANUP_INTERVAL=200ms", "OIDCD_LOG_LEVEL=debug")
	ctx := t.Context()
	store, err := sqlstore.Open(ctx, c.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	rp := c.newClient()
	now := time.Now()
	hash := func(i int) []byte { h := make([]byte, 32); h[0], h[1] = byte(i>>8), byte(i); return h }
	const expired = 300
	for i := range expired + 1 {
		exp := now.Add(-time.Minute)
		id := "expired-" + itoa(i)
		if i == expired {
			exp, id = now.Add(time.Hour), "live"
		}
		g := &storage.Grant{ID: id, ClientID: rp.ID, Scope: []string{"api"}, CreatedAt: now.Add(-time.Hour), ExpiresAt: exp}
		tok := &storage.Token{Hash: hash(i), Kind: storage.AccessToken, GrantID: id, ClientID: rp.ID, Scope: []string{"api"},
			CreatedAt: now.Add(-time.Hour), ExpiresAt: exp}
		if err := store.CreateGrant(ctx, g, tok); err != nil {
			t.Fatal(err)
		}
	}
	db := c.db()
	deadline := time.Now().Add(15 * time.Second)
	for {
		grants := count(t, db, `SELECT COUNT(*) FROM grants`)
		tokens := count(t, db, `SELECT COUNT(*) FROM tokens`)
		if grants == 1 && tokens == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("expired rows left: %d grants, %d tokens", grants, tokens)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, _, err := store.Token(ctx, hash(expired), time.Now()); err != nil {
		t.Fatalf("the live token is gone: %v", err)
	}
	time.Sleep(500 * time.Millisecond) // a few more concurrent runs
	for _, n := range c.nodes {
		logs := n.log()
		if !strings.Contains(logs, "deleted expired rows") {
			t.Errorf("%s never ran the cleanup", n.name)
		}
		if strings.Contains(logs, `msg="delete expired rows"`) {
			t.Errorf("%s: a cleanup run failed:\n%s", n.name, logs)
		}
	}
}

// outcome is one request of a load.
type outcome struct {
	node   int
	at     time.Time // when the request was sent
	status int
	err    error
	body   map[string]any
}

// loadGen sends client_credentials token requests from several workers,
// each node in turn, until stop is closed (or a safety cap is reached). A
// node that fails at the transport level is taken out of the rotation, as a
// load balancer does with a dead backend.
type loadGen struct {
	c       *cluster
	rp      client
	workers int
	every   time.Duration
	dead    []atomic.Bool
	mu      sync.Mutex
	results []outcome
}

func (l *loadGen) run(ctx context.Context, stop <-chan struct{}) {
	l.dead = make([]atomic.Bool, len(l.c.nodes))
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: l.workers}}
	defer hc.CloseIdleConnections()
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"api"}}
	var wg sync.WaitGroup
	for w := range l.workers {
		wg.Go(func() {
			next := w
			for i := 0; i < 5000; i++ {
				select {
				case <-stop:
					return
				case <-ctx.Done():
					return
				default:
				}
				ni := -1
				for range len(l.c.nodes) {
					k := next % len(l.c.nodes)
					next++
					if !l.dead[k].Load() {
						ni = k
						break
					}
				}
				if ni < 0 {
					return
				}
				at := time.Now()
				status, body, err := tokenRequest(ctx, hc, l.c.nodes[ni], l.rp, form)
				if err != nil {
					l.dead[ni].Store(true)
				}
				l.mu.Lock()
				l.results = append(l.results, outcome{ni, at, status, err, body})
				l.mu.Unlock()
				time.Sleep(l.every)
			}
		})
	}
	wg.Wait()
}

// TestNodeKilledUnderLoad: under a steady load of token requests spread
// over three nodes, node 2 is killed with SIGKILL. Only requests in flight
// on node 2 fail (at most one per worker); the survivors never answer 5xx;
// every token any client received, before or after, is active on the
// survivors. The pool bound OIDCD_DB_MAX_OPEN_CONNS holds on every node.
func TestNodeKilledUnderLoad(t *testing.T) {
	const maxConns = 3
	c := startCluster(t, pgtest.NewDatabase(t, pgtest.URL()), 3, "OIDCD_DB_MAX_OPEN_CONNS="+itoa(maxConns), "OIDCD_DB_MAX_IDLE_CONNS=2")
	rp := c.newClient("--scope", "api")
	resourceServer := c.newClient("--scope", "token_introspection", "--scope", rp.ID)
	ctx := t.Context()
	db := c.db()

	l := &loadGen{c: c, rp: rp, workers: 4, every: 10 * time.Millisecond}
	stop := make(chan struct{})
	done := make(chan struct{})
	loadStart := time.Now()
	go func() { defer close(done); l.run(ctx, stop) }()

	// Sample the connections each node holds while the load runs.
	var maxSeen atomic.Int64
	sampleStop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			rows, err := db.QueryContext(ctx, `SELECT application_name, COUNT(*) FROM pg_stat_activity
				WHERE datname = current_database() AND application_name LIKE 'oidcd-node%' GROUP BY 1`)
			if err == nil {
				for rows.Next() {
					var name string
					var n int64
					rows.Scan(&name, &n)
					if n > maxSeen.Load() {
						maxSeen.Store(n)
					}
				}
				rows.Close()
			}
			select {
			case <-sampleStop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()

	time.Sleep(1500 * time.Millisecond)
	c.nodes[1].kill()
	killedAt := time.Now()
	time.Sleep(1500 * time.Millisecond)
	close(stop)
	<-done
	close(sampleStop)
	<-sampled

	var tokens []string
	perNode := make([]int, 3)
	failed := 0
	for _, r := range l.results {
		switch {
		case r.err != nil:
			failed++
			if r.node != 1 {
				t.Errorf("transport error on surviving %s: %v", c.nodes[r.node].name, r.err)
			}
		case r.status == http.StatusOK:
			perNode[r.node]++
			tok, _ := r.body["access_token"].(string)
			tokens = append(tokens, tok)
		default:
			t.Errorf("%s answered %d %v", c.nodes[r.node].name, r.status, r.body)
		}
	}
	t.Logf("%d requests, %d tokens (per node %v), %d failed on the killed node; killed after %v",
		len(l.results), len(tokens), perNode, failed, killedAt.Sub(loadStart).Round(time.Millisecond))
	if failed > l.workers {
		t.Errorf("%d requests failed; at most one per worker (%d) can have been in flight on the killed node", failed, l.workers)
	}
	if perNode[1] == 0 || perNode[0] == 0 || perNode[2] == 0 {
		t.Errorf("the load did not reach every node: %v", perNode)
	}
	if n := maxSeen.Load(); n > maxConns || n == 0 {
		t.Errorf("a node held %d connections; OIDCD_DB_MAX_OPEN_CONNS=%d", n, maxConns)
	} else {
		t.Logf("at most %d connections per node (OIDCD_DB_MAX_OPEN_CONNS=%d)", n, maxConns)
	}

	// Every token received is active on both survivors.
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	var inactive, failures atomic.Int64
	var wg sync.WaitGroup
	work := make(chan string)
	for range 8 {
		wg.Go(func() {
			for tok := range work {
				for _, n := range []*node{c.nodes[0], c.nodes[2]} {
					active, err := introspect(ctx, hc, n, resourceServer, tok)
					if err != nil {
						failures.Add(1)
						t.Errorf("%s: introspect: %v", n.name, err)
					} else if !active {
						inactive.Add(1)
					}
				}
			}
		})
	}
	for _, tok := range tokens {
		work <- tok
	}
	close(work)
	wg.Wait()
	if n := inactive.Load(); n > 0 {
		t.Errorf("%d introspections of received tokens answered inactive", n)
	}
	t.Logf("%d tokens introspected active on node1 and node3", len(tokens))
}
