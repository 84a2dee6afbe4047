// Package sqlstore is oidcd's storage backend: one hand-written database/sql
// implementation of storage.Storage for SQLite (modernc.org/sqlite, pure Go)
// and PostgreSQL (pgx through database/sql). What differs between the two —
// placeholders, column types in the migrations, error codes, locking — is in
// dialect.go; every query is written once.
//
// Open connects; Migrate applies the versioned migrations embedded from
// migrations/<dialect>/NNN_name.sql, tracked in schema_migrations, holding a
// PostgreSQL advisory lock (or, on SQLite, an immediate write transaction) so
// that several nodes can start at once.
//
// On SQLite all writes go through a single-connection pool in WAL mode with
// busy_timeout, and reads through a separate read-only pool, so writers queue
// in Go rather than failing with SQLITE_BUSY. The database file is created
// with mode 0600. Checkpoints run on a connection of their own, and the WAL
// starts over once it holds 256 MB (checkpoint.go); SetLogger names where
// a restart kept from happening by a long reader is reported.
//
// SetTokenCache (off unless called; OIDCD_TOKEN_CACHE_TTL in the server)
// lets Token reuse the tokens it found for a short time: every method of the
// store that can end a token makes the cache forget what it concerns once
// committed, so a token ended through the store is refused at once, and one
// ended through another store on the same database after at most the TTL.
//
// Schema conventions: digests (codes, tokens, sessions) are binary primary
// keys compared whole (SECURITY B6, B7); times are BIGINT unix microseconds
// UTC with NULL for the zero time; scopes are space-separated text; string
// lists are JSON arrays. One-time artefacts are claimed with a conditional
// UPDATE whose affected-row count decides the single winner on either
// database (SECURITY B3, D4).
//
// Errors are classified by the driver's types and codes, never by message
// text: PostgreSQL SQLSTATEs (*pgconn.PgError: 23505 unique, 23503 foreign
// key, 08xxx and 57P0x unavailable, 40P01/40001 retried) and SQLite result
// codes (*sqlite.Error: CONSTRAINT_UNIQUE/PRIMARYKEY, BUSY, LOCKED, CANTOPEN,
// IOERR). Sentinels (storage.ErrAlreadyExists, ErrUnavailable...) wrap the
// driver's error with %w, so errors.As still finds it.
//
// sqlstore imports only the storage package of oidcd. Nothing in oidcd but
// the command (cmd/oidcd) and tests should import sqlstore.
package sqlstore
