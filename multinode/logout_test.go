package multinode_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/oidcd/oidcd/internal/pgtest"
)

// signedIn runs a code flow for cl in b, the login on node login and the
// rest on node at, and returns the token response.
func signedIn(t *testing.T, c *cluster, b *browser, cl client, login, at *node) map[string]any {
	t.Helper()
	q := url.Values{"client_id": {cl.ID}, "redirect_uri": {callback}, "response_type": {"code"},
		"scope": {"openid"}, "state": {"s"}, "nonce": {"n"}}
	pg := b.do("GET", at.url+"/authorize?"+q.Encode(), nil)
	loc := pg.location(t)
	if u, _ := url.Parse(loc); u.Path == "/login" {
		next := u.Query().Get("next")
		b.login(login, next)
		loc = b.do("GET", on(t, at, next), nil).location(t)
	}
	code := callbackParams(t, loc).Get("code")
	st, tok, err := tokenRequest(t.Context(), http.DefaultClient, at, cl, url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {callback}})
	if err != nil || st != http.StatusOK {
		t.Fatalf("token: %d %v %v", st, tok, err)
	}
	return tok
}

// promptNone asks node n whether b's session lives there.
func promptNone(t *testing.T, b *browser, n *node, cl client) url.Values {
	t.Helper()
	q := url.Values{"client_id": {cl.ID}, "redirect_uri": {callback}, "response_type": {"code"},
		"scope": {"openid"}, "prompt": {"none"}}
	return callbackParams(t, b.do("GET", n.url+"/authorize?"+q.Encode(), nil).location(t))
}

// Logging out through one node ends the session for every node: the session
// and its grants live in the database.
func TestLogoutAcrossNodes(t *testing.T) {
	c := startCluster(t, pgtest.NewDatabase(t, pgtest.URL()), 3)
	cl := c.newClient("--post-logout-redirect-uri", "http://127.0.0.1:9/bye")
	b := newBrowser(t)
	tok := signedIn(t, c, b, cl, c.nodes[1], c.nodes[2])
	for _, n := range c.nodes {
		if got := promptNone(t, b, n, cl); got.Get("code") == "" {
			t.Fatalf("%s does not see the session: %v", n.name, got)
		}
	}
	hint := tok["id_token"].(string)
	q := url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {"http://127.0.0.1:9/bye"}, "state": {"st"}}
	if loc := b.do("GET", c.nodes[1].url+"/end-session?"+q.Encode(), nil).location(t); loc != "http://127.0.0.1:9/bye?state=st" {
		t.Fatalf("end-session redirected to %q", loc)
	}
	for _, n := range c.nodes {
		if got := promptNone(t, b, n, cl); got.Get("error") != "login_required" {
			t.Fatalf("%s still sees the session: %v", n.name, got)
		}
		if st, _ := userinfo(t, n, tok["access_token"].(string)); st != http.StatusUnauthorized {
			t.Fatalf("%s: access token after logout: %d", n.name, st)
		}
	}
}

// bcReceiver is a relying party's back-channel logout endpoint that
// verifies every logout token with go-oidc and counts deliveries per jti.
type bcReceiver struct {
	t        *testing.T
	verifier func() *oidc.IDTokenVerifier
	delay    time.Duration
	// hold, when set, makes the first request wait until its client goes
	// away, after telling held the client's address.
	hold bool
	held chan string

	mu     sync.Mutex
	byJTI  map[string]int
	total  int
	served int
}

