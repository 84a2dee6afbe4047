package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oidcd/oidcd/storage"
	"github.com/oidcd/oidcd/storage/storagetest"
)

// The PostgreSQL tests need a server; they fail, never skip, without one.
const defaultTestPostgres = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

func testPostgresURL() string {
	if u := os.Getenv("OIDCD_TEST_POSTGRES"); u != "" {
		return u
	}
	return defaultTestPostgres
}

// pgAdmin connects to the server's administrative database.
func pgAdmin(t testing.TB) *sql.DB {
	t.Helper()
	u := testPostgresURL()
	db, err := sql.Open("pgx", u)
	if err != nil {
		t.Fatalf("PostgreSQL test server %s: %v", redact(u), err)
	}
	t.Cleanup(func() { db.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		t.Fatalf("PostgreSQL test server %s is unreachable (start it, or point OIDCD_TEST_POSTGRES at one): %v", redact(u), err)
	}
	return db
}

// pgDatabase creates a uniquely named database, dropped when t ends, and
// returns its URL.
func pgDatabase(t testing.TB) string {
	t.Helper()
	admin := pgAdmin(t)
	b := make([]byte, 6)
	rand.Read(b)
	name := "oidcd_test_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(t.Context(), "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(testPostgresURL())
	if err != nil {
		t.Fatalf("parse %s: %v", redact(testPostgresURL()), err)
	}
	u.Path = "/" + name
	return u.String()
}

// withParam returns dsn with one more query parameter.
func withParam(t testing.TB, dsn, key, value string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}

func openPostgresTest(t testing.TB, dsn string) *Store {
	t.Helper()
	s, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestPostgres runs the suite in one database created for the run, each
// subtest in a fresh schema selected through search_path: as isolated as a
// database per subtest, and much faster to create.
func TestPostgres(t *testing.T) {
	dbURL := pgDatabase(t)
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var n atomic.Int64
	storagetest.Run(t, func(t *testing.T) storage.Storage {
		schema := fmt.Sprintf("suite_%d", n.Add(1))
		if _, err := db.ExecContext(t.Context(), "CREATE SCHEMA "+schema); err != nil {
			t.Fatalf("create schema: %v", err)
		}
		s := openPostgresTest(t, withParam(t, dbURL, "search_path", schema))
		if err := s.Migrate(t.Context()); err != nil {
			t.Fatalf("migrate postgres: %v", err)
		}
		return s
	})
}

// Several nodes starting at once on a fresh database: every Migrate
// succeeds, the schema is applied once, and a later Migrate does nothing.
func TestPostgresConcurrentMigrate(t *testing.T) {
	dbURL := pgDatabase(t)
	nodes := []*Store{openPostgresTest(t, dbURL), openPostgresTest(t, dbURL)}
	const perNode = 3
	errs := make(chan error, len(nodes)*perNode)
	var wg sync.WaitGroup
	for _, s := range nodes {
		for range perNode {
			wg.Go(func() { errs <- s.Migrate(t.Context()) })
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent Migrate: %v", err)
		}
	}
	ms, err := loadMigrations("postgres")
	if err != nil {
		t.Fatal(err)
	}
	count := func() int {
		var n int
		if err := nodes[0].w.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n != len(ms) {
		t.Errorf("schema_migrations has %d rows, want %d", n, len(ms))
	}
	if err := nodes[1].Migrate(t.Context()); err != nil {
		t.Errorf("Migrate again: %v", err)
	}
	if n := count(); n != len(ms) {
		t.Errorf("schema_migrations has %d rows after another Migrate, want %d", n, len(ms))
	}
	// The advisory lock was released: a session can take it without waiting.
	var got bool
	if err := nodes[0].w.QueryRowContext(t.Context(), `SELECT pg_try_advisory_lock($1)`, migrateLockKey).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if !got {
		t.Error("the migration advisory lock is still held")
	}
	// The store works.
	if err := nodes[1].CreateClient(t.Context(), &storage.Client{ID: "rp", Type: storage.Public}); err != nil {
		t.Errorf("CreateClient after migration: %v", err)
	}
}

func BenchmarkPostgresIssue(b *testing.B) {
	s := openPostgresTest(b, pgDatabase(b))
	if err := s.Migrate(b.Context()); err != nil {
		b.Fatal(err)
	}
	benchIssue(b, s)
}
