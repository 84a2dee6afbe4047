package multinode_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"github.com/oidcd/oidcd/internal/pgtest"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// bin is the oidcd binary, built once for the package.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "oidcd-multinode")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "oidcd")
	build := exec.Command("go", "build", "-o", bin, "../cmd/oidcd")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build oidcd:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// balancer is the cluster's load balancer: the shared issuer's address, a
// listener the test owns for the whole test, forwarding every request to the
// first node that is running (as a load balancer's health check would).
type balancer struct {
	mu    sync.Mutex
	nodes []*node
}

func (b *balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	var target string
	for _, n := range b.nodes {
		if u, ok := n.serving(); ok {
			target = u
			break
		}
	}
	b.mu.Unlock()
	if target == "" {
		http.Error(w, "no node is running", http.StatusBadGateway)
		return
	}
	u, _ := url.Parse(target)
	rp := httputil.NewSingleHostReverseProxy(u)
	// The nodes trust no proxy, so they see the balancer as the client,
	// as they saw the test before; nothing else of the request changes.
	rp.ServeHTTP(w, r)
}

// cleanEnv is the test's environment without OIDCD_ variables, plus extra.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OIDCD_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// secret is the system secret every node of a test cluster shares.
const secret = "8f1c6a0e5b7d4c3a2f1e0d9c8b7a69584736251403f2e1d0c9b8a79685746352"

const (
	adminPassword = "admin-password-123"
	username      = "alice"
	password      = "alice-password-123"
	// callback is the relying party's redirect URI; it is never fetched.
	callback = "http://127.0.0.1:9/cb"
)

// cluster is several oidcd nodes on one database, sharing one issuer (the
// URL of node 1), as behind a load balancer.
type cluster struct {
	t      *testing.T
	dsn    string
	issuer string
	env    []string // settings every node and CLI call gets
	nodes  []*node
}

// node is one "oidcd serve" process.
type node struct {
	t    *testing.T
	name string
	// addr (127.0.0.1:port, the port the node chose) and url are set from
	// the node's "listening" log line before ready is closed: read them
	// after waitReady.
	addr string
	url  string
	env  []string
	up   bool // listening and not exited (under mu)

	cmd    *exec.Cmd
	mu     sync.Mutex
	logs   bytes.Buffer // stderr: the structured log
	stdout bytes.Buffer
	ready  chan struct{} // closed once it listens
	exited chan struct{} // closed once the process has ended
	killed bool
}

// newCluster prepares n nodes on the database dsn (PostgreSQL, or a SQLite
// file for a single node); extra settings
// (KEY=VALUE) apply to every node. Nothing is started yet.
func newCluster(t *testing.T, dsn string, n int, extra ...string) *cluster {
	t.Helper()
	c := &cluster{t: t, dsn: dsn}
	// Every listener is bound to port 0 by its owner and its address read
	// back: the balancer's here, each node's from its "listening" log line.
	lb := &balancer{}
	srv := httptest.NewServer(lb)
	t.Cleanup(srv.Close)
	c.issuer = srv.URL
	c.env = append([]string{
		"OIDCD_DATABASE=" + dsn,
		"OIDCD_SECRET=" + secret,
		"OIDCD_ISSUER=" + c.issuer,
		"OIDCD_ADMIN_PASSWORD=" + adminPassword,
	}, extra...)
	for i := range n {
		name := fmt.Sprintf("node%d", i+1)
		env := append([]string{}, c.env...)
		// application_name tells each node's connections apart in
		// pg_stat_activity.
		env = append(env, "OIDCD_ADDR=127.0.0.1:0")
		if strings.HasPrefix(dsn, "postgres") {
			env = append(env, "OIDCD_DATABASE="+pgtest.WithParam(dsn, "application_name", "oidcd-"+name))
		}
		c.nodes = append(c.nodes, &node{t: t, name: name, env: env})
	}
	lb.mu.Lock()
	lb.nodes = c.nodes
	lb.mu.Unlock()
	return c
}

// startCluster prepares and starts n nodes, one after the other, and
// registers alice.
func startCluster(t *testing.T, dsn string, n int, extra ...string) *cluster {
	t.Helper()
	c := newCluster(t, dsn, n, extra...)
	c.nodes[0].start()
	c.nodes[0].waitReady()
	for _, nd := range c.nodes[1:] {
		nd.start()
	}
	for _, nd := range c.nodes[1:] {
		nd.waitReady()
	}
	c.cli("users", "create", "--username", username, "--password", password, "--email", "alice@example.com", "--email-verified", "--name", "Alice")
	return c
}

var listeningRE = regexp.MustCompile(`msg=listening addr=(\S+)`)

