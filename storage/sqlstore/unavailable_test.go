package sqlstore

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"github.com/oidcd/oidcd/internal/pgtest"
	"io"
	"net"
	"net/url"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/oidcd/oidcd/storage"
)

func TestIsUnavailable(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"no rows", sql.ErrNoRows, false},
		{"plain", errors.New("syntax error"), false},
		{"unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"deadlock", &pgconn.PgError{Code: "40P01"}, false},
		{"bad conn", fmt.Errorf("x: %w", driver.ErrBadConn), true},
		{"conn closed", fmt.Errorf("x: %w", pgconn.ErrConnClosed), true},
		{"unexpected EOF", fmt.Errorf("failed to receive message: %w", io.ErrUnexpectedEOF), true},
		{"refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true},
		{"reset", fmt.Errorf("write: %w", syscall.ECONNRESET), true},
		{"connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, true},
		{"crash shutdown", &pgconn.PgError{Code: "57P02"}, true},
		{"starting up", &pgconn.PgError{Code: "57P03"}, true},
		{"query canceled", &pgconn.PgError{Code: "57014"}, false},
		// Classified by type and code, never by message text.
		{"text only", errors.New("dial tcp 127.0.0.1:5432: connect: connection refused"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := isUnavailable(tc.err); got != tc.want {
				t.Errorf("isUnavailable(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
	s := &Store{d: newPostgresDialect()}
	err := s.wrapErr("client", &pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"})
	if !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("wrapErr(57P01) = %v, does not wrap ErrUnavailable", err)
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		t.Errorf("wrapErr(57P01) = %v, lost the cause", err)
	}
	if err := s.wrapErr("client", sql.ErrNoRows); !errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("wrapErr(ErrNoRows) = %v", err)
	}
}

// An unreachable server fails Open with ErrUnavailable.
func TestOpenUnreachable(t *testing.T) {
	// Port 1 is privileged and never a database: connection refused,
	// without freeing a port someone else could take meanwhile.
	_, err := Open(t.Context(), "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=5")
	if !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("Open(unreachable) = %v, want ErrUnavailable", err)
	}
}

// proxy is a TCP relay in front of PostgreSQL that the test can take down
// (dropping new connections at once and cutting the open ones) and bring
// back, like a database restart seen from the client. Its listener, bound
// to port 0, stays open for the whole test, so no other process can take
// the address while the database is "down".
type proxy struct {
	t      testing.TB
	target string
	addr   string
	ln     net.Listener

	mu     sync.Mutex
	isDown bool
	conns  map[net.Conn]bool
	wg     sync.WaitGroup
}

func newProxy(t testing.TB, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy listen: %v", err)
	}
	p := &proxy{t: t, target: target, addr: ln.Addr().String(), ln: ln, conns: map[net.Conn]bool{}}
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Go(func() { p.relay(c) })
		}
	})
	t.Cleanup(func() {
		p.down()
		ln.Close()
		p.wg.Wait()
	})
	return p
}

func (p *proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.isDown {
		return false
	}
	p.conns[c] = true
	return true
}

func (p *proxy) relay(c net.Conn) {
	defer c.Close()
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer up.Close()
	if !p.track(c) || !p.track(up) {
		return
	}
	done := make(chan struct{}, 2)
	go func() { io.Copy(up, c); done <- struct{}{} }()
	go func() { io.Copy(c, up); done <- struct{}{} }()
	<-done
}

