package multinode_test

import (
	"bytes"
	"context"
	"fmt"
	"github.com/oidcd/oidcd/internal/pgtest"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// privatePostgres is a PostgreSQL server of the test's own, in a temporary
// directory on a free loopback port. The restart test restarts it rather
// than the shared server: go test runs packages in parallel, and the
// PostgreSQL tests of other packages (and other people's runs) must not see
// their server go away.
type privatePostgres struct {
	t      *testing.T
	bindir string
	dir    string // owned by the server's OS user
	data   string
	port   int
	url    string // the administrative database
	runAs  string // OS user to run the server as ("" = ourselves)
}

// pgBinDir finds the PostgreSQL server programs.
func pgBinDir(t *testing.T) string {
	t.Helper()
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dir := strings.TrimSpace(string(out))
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { // newest version last
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi < vj
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "initdb")); err == nil {
			return dirs[i]
		}
	}
	pgtest.Unavailable(t, "the PostgreSQL server programs (initdb, pg_ctl) are not installed; the restart test needs them")
	return ""
}

func startPrivatePostgres(t *testing.T) *privatePostgres {
	t.Helper()
	// The server listens only on a Unix socket in its own directory: no TCP
	// port to pick, so nothing can race for one. 5432 only names the socket
	// file.
	pg := &privatePostgres{t: t, bindir: pgBinDir(t), port: 5432}
	dir, err := os.MkdirTemp("", "oidcd-pg-")
	if err != nil {
		t.Fatal(err)
	}
	pg.dir, pg.data = dir, filepath.Join(dir, "data")
	t.Cleanup(func() { os.RemoveAll(dir) })
	if os.Geteuid() == 0 {
		// initdb refuses to run as root.
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root, the private PostgreSQL server needs the OS user postgres: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		pg.runAs = "postgres"
	}
	if out, err := pg.run(60*time.Second, "initdb", "-D", pg.data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	opts := fmt.Sprintf("-p %d -c listen_addresses='' -c unix_socket_directories=%s -c fsync=off -c max_connections=200", pg.port, pg.dir)
	if out, err := pg.run(60*time.Second, "pg_ctl", "-D", pg.data, "-l", filepath.Join(pg.dir, "server.log"), "-w", "-t", "60", "-o", opts, "start"); err != nil {
		t.Fatalf("pg_ctl start: %v\n%s\n%s", err, out, pg.serverLog())
	}
	t.Cleanup(func() {
		if out, err := pg.run(60*time.Second, "pg_ctl", "-D", pg.data, "-m", "immediate", "-w", "stop"); err != nil {
			t.Errorf("pg_ctl stop: %v\n%s", err, out)
		}
	})
	pg.url = fmt.Sprintf("postgres://postgres@/postgres?host=%s&port=%d&sslmode=disable", url.QueryEscape(pg.dir), pg.port)
	return pg
}

// run runs one of the server programs as the server's OS user.
func (pg *privatePostgres) run(timeout time.Duration, prog string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	path := filepath.Join(pg.bindir, prog)
	var cmd *exec.Cmd
	if pg.runAs != "" {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", pg.runAs, "--", path}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	cmd.Dir = pg.dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func (pg *privatePostgres) serverLog() string {
	b, _ := os.ReadFile(filepath.Join(pg.dir, "server.log"))
	return string(b)
}

// restart stops the server the way an operator's restart does (fast
// shutdown: sessions are terminated, in-flight transactions rolled back)
// and starts it again, waiting until it accepts connections.
func (pg *privatePostgres) restart() error {
	out, err := pg.run(60*time.Second, "pg_ctl", "-D", pg.data, "-l", filepath.Join(pg.dir, "server.log"), "-m", "fast", "-w", "-t", "60", "restart")
	if err != nil {
		return fmt.Errorf("pg_ctl restart: %v\n%s\n%s", err, out, pg.serverLog())
	}
	return nil
}

// probe is one /readyz poll.
type probe struct {
	node       int
	at         time.Time
	status     int
	retryAfter string
	err        error
}

// TestPostgresRestartUnderLoad restarts PostgreSQL while three nodes serve
// a steady load of token requests: during the outage the nodes answer 503
// temporarily_unavailable with a Retry-After (never a 500, never a dropped
// connection or a crash) and /readyz reports 503; afterwards they serve 200
// again without being restarted, and every token issued before, during or
// after the outage is still active.
func TestPostgresRestartUnderLoad(t *testing.T) {
	pg := startPrivatePostgres(t)
	c := startCluster(t, pgtest.NewDatabase(t, pg.url), 3)
	rp := c.newClient("--scope", "api")
	resourceServer := c.newClient("--scope", "token_introspection", "--scope", rp.ID)
	ctx := t.Context()

	l := &loadGen{c: c, rp: rp, workers: 4, every: 10 * time.Millisecond}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { defer close(done); l.run(ctx, stop) }()

	var (
		pmu    sync.Mutex
		probes []probe
	)
	probesDone := make(chan struct{})
	go func() {
		defer close(probesDone)
		hc := &http.Client{Timeout: 5 * time.Second}
		for i := 0; i < 4000; i++ {
			select {
			case <-stop:
				return
			case <-time.After(25 * time.Millisecond):
			}
			for ni, n := range c.nodes {
				p := probe{node: ni, at: time.Now()}
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, n.url+"/readyz", nil)
				resp, err := hc.Do(req)
				if err != nil {
					p.err = err
				} else {
					p.status, p.retryAfter = resp.StatusCode, resp.Header.Get("Retry-After")
					resp.Body.Close()
				}
				pmu.Lock()
				probes = append(probes, p)
				pmu.Unlock()
			}
		}
	}()

	time.Sleep(700 * time.Millisecond)
	restartAt := time.Now()
	if err := pg.restart(); err != nil {
		close(stop)
		<-done
		<-probesDone
		t.Fatal(err)
	}
	restarted := time.Now()

	// Wait until every node issues tokens again on its own.
	hc := &http.Client{Timeout: 10 * time.Second}
	form := map[string][]string{"grant_type": {"client_credentials"}, "scope": {"api"}}
	recovered := restarted
	for _, n := range c.nodes {
		for {
			status, _, err := tokenRequest(ctx, hc, n, rp, form)
			if err == nil && status == http.StatusOK {
				break
			}
			if time.Since(restarted) > 20*time.Second {
				t.Fatalf("%s has not recovered %v after PostgreSQL came back: %d %v\n%s", n.name, time.Since(restarted), status, err, n.log())
			}
			time.Sleep(20 * time.Millisecond)
		}
		if now := time.Now(); now.After(recovered) {
			recovered = now
		}
	}
	time.Sleep(700 * time.Millisecond) // load after the recovery
	close(stop)
	<-done
	<-probesDone

	t.Logf("PostgreSQL restart took %v; every node issued tokens again %v after it was back",
		restarted.Sub(restartAt).Round(time.Millisecond), recovered.Sub(restarted).Round(time.Millisecond))

	var tokens []string
	unavailable, afterRecovery := 0, 0
	for _, r := range l.results {
		n := c.nodes[r.node]
		switch {
		case r.err != nil:
			t.Errorf("%s: transport error (crashed or dropped the connection?): %v", n.name, r.err)
		case r.status == http.StatusOK:
			tok, _ := r.body["access_token"].(string)
			tokens = append(tokens, tok)
		case r.status == http.StatusServiceUnavailable:
			unavailable++
			if r.body["error"] != "temporarily_unavailable" || r.body["retry_after"] != "5" {
				t.Errorf("%s: 503 body %v", n.name, r.body)
			}
			if r.at.After(recovered) {
				afterRecovery++
			}
		default:
			t.Errorf("%s answered %d %v", n.name, r.status, r.body)
		}
	}
	healthDown := 0
	for _, p := range probes {
		switch {
		case p.err != nil:
			t.Errorf("%s /readyz: %v", c.nodes[p.node].name, p.err)
		case p.status == http.StatusServiceUnavailable:
			healthDown++
			if p.retryAfter == "" {
				t.Errorf("%s /readyz 503 without Retry-After", c.nodes[p.node].name)
			}
		case p.status != http.StatusOK:
			t.Errorf("%s /readyz: %d", c.nodes[p.node].name, p.status)
		}
	}
	t.Logf("%d token requests: %d tokens, %d answered 503 during the outage; /readyz: %d polls, %d reported the database down",
		len(l.results), len(tokens), unavailable, len(probes), healthDown)
	if unavailable+healthDown == 0 {
		t.Error("no request noticed the outage: the restart was not observed")
	}
	if afterRecovery > 0 {
		t.Errorf("%d token requests answered 503 after every node had recovered", afterRecovery)
	}
	last := map[int]int{}
	for _, p := range probes {
		last[p.node] = p.status
	}
	for ni, status := range last {
		if status != http.StatusOK {
			t.Errorf("%s /readyz still %d at the end", c.nodes[ni].name, status)
		}
	}
	for _, n := range c.nodes {
		if !n.alive() {
			t.Fatalf("%s died:\n%s", n.name, n.log())
		}
		if strings.Contains(n.log(), "level=ERROR msg=\"panic") {
			t.Errorf("%s panicked:\n%s", n.name, n.log())
		}
	}

	// Nothing issued was lost: every token is active.
	var wg sync.WaitGroup
	work := make(chan string)
	var imu sync.Mutex
	inactive := 0
	for w := range 6 {
		wg.Go(func() {
			n := c.nodes[w%len(c.nodes)]
			for tok := range work {
				active, err := introspect(ctx, hc, n, resourceServer, tok)
				if err != nil {
					t.Errorf("%s: introspect: %v", n.name, err)
					continue
				}
				if !active {
					imu.Lock()
					inactive++
					imu.Unlock()
				}
			}
		})
	}
	for _, tok := range tokens {
		work <- tok
	}
	close(work)
	wg.Wait()
	if inactive > 0 {
		t.Errorf("%d of %d issued tokens are not active after the restart", inactive, len(tokens))
	}
}