// start launches the node's process; waitReady waits until it listens.
func (n *node) start() {
	n.t.Helper()
	cmd := exec.Command(bin, "serve")
	cmd.Env = cleanEnv(n.env...)
	cmd.Stdout = &lockedWriter{mu: &n.mu, w: &n.stdout}
	pipe, err := cmd.StderrPipe()
	if err != nil {
		n.t.Fatal(err)
	}
	n.cmd, n.ready, n.exited = cmd, make(chan struct{}), make(chan struct{})
	if err := cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		sc := bufio.NewScanner(pipe)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		ready := false
		for sc.Scan() {
			line := sc.Text()
			n.mu.Lock()
			n.logs.WriteString(line + "\n")
			n.mu.Unlock()
			if m := listeningRE.FindStringSubmatch(line); !ready && m != nil {
				ready = true
				n.mu.Lock()
				n.addr, n.url, n.up = m[1], "http://"+m[1], true
				n.mu.Unlock()
				close(n.ready)
			}
		}
		io.Copy(io.Discard, pipe)
	}()
	go func() {
		<-readDone
		cmd.Wait()
		n.mu.Lock()
		n.up = false
		n.mu.Unlock()
		close(n.exited)
	}()
	n.t.Cleanup(n.stop)
}

func (n *node) waitReady() {
	n.t.Helper()
	deadline := time.After(30 * time.Second)
	select {
	case <-n.ready:
	case <-n.exited:
		n.t.Fatalf("%s exited before listening:\n%s", n.name, n.log())
	case <-deadline:
		n.t.Fatalf("%s did not start within 30s:\n%s", n.name, n.log())
	}
	// Then ready as a load balancer sees it: a first start makes its
	// signing key and admin account while it already answers.
	for {
		if resp, err := http.Get(n.url + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-n.exited:
			n.t.Fatalf("%s exited before it was ready:\n%s", n.name, n.log())
		case <-deadline:
			n.t.Fatalf("%s was not ready (/readyz) within 30s:\n%s", n.name, n.log())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (n *node) log() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.logs.String()
}

func (n *node) out() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.stdout.String()
}

// kill ends the process with SIGKILL: no graceful shutdown.
func (n *node) kill() {
	n.t.Helper()
	n.mu.Lock()
	n.killed = true
	n.mu.Unlock()
	if err := n.cmd.Process.Kill(); err != nil {
		n.t.Fatalf("kill %s: %v", n.name, err)
	}
	<-n.exited
}

// serving returns the node's URL while its process listens.
func (n *node) serving() (string, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.url, n.up
}

// alive reports whether the process is still running.
func (n *node) alive() bool {
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}

// stop ends a running node with SIGTERM and checks it shut down cleanly.
func (n *node) stop() {
	if n.cmd == nil || !n.alive() {
		n.mu.Lock()
		killed := n.killed
		n.mu.Unlock()
		if n.cmd != nil && !killed && !n.t.Failed() {
			n.t.Errorf("%s ended on its own:\n%s", n.name, n.log())
		}
		return
	}
	n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.exited:
	case <-time.After(20 * time.Second):
		n.cmd.Process.Kill()
		<-n.exited
		n.t.Errorf("%s did not stop on SIGTERM:\n%s", n.name, n.log())
		return
	}
	if code := n.cmd.ProcessState.ExitCode(); code != 0 {
		n.t.Errorf("%s exited with status %d:\n%s", n.name, code, n.log())
	}
	if strings.Contains(n.log(), "panic") {
		n.t.Errorf("%s panicked:\n%s", n.name, n.log())
	}
}

