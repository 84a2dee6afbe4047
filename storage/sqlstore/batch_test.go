package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/oidcd/oidcd/storage"
)

// queueBehindWriter holds the writer inside a transaction until n jobs wait
// behind it, then runs them, so that they share one batch. It returns each
// job's error.
func queueBehindWriter(t *testing.T, s *Store, bodies []func(c conn) error) []error {
	t.Helper()
	calls := make([]func() error, len(bodies))
	for i, fn := range bodies {
		calls[i] = func() error { return s.inBatch(context.Background(), fn) }
	}
	return queueCallsBehindWriter(t, s, calls)
}

// queueCallsBehindWriter is queueBehindWriter for calls that each submit
// one transaction (CreateGrant, …).
func queueCallsBehindWriter(t *testing.T, s *Store, calls []func() error) []error {
	t.Helper()
	ctx := context.Background()
	release := make(chan struct{})
	held := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.inBatch(ctx, func(c conn) error { close(held); <-release; return nil })
	}()
	<-held
	errs := make([]error, len(calls))
	for i, call := range calls {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = call() }()
	}
	// The jobs are queued once their goroutines block on the writer's
	// channel; there is no event for that, so wait a while.
	time.Sleep(100 * time.Millisecond)
	before := s.batches.Load()
	close(release)
	wg.Wait()
	if n := s.batches.Load() - before; n != 1 {
		t.Fatalf("%d jobs ran in %d batches, want 1 (the test could not queue them in time)", len(calls), n)
	}
	return errs
}

