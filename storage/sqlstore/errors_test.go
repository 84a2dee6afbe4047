package sqlstore

import (
	"database/sql"
	"errors"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/oidcd/oidcd/internal/pgtest"
	"github.com/oidcd/oidcd/storage"
)

// A unique violation is ErrAlreadyExists and keeps the driver's error in
// the chain, with its code.
func TestUniqueViolationKeepsDriverError(t *testing.T) {
	s := newSQLite(t)
	c := &storage.Client{ID: "rp", Type: storage.Public}
	if err := s.CreateClient(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	err := s.CreateClient(t.Context(), c)
	var se *sqlite.Error
	if !errors.Is(err, storage.ErrAlreadyExists) || !errors.As(err, &se) {
		t.Fatalf("duplicate CreateClient = %v (%T), want ErrAlreadyExists wrapping *sqlite.Error", err, err)
	}
	if se.Code() != sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY {
		t.Errorf("driver code %d, want SQLITE_CONSTRAINT_PRIMARYKEY", se.Code())
	}
}

func TestPostgresUniqueViolationKeepsDriverError(t *testing.T) {
	s := openPostgresTest(t, pgtest.NewDatabase(t, pgtest.URL()))
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	c := &storage.Client{ID: "rp", Type: storage.Public}
	if err := s.CreateClient(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	err := s.CreateClient(t.Context(), c)
	var pe *pgconn.PgError
	if !errors.Is(err, storage.ErrAlreadyExists) || !errors.As(err, &pe) || pe.Code != "23505" {
		t.Fatalf("duplicate CreateClient = %v, want ErrAlreadyExists wrapping a 23505 *pgconn.PgError", err)
	}
}

// SQLite's result codes classify a database locked by another process
// (SQLITE_BUSY) as unavailable, which callers answer with 503.
func TestSQLiteBusyIsUnavailable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "busy.db")
	holder, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	holder.SetMaxOpenConns(1)
	ctx := t.Context()
	if _, err := holder.ExecContext(ctx, "CREATE TABLE t (x INTEGER)"); err != nil {
		t.Fatal(err)
	}
	tx, err := holder.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "INSERT INTO t VALUES (1)"); err != nil { // takes the write lock
		t.Fatal(err)
	}
	other, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	_, busy := other.ExecContext(ctx, "INSERT INTO t VALUES (2)")
	var se *sqlite.Error
	if !errors.As(busy, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY {
		t.Fatalf("second writer got %v, want SQLITE_BUSY", busy)
	}
	s := &Store{d: newSQLiteDialect()}
	got := s.wrapErr("write", busy)
	if !errors.Is(got, storage.ErrUnavailable) || !errors.As(got, &se) {
		t.Fatalf("wrapErr(SQLITE_BUSY) = %v, want ErrUnavailable keeping the driver error", got)
	}
	if errors.Is(s.wrapErr("write", errors.New("database is locked")), storage.ErrUnavailable) {
		t.Error("an error was classified by its text")
	}
}
