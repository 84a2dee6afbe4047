// Package pgtest gives tests throwaway PostgreSQL databases on the server
// named by OIDCD_TEST_POSTGRES (default: 127.0.0.1:5432, user postgres,
// trust auth).
//
// Without a reachable server, a test that needs one is skipped with the
// reason, so that "go test ./..." passes on a machine without PostgreSQL;
// under CI (the environment variable CI=true, which .ci/run sets) it fails
// instead, so that CI never passes without having run them.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// DefaultURL is the server's administrative database when
// OIDCD_TEST_POSTGRES is not set.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// URL is the administrative database of the test server.
func URL() string {
	if u := os.Getenv("OIDCD_TEST_POSTGRES"); u != "" {
		return u
	}
	return DefaultURL
}

// Admin connects to adminURL, closed when t ends, and fails t with a clear
// message when the server does not answer.
func Admin(t testing.TB, adminURL string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", adminURL)
	if err != nil {
		t.Fatalf("PostgreSQL at %s: %v", Redact(adminURL), err)
	}
	t.Cleanup(func() { db.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		Unavailable(t, "PostgreSQL at %s is unreachable (start it, or point OIDCD_TEST_POSTGRES at one): %v", Redact(adminURL), err)
	}
	return db
}

// Required reports whether tests must fail, not skip, when PostgreSQL or
// its server programs are missing: under CI (CI=true).
func Required() bool { return os.Getenv("CI") == "true" }

// Unavailable ends t because something PostgreSQL tests need is missing:
// a failure under CI, a skip with the reason elsewhere.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if Required() {
		t.Fatalf(format, args...)
	}
	t.Skipf("skipped: "+format+" (with CI=true this is a failure)", args...)
}

// NewDatabase creates an empty database oidcd_test_<random> on the server
// of adminURL, dropped when t ends, and returns its URL.
func NewDatabase(t testing.TB, adminURL string) string {
	t.Helper()
	admin := Admin(t, adminURL)
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
	u, err := url.Parse(adminURL)
	if err != nil {
		t.Fatalf("parse %s: %v", Redact(adminURL), err)
	}
	u.Path = "/" + name
	return u.String()
}

// WithParam returns raw with one more query parameter.
func WithParam(raw, key, value string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}

// Redact hides the password of a database URL.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "?"
	}
	return u.Redacted()
}