func (rc *bcReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	token := r.PostFormValue("logout_token")
	rc.mu.Lock()
	first := rc.served == 0
	rc.served++
	rc.mu.Unlock()
	if rc.hold && first {
		rc.held <- r.RemoteAddr
		<-r.Context().Done() // the node holding the message dies
		return
	}
	time.Sleep(rc.delay)
	idt, err := rc.verifier().Verify(r.Context(), token)
	if err != nil {
		rc.t.Errorf("receiver: %v", err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	var claims struct {
		JTI    string         `json:"jti"`
		SID    string         `json:"sid"`
		Events map[string]any `json:"events"`
		Nonce  *string        `json:"nonce"`
	}
	idt.Claims(&claims)
	if claims.JTI == "" || claims.SID == "" || claims.Events["http://schemas.openid.net/event/backchannel-logout"] == nil || claims.Nonce != nil {
		rc.t.Errorf("receiver: bad logout token claims %+v", claims)
	}
	rc.mu.Lock()
	rc.byJTI[claims.JTI]++
	rc.total++
	rc.mu.Unlock()
}

func (rc *bcReceiver) counts() (int, map[string]int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	cp := map[string]int{}
	for k, v := range rc.byJTI {
		cp[k] = v
	}
	return rc.total, cp
}

func newReceiver(t *testing.T, c *cluster, clientID *string) (*bcReceiver, *httptest.Server) {
	rc := &bcReceiver{t: t, byJTI: map[string]int{}, held: make(chan string, 1)}
	// Keys come from a live node's JWKS (node 1, the issuer's address,
	// may be the one killed); the issuer checked is the cluster's.
	rc.verifier = func() *oidc.IDTokenVerifier {
		for _, n := range c.nodes {
			if n.alive() {
				keys := oidc.NewRemoteKeySet(context.Background(), n.url+"/jwks")
				return oidc.NewVerifier(c.issuer, keys, &oidc.Config{ClientID: *clientID})
			}
		}
		t.Error("receiver: no live node")
		return nil
	}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	return rc, srv
}

func waitUntil(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var fastLogout = []string{"OIDCD_ALLOW_PRIVATE_TARGETS=true", "OIDCD_BACKCHANNEL_LOGOUT_POLL_INTERVAL=50ms",
	"OIDCD_BACKCHANNEL_LOGOUT_RETRY_BACKOFF=200ms"}

// Three nodes deliver from one queue: the logout tokens of six sessions,
// logged out on the three nodes at once, reach the receiver exactly once
// each.
func TestBackChannelExactlyOnceAcrossNodes(t *testing.T) {
	c := startCluster(t, pgtest.NewDatabase(t, pgtest.URL()), 3, fastLogout...)
	var clientID string
	rc, rsrv := newReceiver(t, c, &clientID)
	rc.delay = 100 * time.Millisecond // deliveries overlap across nodes
	cl := c.newClient("--backchannel-logout-uri", rsrv.URL+"/bc")
	clientID = cl.ID
	var wg sync.WaitGroup
	const sessions = 6
	type signedInBrowser struct {
		b    *browser
		hint string
	}
	var bs []signedInBrowser
	for i := range sessions {
		b := newBrowser(t)
		tok := signedIn(t, c, b, cl, c.nodes[i%3], c.nodes[(i+1)%3])
		bs = append(bs, signedInBrowser{b, tok["id_token"].(string)})
	}
	for i, sb := range bs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q := url.Values{"id_token_hint": {sb.hint}}
			pg := sb.b.do("GET", c.nodes[i%3].url+"/end-session?"+q.Encode(), nil)
			if pg.status != http.StatusOK {
				t.Errorf("end-session on %s: %d", c.nodes[i%3].name, pg.status)
			}
		}()
	}
	wg.Wait()
	db := c.db()
	waitUntil(t, "every logout token", 20*time.Second, func() bool {
		total, _ := rc.counts()
		return total >= sessions && count(t, db, `SELECT count(*) FROM logout_messages`) == 0
	})
	time.Sleep(500 * time.Millisecond) // a duplicate would arrive now
	total, byJTI := rc.counts()
	if total != sessions || len(byJTI) != sessions {
		t.Fatalf("%d deliveries of %d distinct tokens, want %d once each: %v", total, len(byJTI), sessions, byJTI)
	}
	delivered := 0
	for _, n := range c.nodes {
		delivered += strings.Count(n.log(), "back-channel logout delivered")
	}
	if delivered != sessions {
		t.Fatalf("nodes logged %d deliveries, want %d", delivered, sessions)
	}
}

// A node killed while it holds a logout message does not lose it: the
// message's lease lapses and another node delivers it.
func TestBackChannelNodeKilledHoldingMessage(t *testing.T) {
	c := startCluster(t, pgtest.NewDatabase(t, pgtest.URL()), 3, append(fastLogout, "OIDCD_BACKCHANNEL_LOGOUT_LEASE=3s")...)
	var clientID string
	rc, rsrv := newReceiver(t, c, &clientID)
	rc.hold = true
	cl := c.newClient("--backchannel-logout-uri", rsrv.URL+"/bc")
	clientID = cl.ID
	b := newBrowser(t)
	tok := signedIn(t, c, b, cl, c.nodes[0], c.nodes[0])
	q := url.Values{"id_token_hint": {tok["id_token"].(string)}}
	if pg := b.do("GET", c.nodes[0].url+"/end-session?"+q.Encode(), nil); pg.status != http.StatusOK {
		t.Fatalf("end-session: %d", pg.status)
	}
	var remote string
	select {
	case remote = <-rc.held:
	case <-time.After(15 * time.Second):
		t.Fatal("no delivery attempt")
	}
	holder := nodeOfConnection(t, c, remote, rsrv.Listener.Addr().String())
	leasedAt := time.Now()
	holder.kill()
	t.Logf("%s held the message and was killed", holder.name)
	db := c.db()
	waitUntil(t, "the message delivered by another node", 20*time.Second, func() bool {
		total, _ := rc.counts()
		return total == 1 && count(t, db, `SELECT count(*) FROM logout_messages`) == 0
	})
	if waited := time.Since(leasedAt); waited < 2*time.Second {
		t.Fatalf("redelivered after %v, before the 3 s lease could lapse", waited)
	}
	var by string
	for _, n := range c.nodes {
		if n != holder && strings.Contains(n.log(), "back-channel logout delivered") {
			by = n.name
		}
	}
	if by == "" {
		t.Fatal("no surviving node logged the delivery")
	}
}

// nodeOfConnection finds which node's process owns the client end of a TCP
// connection from remote to the receiver at server (Linux /proc). A port
// recycled from a closed connection can still be listed, in TIME_WAIT and
// with inode 0, so a socket counts only if both of its ends match and it
// has an inode.
func nodeOfConnection(t *testing.T, c *cluster, remote, server string) *node {
	t.Helper()
	port := func(addr string) int64 {
		_, p, _ := strings.Cut(addr, ":")
		n, _ := strconv.ParseInt(p, 10, 32)
		return n
	}
	hexPort := func(field string) int64 {
		_, p, _ := strings.Cut(field, ":")
		n, err := strconv.ParseInt(p, 16, 32)
		if err != nil {
			return -1
		}
		return n
	}
	clientPort, serverPort := port(remote), port(server)
	data, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	var inode string
	for _, line := range strings.Split(string(data), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 10 || f[9] == "0" {
			continue
		}
		if hexPort(f[1]) == clientPort && hexPort(f[2]) == serverPort {
			inode = f[9]
		}
	}
	if inode == "" {
		t.Fatalf("no socket from %s to %s", remote, server)
	}
	want := fmt.Sprintf("socket:[%s]", inode)
	for _, n := range c.nodes {
		fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", n.cmd.Process.Pid))
		for _, fd := range fds {
			if l, err := os.Readlink(fd); err == nil && l == want {
				return n
			}
		}
	}
	t.Fatalf("no node owns %s", remote)
	return nil
}