// cli runs an oidcd command against the cluster's database and returns its
// standard output.
func (c *cluster) cli(args ...string) string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = cleanEnv(c.env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		c.t.Fatalf("oidcd %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// client is a registered relying party.
type client struct {
	ID     string `json:"client_id"`
	Secret string `json:"client_secret"`
}

// newClient registers a confidential client through the CLI.
func (c *cluster) newClient(args ...string) client {
	c.t.Helper()
	// Without consent unless args ask for it (clients create asks by default).
	out := c.cli(append([]string{"clients", "create", "--name", "RP", "--redirect-uri", callback, "--require-consent=false", "--json"}, args...)...)
	var cl client
	if err := json.Unmarshal([]byte(out), &cl); err != nil || cl.ID == "" || cl.Secret == "" {
		c.t.Fatalf("clients create: %v\n%s", err, out)
	}
	return cl
}

// db opens the cluster's database for direct checks.
func (c *cluster) db() *sql.DB {
	c.t.Helper()
	db, err := sql.Open("pgx", c.dsn)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { db.Close() })
	return db
}

func count(t *testing.T, db *sql.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(t.Context(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// browser is a user agent with cookies that never follows redirects, so
// the test picks the node of every step. Cookies are per host, not port,
// so every node on 127.0.0.1 sees the same cookies, as behind one name.
type browser struct {
	t    *testing.T
	http *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, http: &http.Client{
		Jar:           jar,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

type page struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(method, u string, form url.Values) page {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(b.t.Context(), method, u, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.http.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	bb, _ := io.ReadAll(resp.Body)
	return page{resp.StatusCode, resp.Header, string(bb)}
}

// on returns u (absolute with any host, or a local path) addressed to n.
func on(t *testing.T, n *node, u string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatalf("parse %q: %v", u, err)
	}
	p.Scheme, p.Host = "http", n.addr
	return p.String()
}

// location returns a redirect's target.
func (p page) location(t *testing.T) string {
	t.Helper()
	if p.status != http.StatusFound && p.status != http.StatusSeeOther {
		t.Fatalf("want a redirect, got %d:\n%s", p.status, p.body)
	}
	return p.header.Get("Location")
}

var (
	csrfRE   = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	hiddenRE = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)
)

// login fills in the login form of node n for the request in next (a local
// path) and returns where the login sends the browser.
func (b *browser) login(n *node, next string) string {
	b.t.Helper()
	pg := b.do("GET", n.url+"/login?next="+url.QueryEscape(next), nil)
	m := csrfRE.FindStringSubmatch(pg.body)
	if pg.status != http.StatusOK || m == nil {
		b.t.Fatalf("%s: login page %d:\n%s", n.name, pg.status, pg.body)
	}
	return b.do("POST", n.url+"/login", url.Values{
		"csrf_token": {html.UnescapeString(m[1])}, "username": {username}, "password": {password}, "next": {next},
	}).location(b.t)
}

// consentForm reads the hidden inputs of a consent page.
func consentForm(t *testing.T, pg page) url.Values {
	t.Helper()
	if pg.status != http.StatusOK || !strings.Contains(pg.body, `name="allow"`) {
		t.Fatalf("not a consent page (%d):\n%s", pg.status, pg.body)
	}
	form := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(pg.body, -1) {
		form.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	return form
}

// callbackParams returns the parameters a redirect to the relying party
// carries.
func callbackParams(t *testing.T, loc string) url.Values {
	t.Helper()
	if !strings.HasPrefix(loc, callback) {
		t.Fatalf("redirected to %q, not the client", loc)
	}
	u, _ := url.Parse(loc)
	return u.Query()
}

// tokenRequest posts a form to a node's token endpoint with the client's
// Basic credentials; it returns the status and the decoded JSON body.
func tokenRequest(ctx context.Context, hc *http.Client, n *node, cl client, form url.Values) (int, map[string]any, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.url+"/token", strings.NewReader(form.Encode()))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(cl.ID), url.QueryEscape(cl.Secret))
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var body map[string]any
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, err
	}
	json.Unmarshal(b, &body)
	if body == nil {
		body = map[string]any{"raw": string(b)}
	}
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		body["retry_after"] = ra
	}
	return resp.StatusCode, body, nil
}

// introspect asks node n whether token is active, as caller.
func introspect(ctx context.Context, hc *http.Client, n *node, caller client, token string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.url+"/introspect", strings.NewReader(url.Values{"token": {token}}.Encode()))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(caller.ID), url.QueryEscape(caller.Secret))
	resp, err := hc.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	var body struct {
		Active bool `json:"active"`
	}
	if err := json.Unmarshal(b, &body); err != nil {
		return false, err
	}
	return body.Active, nil
}

// userinfo calls a node's userinfo endpoint and returns the status and
// claims.
// tokenCacheTTL is OIDCD_TOKEN_CACHE_TTL's default, which the nodes run
// with: a node that read a token before another node ended it may accept
// it for this long.
const tokenCacheTTL = time.Second

// refusedEverywhere checks that refused(n) holds at once on the node that
// took a change ending a token, and within the token cache's TTL on every
// other node (half a second more is allowed for a loaded machine).
func refusedEverywhere(t *testing.T, c *cluster, took *node, what string, refused func(n *node) bool) {
	t.Helper()
	if !refused(took) {
		t.Errorf("%s on %s, the node that took the change: still accepted", what, took.name)
	}
	deadline := time.Now().Add(tokenCacheTTL + 500*time.Millisecond)
	for _, n := range c.nodes {
		for n != took && !refused(n) {
			if time.Now().After(deadline) {
				t.Errorf("%s on %s: still accepted after the token cache's TTL", what, n.name)
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func userinfo(t *testing.T, n *node, token string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, n.url+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: userinfo: %v", n.name, err)
	}
	defer resp.Body.Close()
	var claims map[string]any
	json.NewDecoder(resp.Body).Decode(&claims)
	return resp.StatusCode, claims
}

// getBody fetches a URL and returns its status and body.
func getBody(t *testing.T, u string) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// jwksKids returns the key ids a node publishes.
func jwksKids(t *testing.T, n *node) []string {
	t.Helper()
	status, b := getBody(t, n.url+"/jwks")
	if status != http.StatusOK {
		t.Fatalf("%s: /jwks %d", n.name, status)
	}
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatalf("%s: /jwks: %v", n.name, err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.Kid)
	}
	return kids
}

// jwtKid returns the kid of a compact JWS's header.
func jwtKid(t *testing.T, jws string) string {
	t.Helper()
	h, _, _ := strings.Cut(jws, ".")
	var hdr struct {
		Kid string `json:"kid"`
	}
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil || json.Unmarshal(b, &hdr) != nil {
		t.Fatalf("bad JWT header %q", h)
	}
	return hdr.Kid
}

// migrationCount is the number of PostgreSQL migrations in the source tree.
func migrationCount(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("../storage/sqlstore/migrations/postgres")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".sql") {
			n++
		}
	}
	return n
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

func itoa(i int) string { return strconv.Itoa(i) }
