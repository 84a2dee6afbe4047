package sqlstore

import (
	"database/sql"
	"fmt"
	"github.com/oidcd/oidcd/internal/pgtest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oidcd/oidcd/storage"
	"github.com/oidcd/oidcd/storage/storagetest"
)

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
	dbURL := pgtest.NewDatabase(t, pgtest.URL())
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
		s := openPostgresTest(t, pgtest.WithParam(dbURL, "search_path", schema))
		if err := s.Migrate(t.Context()); err != nil {
			t.Fatalf("migrate postgres: %v", err)
		}
		s.SetTokenCache(time.Hour) // as newSQLite
		return s
	})
}

// Several nodes starting at once on a fresh database: every Migrate
// succeeds, the schema is applied once, and a later Migrate does nothing.
func TestPostgresConcurrentMigrate(t *testing.T) {
	dbURL := pgtest.NewDatabase(t, pgtest.URL())
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
	s := openPostgresTest(b, pgtest.NewDatabase(b, pgtest.URL()))
	if err := s.Migrate(b.Context()); err != nil {
		b.Fatal(err)
	}
	benchIssue(b, s)
}
