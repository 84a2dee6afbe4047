package sqlstore

import (
	"os"
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
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		hashes [][]byte
	)
	for range 8 {
		wg.Go(func() {
			for range 250 {
				g, tok := ccGrant(now)
				if err := s.CreateGrant(ctx, g, tok); err != nil {
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

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
