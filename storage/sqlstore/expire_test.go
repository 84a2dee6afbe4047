package sqlstore

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oidcd/oidcd/storage"
)

// DeleteExpired removes a backlog of expired grants and tokens in chunks,
// between which the writes of token requests commit: one DELETE of every
// expired row held SQLite's one writer for all of it (2.7 s for 300,000
// tokens), and every token request waited that long.
func TestDeleteExpiredLetsWritesThrough(t *testing.T) {
	s := newSQLite(t)
	ctx := t.Context()
	if err := s.CreateClient(ctx, &storage.Client{ID: "rp", Type: storage.Confidential}); err != nil {
		t.Fatal(err)
	}
	const backlog = 150_000
	past := time.Now().Add(-2 * time.Hour).UnixMicro()
	for _, q := range []string{
		`INSERT INTO grants (id, client_id, user_id, session_id, scope, claims, nonce, created_at, expires_at)
			WITH RECURSIVE n(value) AS (SELECT 1 UNION ALL SELECT value + 1 FROM n WHERE value < ?2)
			SELECT 'old' || value, 'rp', '', '', 'api', '', '', ?1, ?1 FROM n`,
		`INSERT INTO tokens (hash, kind, grant_id, client_id, user_id, scope, created_at, expires_at)
			WITH RECURSIVE n(value) AS (SELECT 1 UNION ALL SELECT value + 1 FROM n WHERE value < ?2)
			SELECT CAST('old' || value AS BLOB), 'access_token', 'old' || value, 'rp', '', 'api', ?1, ?1 FROM n`,
	} {
		if _, err := s.w.ExecContext(ctx, q, past, backlog); err != nil {
			t.Fatal(err)
		}
	}
	live, liveTok := ccGrant(time.Now())
	if err := s.CreateGrant(ctx, live, liveTok); err != nil {
		t.Fatal(err)
	}

	var (
		stop   atomic.Bool
		worst  time.Duration
		writes int
		done   = make(chan struct{})
	)
	go func() {
		defer close(done)
		for !stop.Load() {
			g, tok := ccGrant(time.Now())
			t0 := time.Now()
			if err := s.CreateGrant(context.Background(), g, tok); err != nil {
				t.Error(err)
				return
			}
			worst = max(worst, time.Since(t0))
			writes++
		}
	}()
	t0 := time.Now()
	n, err := s.DeleteExpired(ctx, time.Now())
	took := time.Since(t0)
	stop.Store(true)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d rows deleted in %v; %d grants written meanwhile, the slowest in %v", n, took, writes, worst)
	if n != 2*backlog {
		t.Fatalf("DeleteExpired removed %d rows, want %d (the backlog's grants and tokens)", n, 2*backlog)
	}
	if limit := 500 * time.Millisecond; worst > limit {
		t.Fatalf("a grant's write waited %v behind DeleteExpired (more than %v)", worst, limit)
	}
	var left int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM grants WHERE id LIKE 'old%'`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Fatalf("%d expired grants left", left)
	}
	if _, _, err := s.Token(ctx, liveTok.Hash, time.Now()); err != nil {
		t.Fatalf("a live token is gone after DeleteExpired: %v", err)
	}
}