// Group commit keeps each transaction's outcome its own: in a batch where
// some bodies fail after writing, their writes are undone and their callers
// see their errors, while every other body's writes are committed.
func TestGroupCommitKeepsOutcomesApart(t *testing.T) {
	s := newSQLite(t)
	if _, err := s.w.Exec(`CREATE TABLE batch_rows (k TEXT NOT NULL PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	insert := func(k string) func(c conn) error {
		return func(c conn) error {
			_, err := c.exec(context.Background(), `INSERT INTO batch_rows (k) VALUES (?)`, k)
			return err
		}
	}
	if err := insert("seed")(conn{q: s.w, d: s.d}); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("body failed after writing")
	var bodies []func(c conn) error
	for i := range 12 {
		k := fmt.Sprint("row", i)
		switch i % 4 {
		case 1: // writes, then fails
			bodies = append(bodies, func(c conn) error {
				if err := insert(k)(c); err != nil {
					return err
				}
				return boom
			})
		case 2: // writes, then panics
			bodies = append(bodies, func(c conn) error {
				if err := insert(k)(c); err != nil {
					return err
				}
				panic("body panicked after writing")
			})
		case 3: // fails in SQL (a key written before the batch), after a write of its own
			bodies = append(bodies, func(c conn) error {
				if err := insert(k)(c); err != nil {
					return err
				}
				return insert("seed")(c)
			})
		default:
			bodies = append(bodies, insert(k))
		}
	}
	retried := s.retried.Load()
	errs := queueBehindWriter(t, s, bodies)
	if s.retried.Load() != retried+1 {
		t.Errorf("a batch with failed bodies was not run again with savepoints")
	}
	for i, err := range errs {
		k := fmt.Sprint("row", i)
		var n int
		if err := s.w.QueryRow(`SELECT count(*) FROM batch_rows WHERE k = ?`, k).Scan(&n); err != nil {
			t.Fatal(err)
		}
		switch i % 4 {
		case 0:
			if err != nil || n != 1 {
				t.Errorf("%s: err %v, %d rows; want committed", k, err, n)
			}
		case 1:
			if !errors.Is(err, boom) || n != 0 {
				t.Errorf("%s: err %v, %d rows; want its own error and no row", k, err, n)
			}
		default:
			if err == nil || n != 0 {
				t.Errorf("%s: err %v, %d rows; want an error and no row", k, err, n)
			}
		}
	}
}

// A batch whose bodies all succeed commits once, without the savepoint rerun.
func TestGroupCommitWithoutFailuresRunsOnce(t *testing.T) {
	s := newSQLite(t)
	if _, err := s.w.Exec(`CREATE TABLE batch_rows (k TEXT NOT NULL PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	var bodies []func(c conn) error
	for i := range 20 {
		bodies = append(bodies, func(c conn) error {
			_, err := c.exec(context.Background(), `INSERT INTO batch_rows (k) VALUES (?)`, fmt.Sprint("row", i))
			return err
		})
	}
	retried := s.retried.Load()
	for i, err := range queueBehindWriter(t, s, bodies) {
		if err != nil {
			t.Errorf("job %d: %v", i, err)
		}
	}
	if s.retried.Load() != retried {
		t.Errorf("a batch without failures ran twice")
	}
	var n int
	if err := s.w.QueryRow(`SELECT count(*) FROM batch_rows`).Scan(&n); err != nil || n != 20 {
		t.Errorf("%d rows (%v), want 20", n, err)
	}
}

// The grants of a batch are inserted together (insertGrantRows), with what
// CreateGrant alone stores; one grant that cannot be stored fails alone, the
// batch then running each grant in a savepoint of its own.
func TestGroupCommitInsertsGrantsTogether(t *testing.T) {
	s := newSQLite(t)
	ctx := context.Background()
	if err := s.CreateClient(ctx, &storage.Client{ID: "rp", Type: storage.Confidential}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	count := func(table string) int {
		var n int
		if err := s.w.QueryRow(`SELECT count(*) FROM ` + table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	// 19 client_credentials grants and one with an access and a refresh
	// token: cut into statements of 16 and 4 grants and of 16, 4 and 1
	// tokens.
	var calls []func() error
	var made []*storage.Token
	for i := range 20 {
		g, tok := ccGrant(now)
		tokens := []*storage.Token{tok}
		if i == 7 {
			g.UserID, g.SessionID, g.Nonce = "alice", "sid", "n-7"
			rt := *tok
			rt.Hash, rt.Kind = append([]byte{1}, tok.Hash...), storage.RefreshToken
			tokens = append(tokens, &rt)
		}
		made = append(made, tokens...)
		calls = append(calls, func() error { return s.CreateGrant(ctx, g, tokens...) })
	}
	retried, grouped := s.retried.Load(), s.grouped.Load()
	for i, err := range queueCallsBehindWriter(t, s, calls) {
		if err != nil {
			t.Errorf("grant %d: %v", i, err)
		}
	}
	if s.retried.Load() != retried || s.grouped.Load() != grouped+20 {
		t.Errorf("retried %d, grouped %d: want the 20 grants inserted together, once",
			s.retried.Load()-retried, s.grouped.Load()-grouped)
	}
	if g, tk := count("grants"), count("tokens"); g != 20 || tk != 21 {
		t.Fatalf("%d grants and %d tokens stored, want 20 and 21", g, tk)
	}
	for _, tok := range made {
		got, g, err := s.Token(ctx, tok.Hash, now)
		if err != nil || got.Kind != tok.Kind || g.ID != tok.GrantID {
			t.Fatalf("token of grant %s: %+v, %+v, %v", tok.GrantID, got, g, err)
		}
		if tok.Kind == storage.RefreshToken && (g.UserID != "alice" || g.SessionID != "sid" || g.Nonce != "n-7") {
			t.Errorf("grant stored as %+v", g)
		}
	}

	// A grant of an unknown client and a token stored already each fail
	// alone.
	calls = calls[:0]
	for i := range 10 {
		g, tok := ccGrant(now)
		switch i {
		case 3:
			g.ClientID, tok.ClientID = "unknown", "unknown"
		case 6:
			tok.Hash = made[0].Hash
		}
		calls = append(calls, func() error { return s.CreateGrant(ctx, g, tok) })
	}
	for i, err := range queueCallsBehindWriter(t, s, calls) {
		if (err != nil) != (i == 3 || i == 6) {
			t.Errorf("grant %d: %v", i, err)
		}
	}
	if s.retried.Load() != retried+1 {
		t.Errorf("the batch with failing grants was not run again with savepoints")
	}
	if g, tk := count("grants"), count("tokens"); g != 28 || tk != 29 {
		t.Errorf("%d grants and %d tokens stored, want 28 and 29", g, tk)
	}
}
