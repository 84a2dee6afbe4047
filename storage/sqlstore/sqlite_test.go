package sqlstore

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/oidcd/oidcd/storage"
	"github.com/oidcd/oidcd/storage/storagetest"
)

func newSQLite(t *testing.T) *Store {
	t.Helper()
	path := filepath.Join(t.TempDir(), "oidcd.db")
	s, err := Open(t.Context(), "sqlite:"+path)
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("migrate sqlite: %v", err)
	}
	// The token cache on, with a TTL longer than any test: every change
	// the suite makes must then be seen through the cache's invalidation.
	s.SetTokenCache(time.Hour)
	return s
}

func TestSQLite(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Storage { return newSQLite(t) })
}

func TestSQLiteMigrateIdempotent(t *testing.T) {
	s := newSQLite(t)
	for range 2 {
		if err := s.Migrate(t.Context()); err != nil {
			t.Fatalf("second Migrate: %v", err)
		}
	}
	var n int
	if err := s.w.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	ms, err := loadMigrations("sqlite")
	if err != nil {
		t.Fatal(err)
	}
	if n != len(ms) {
		t.Errorf("schema_migrations has %d rows, want %d", n, len(ms))
	}
}

func TestSQLiteFileMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new.db")
	s, err := Open(t.Context(), path) // bare path
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m != 0o600 {
			t.Errorf("%s has mode %o, want 600", filepath.Base(p), m)
		}
	}
}

func TestSQLitePragmas(t *testing.T) {
	s := newSQLite(t)
	ctx := t.Context()
	for _, db := range []struct {
		name string
		c    conn
	}{{"writer", s.writer()}, {"reader", s.reader()}} {
		var mode string
		var fk, sync, busy int
		row := func(q string, dst any) {
			if err := db.c.row(ctx, q).Scan(dst); err != nil {
				t.Fatalf("%s %s: %v", db.name, q, err)
			}
		}
		row("PRAGMA journal_mode", &mode)
		row("PRAGMA foreign_keys", &fk)
		row("PRAGMA synchronous", &sync)
		row("PRAGMA busy_timeout", &busy)
		if mode != "wal" || fk != 1 || sync != 1 || busy != 10000 {
			t.Errorf("%s: journal_mode=%s foreign_keys=%d synchronous=%d busy_timeout=%d", db.name, mode, fk, sync, busy)
		}
	}
	if _, err := s.reader().exec(ctx, `DELETE FROM clients`); err == nil {
		t.Error("the reader pool accepted a write")
	}
}

func TestOpenRejects(t *testing.T) {
	for _, dsn := range []string{"", "sqlite:", ":memory:", "sqlite::memory:", "file:x.db", "x.db?mode=ro", "mysql://u@h/db"} {
		if s, err := Open(t.Context(), dsn); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", dsn)
		}
	}
}

func BenchmarkSQLiteIssue(b *testing.B) {
	s, err := Open(b.Context(), "sqlite:"+filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(b.Context()); err != nil {
		b.Fatal(err)
	}
	benchIssue(b, s)
}
