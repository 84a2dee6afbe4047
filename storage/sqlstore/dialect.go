package sqlstore

import (
	"errors"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// dialect holds what differs between SQLite and PostgreSQL. Queries are
// written once, with ? placeholders, in the SQL both understand (upserts use
// INSERT … ON CONFLICT … DO UPDATE SET … = excluded.…, which both accept).
// Column types differ only in the migrations (BLOB/BYTEA, INTEGER/BIGINT,
// INTEGER/BOOLEAN), which are kept per dialect.
type dialect struct {
	// name is "sqlite" or "postgres"; it is also the migrations directory.
	name string
	// numbered placeholders: $1, $2, … instead of ?.
	numbered bool
	// cache of rebound queries (only used when numbered).
	cache sync.Map
	// isUnique reports whether err is a unique or primary-key violation.
	isUnique func(error) bool
	// isForeignKey reports whether err is a foreign-key violation.
	isForeignKey func(error) bool
	// isUnavailable reports the dialect's own codes for a database that
	// cannot be used for now (beyond the connection failures isUnavailable
	// recognises for every dialect).
	isUnavailable func(error) bool
	// blobType is the binary column type, for casts.
	blobType string
	// isRetryable reports whether a statement failed only because it lost a
	// race with another transaction (deadlock, serialization failure).
	isRetryable func(error) bool
	// lockRow ends a SELECT to lock the selected row like an UPDATE would,
	// so that transactions lock grants before their tokens; empty when the
	// transaction itself serialises writers.
	lockRow string
	// skipLocked ends the SELECT that picks a logout message to lease, so
	// that concurrent nodes pass over a row another transaction is claiming
	// instead of waiting for it; empty when the transaction itself
	// serialises writers.
	skipLocked string
	// lockFirstKey is run inside the CreateFirstKey transaction before the
	// conditional insert; empty when the transaction itself serialises writers.
	lockFirstKey string
}

// Advisory lock keys (PostgreSQL). Arbitrary constants: "oidcd" and a suffix.
const (
	migrateLockKey  int64 = 0x6f6964636400_01
	firstKeyLockKey int64 = 0x6f6964636400_02
)

func newSQLiteDialect() *dialect {
	return &dialect{
		name:        "sqlite",
		blobType:    "BLOB",
		isRetryable: func(error) bool { return false }, // writers are serialised
		isUnique: func(err error) bool {
			var e *sqlite.Error
			if !errors.As(err, &e) {
				return false
			}
			c := e.Code()
			return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
		},
		isForeignKey: func(err error) bool {
			var e *sqlite.Error
			return errors.As(err, &e) && e.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
		},
		// The database file is locked by another process beyond
		// busy_timeout (a backup, the command line), cannot be opened or
		// read: transient for the caller, who answers 503. The primary
		// result code is the low byte of an extended one.
		isUnavailable: func(err error) bool {
			var e *sqlite.Error
			if !errors.As(err, &e) {
				return false
			}
			switch e.Code() & 0xff {
			case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_IOERR:
				return true
			}
			return false
		},
	}
}

func newPostgresDialect() *dialect {
	return &dialect{
		name:     "postgres",
		numbered: true,
		blobType: "BYTEA",
		isRetryable: func(err error) bool {
			c := pgCode(err)
			return c == "40P01" || c == "40001" // deadlock_detected, serialization_failure
		},
		isUnique:      func(err error) bool { return pgCode(err) == "23505" }, // unique_violation
		isForeignKey:  func(err error) bool { return pgCode(err) == "23503" }, // foreign_key_violation
		isUnavailable: func(error) bool { return false },                      // isUnavailable has the SQLSTATE classes
		lockRow:       " FOR NO KEY UPDATE",
		skipLocked:    " FOR UPDATE SKIP LOCKED",
		lockFirstKey:  "SELECT pg_advisory_xact_lock(" + strconv.FormatInt(firstKeyLockKey, 10) + ")",
	}
}

func pgCode(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// rebind turns ? placeholders into $1, $2, … for PostgreSQL. Queries never
// contain ? inside literals or identifiers.
func (d *dialect) rebind(q string) string {
	if !d.numbered {
		return q
	}
	if v, ok := d.cache.Load(q); ok {
		return v.(string)
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	r := b.String()
	d.cache.Store(q, r)
	return r
}
