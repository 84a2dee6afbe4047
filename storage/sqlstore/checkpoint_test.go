package sqlstore

import (
	"bytes"
	"database/sql"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oidcd/oidcd/storage"
)

// The writer never checkpoints (its commits only append to the WAL); the
// checkpointer copies the WAL into the database file beside it, and what a
// commit wrote is readable at every moment in between.
func TestCheckpointsBesideTheWriter(t *testing.T) {
	s := newSQLite(t)
	ctx := t.Context()
	var auto int
	if err := s.w.QueryRowContext(ctx, "PRAGMA wal_autocheckpoint").Scan(&auto); err != nil {
		t.Fatal(err)
	}
	if auto != 0 {
		t.Fatalf("the writer's wal_autocheckpoint is %d, want 0: its commits would run checkpoints", auto)
	}
	if err := s.CreateClient(ctx, &storage.Client{ID: "rp", Type: storage.Confidential}); err != nil {
		t.Fatal(err)
	}
	// Let the checkpoint after the schema's creation finish, then note the
	// file's size: from here on only checkpoints make the file grow.
	time.Sleep(3 * checkpointInterval)
	before := fileSize(t, s.path)

	now := time.Now()
	hashes := writeGrants(t, s, now, 8, 250)
	for _, h := range hashes[:50] {
		if _, _, err := s.Token(ctx, h, now); err != nil {
			t.Fatalf("a committed token is not readable: %v", err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for fileSize(t, s.path) <= before {
		if time.Now().After(deadline) {
			t.Fatalf("the database file stayed at %d bytes after 2000 grants: nothing checkpointed the WAL", before)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Once the writes stop, the last checkpoint copies the whole WAL.
	deadline = time.Now().Add(10 * time.Second)
	for {
		wal, copied, err := s.ck.checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if wal == copied {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the WAL's %d pages are still not all in the database file (%d are)", wal, copied)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, h := range hashes {
		if _, _, err := s.Token(ctx, h, now); err != nil {
			t.Fatalf("a token is lost after the checkpoints: %v", err)
		}
	}
}

// writeGrants stores writers*each client_credentials grants from writers
// goroutines at once and returns their tokens' hashes.
func writeGrants(t *testing.T, s *Store, now time.Time, writers, each int) [][]byte {
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		hashes [][]byte
	)
	for range writers {
		wg.Go(func() {
			for range each {
				g, tok := ccGrant(now)
				if err := s.CreateGrant(t.Context(), g, tok); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				hashes = append(hashes, tok.Hash)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return hashes
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// setWALRestart makes the store's WAL start over at pages instead of
// walRestartPages, so that a test sees restarts after a few hundred writes.
func setWALRestart(s *Store, pages int) {
	s.ck.mu.Lock()
	s.ck.restartAt, s.ck.base = pages, pages
	s.ck.mu.Unlock()
}

// Under sustained writes a PASSIVE checkpoint never finds the whole WAL
// copied at a moment when the next commit could start it over, so the WAL
// grew with every commit (2 GB after 30 s at the token endpoint's rate).
// With a restart asked at some size it stays near that size, and nothing
// written is lost on the way. The same writes on a store that never
// restarts show what the WAL would have grown to.
func TestWALStartsOverUnderLoad(t *testing.T) {
	never, restarts := walUnderLoad(t, 1<<30)
	if restarts != 0 {
		t.Fatalf("%d restarts asked at 2^30 pages", restarts)
	}
	bounded, restarts := walUnderLoad(t, 64)
	t.Logf("WAL at most %d KB with restarts at 64 pages (%d restarts), %d KB without", bounded/1024, restarts, never/1024)
	if restarts == 0 {
		t.Fatalf("the WAL never started over; it reached %d KB", bounded/1024)
	}
	if bounded*3 > never {
		t.Fatalf("the WAL reached %d KB with restarts, against %d KB without", bounded/1024, never/1024)
	}
}

// walUnderLoad writes 6400 grants from 8 goroutines, with a reader beside
// them, on a store whose WAL starts over at restartPages, and returns the WAL
// file's largest size and the restarts. The writer's journal_size_limit is 0
// here, so that each restart cuts the file back and its size shows the WAL
// written since the last one.
func walUnderLoad(t *testing.T, restartPages int) (maxWAL, restarts int64) {
	s := newSQLite(t)
	ctx := t.Context()
	if err := s.CreateClient(ctx, &storage.Client{ID: "rp", Type: storage.Confidential}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.ExecContext(ctx, "PRAGMA journal_size_limit = 0"); err != nil {
		t.Fatal(err)
	}
	setWALRestart(s, restartPages)
	now := time.Now()
	var (
		others sync.WaitGroup
		stop   = make(chan struct{})
	)
	others.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			if fi, err := os.Stat(s.path + "-wal"); err == nil {
				maxWAL = max(maxWAL, fi.Size())
			}
		}
	})
	others.Go(func() { // a reader, whose snapshots a restart waits for
		for {
			select {
			case <-stop:
				return
			default:
			}
			var n int
			if err := s.r.QueryRowContext(ctx, "SELECT count(*) FROM tokens").Scan(&n); err != nil {
				t.Error(err)
				return
			}
		}
	})
	hashes := writeGrants(t, s, now, 8, 800)
	close(stop)
	others.Wait()
	// Every token, read from the database (the token cache has none).
	for _, h := range hashes {
		if _, _, err := s.Token(ctx, h, now); err != nil {
			t.Fatalf("a token is lost after the WAL started over: %v", err)
		}
	}
	return maxWAL, s.ck.restarts.Load()
}

// A reader holding an old snapshot (a backup, a long report) keeps the
// frames it reads in the WAL, so a restart cannot finish while it reads. It
// gives up after walRestartWait, not after the 10 s busy timeout the other
// connections have, and waits for twice the WAL before it tries again: the
// writes go on at their usual pace meanwhile, and once the reader is gone the
// WAL starts over again.
func TestWALRestartGivesUpOnAnOldReader(t *testing.T) {
	s := newSQLite(t)
	ctx := t.Context()
	if err := s.CreateClient(ctx, &storage.Client{ID: "rp", Type: storage.Confidential}); err != nil {
		t.Fatal(err)
	}
	const restartPages = 32
	setWALRestart(s, restartPages)
	var logged bytes.Buffer // written by the writer goroutine, read after its last write
	s.SetLogger(slog.New(slog.NewTextHandler(&logged, nil)))
	reader, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Rollback()
	var n int
	if err := reader.QueryRowContext(ctx, "SELECT count(*) FROM grants").Scan(&n); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	write := func(count int) (slowest time.Duration) {
		for range count {
			g, tok := ccGrant(now)
			t0 := time.Now()
			if err := s.CreateGrant(ctx, g, tok); err != nil {
				t.Fatal(err)
			}
			slowest = max(slowest, time.Since(t0))
			time.Sleep(200 * time.Microsecond) // room for the checkpoints
		}
		return slowest
	}
	restartAt := func() int {
		s.ck.mu.Lock()
		defer s.ck.mu.Unlock()
		return s.ck.restartAt
	}
	// Write until a restart has given up once: then the next one is asked
	// at twice the WAL, which the writes after the reader is gone reach
	// soon.
	var slowest time.Duration
	deadline := time.Now().Add(10 * time.Second)
	for restartAt() <= restartPages {
		if time.Now().After(deadline) {
			t.Fatalf("the restart is still asked at %d pages while a reader holds the WAL", restartAt())
		}
		slowest = max(slowest, write(20))
	}
	// More writes with the reader still there: the restarts that give up
	// now hold the writes queued behind them.
	slowest = max(slowest, write(200))
	backedOff := restartAt()
	if limit := time.Second; slowest > limit {
		t.Fatalf("a write waited %v for a restart blocked by a reader (more than %v)", slowest, limit)
	}
	if got := s.ck.restarts.Load(); got != 0 {
		t.Fatalf("%d restarts finished while a reader held an old snapshot", got)
	}
	if !strings.Contains(logged.String(), "level=WARN msg=\"sqlite: the WAL could not start over") {
		t.Fatalf("the restart that gave up was not logged; the log holds %q", logged.String())
	}
	if err := reader.Rollback(); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(10 * time.Second)
	for s.ck.restarts.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the WAL did not start over once the reader was gone")
		}
		write(50)
	}
	if got := restartAt(); got != restartPages {
		t.Fatalf("after a restart the next one is asked at %d pages, want %d again", got, restartPages)
	}
	t.Logf("slowest write with the reader: %v; restarts asked at %d pages then", slowest, backedOff)
}