// down cuts every relayed connection and drops new ones as they come.
func (p *proxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.isDown = true
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// up relays new connections again.
func (p *proxy) up() {
	p.mu.Lock()
	p.isDown = false
	p.mu.Unlock()
}

// TestPostgresOutage takes the database away under an open Store: every
// operation fails fast with ErrUnavailable (nothing half-written), and
// when the database is back the pool recovers by itself, with no new Store.
func TestPostgresOutage(t *testing.T) {
	dbURL := pgtest.NewDatabase(t, pgtest.URL())
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	px := newProxy(t, u.Host)
	u.Host = px.addr
	s := openPostgresTest(t, u.String())
	s.SetPool(4, 4)
	ctx := t.Context()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateClient(ctx, &storage.Client{ID: "rp", Type: storage.Confidential}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	hash := func(b byte) []byte { h := make([]byte, 32); h[0] = b; return h }
	code := &storage.AuthCode{Hash: hash(1), GrantID: "g1", ClientID: "rp", UserID: "u", Scope: []string{"openid"},
		CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	if err := s.CreateCode(ctx, code); err != nil {
		t.Fatal(err)
	}
	// Warm the pool so that the outage meets open connections.
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { s.Client(ctx, "rp") })
	}
	wg.Wait()

	px.down()
	start := time.Now()
	grant := func(id string, b byte) (*storage.Grant, *storage.Token) {
		g := &storage.Grant{ID: id, ClientID: "rp", UserID: "u", Scope: []string{"openid"}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		return g, &storage.Token{Hash: hash(b), Kind: storage.AccessToken, GrantID: id, ClientID: "rp", UserID: "u",
			CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	}
	ops := map[string]func() error{
		"Ping":   func() error { return s.Ping(ctx) },
		"Client": func() error { _, err := s.Client(ctx, "rp"); return err },
		"CreateGrant": func() error {
			g, tok := grant("g-down", 2)
			return s.CreateGrant(ctx, g, tok)
		},
		// Two grants written by one combined statement (grantbatch.go):
		// both callers see the outage, neither is run again.
		"CreateGrant batch": func() error {
			g1, tok1 := grant("g-down-1", 4)
			g2, tok2 := grant("g-down-2", 5)
			jobs := []*grantJob{job(ctx, g1, []*storage.Token{tok1}), job(ctx, g2, []*storage.Token{tok2})}
			return errors.Join(runBatch(s, jobs)...)
		},
		"ConsumeCode": func() error {
			g, tok := grant("g1", 3)
			_, err := s.ConsumeCode(ctx, code.Hash, now, g, tok)
			return err
		},
		"ListKeys":      func() error { _, err := s.ListKeys(ctx); return err },
		"DeleteExpired": func() error { _, err := s.DeleteExpired(ctx, now); return err },
	}
	for round := range 3 { // pooled connections first, then fresh dials
		for name, op := range ops {
			if err := op(); !errors.Is(err, storage.ErrUnavailable) {
				t.Errorf("round %d: %s during the outage = %v, want ErrUnavailable", round, name, err)
			}
		}
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("failing during the outage took %v; want fast failures", d)
	}

	px.up()
	var got *storage.Client
	deadline := time.Now().Add(10 * time.Second)
	for attempt := 1; ; attempt++ {
		got, err = s.Client(ctx, "rp")
		if err == nil {
			t.Logf("recovered on attempt %d", attempt)
			break
		}
		if !errors.Is(err, storage.ErrUnavailable) || time.Now().After(deadline) {
			t.Fatalf("after the outage, attempt %d: %v", attempt, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got.ID != "rp" {
		t.Fatalf("client = %+v", got)
	}
	// Nothing of the failed writes was stored, and the code is still
	// redeemable exactly once.
	for _, id := range []string{"g-down", "g-down-1", "g-down-2"} {
		if _, err := s.Grant(ctx, id); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("grant %s written during the outage: %v", id, err)
		}
	}
	g, tok := grant("g1", 3)
	if _, err := s.ConsumeCode(ctx, code.Hash, now, g, tok); err != nil {
		t.Fatalf("ConsumeCode after the outage: %v", err)
	}
	if _, _, err := s.Token(ctx, tok.Hash, now); err != nil {
		t.Fatalf("token after the outage: %v", err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping after the outage: %v", err)
	}
}

// Close may be called twice (tests and shutdown paths both close stores),
// and a closed store refuses new transactions instead of hanging.
func TestCloseTwice(t *testing.T) {
	s, err := Open(t.Context(), "sqlite:"+t.TempDir()+"/x.db")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s.Close()
	if err := s.RevokeGrant(t.Context(), "g", time.Now()); err == nil {
		t.Fatal("a closed store accepted a transaction")
	}
}
