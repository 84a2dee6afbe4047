package sqlstore

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"time"
)

// Keys are stored as bytes, so any string works on both databases.
//
// Failures are one row each. AddFailure is a reservation: callers record the
// attempt before they check the secret and act on the count it returns
// (SECURITY L7, docs/security.md), so concurrent calls for one key must see
// distinct counts. On SQLite the single writer serialises them; on PostgreSQL
// a transaction-scoped advisory lock per key does, across every node. A row
// is kept until its time plus the window it was recorded with (now − since)
// has passed; DeleteExpired then removes it.

// throttleLockKey is the PostgreSQL advisory lock of one throttle key.
func throttleLockKey(key string) int64 {
	h := sha256.Sum256([]byte("oidcd throttle\x00" + key))
	return int64(binary.BigEndian.Uint64(h[:8]))
}

// AddFailure implements storage.Throttle. It also prunes the key's failures
// older than since, so a key under attack keeps at most one window of rows.
func (s *Store) AddFailure(ctx context.Context, key string, now, since time.Time) (int, error) {
	at, from := now.UnixMicro(), since.UnixMicro()
	expires := at + max(at-from, 0)
	var n int
	err := s.inTx(ctx, func(c conn) error {
		if s.d.name == "postgres" {
			// READ COMMITTED would let concurrent transactions miss each
			// other's uncommitted rows and return the same count.
			if _, err := c.exec(ctx, `SELECT pg_advisory_xact_lock(?)`, throttleLockKey(key)); err != nil {
				return s.wrapErr("add failure", err)
			}
		}
		if _, err := c.exec(ctx, `INSERT INTO throttle_failures (key, at, expires_at) VALUES (?, ?, ?)`,
			[]byte(key), at, expires); err != nil {
			return s.wrapErr("add failure", err)
		}
		if _, err := c.exec(ctx, `DELETE FROM throttle_failures WHERE key = ? AND at < ?`, []byte(key), from); err != nil {
			return s.wrapErr("add failure", err)
		}
		return s.wrapErr("add failure", c.row(ctx,
			`SELECT COUNT(*) FROM throttle_failures WHERE key = ? AND at >= ?`, []byte(key), from).Scan(&n))
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// ReleaseFailure implements storage.Throttle: it removes one failure of key
// recorded at exactly at (a reservation that turned out to be a success).
func (s *Store) ReleaseFailure(ctx context.Context, key string, at time.Time) error {
	_, err := s.writer().exec(ctx, `DELETE FROM throttle_failures WHERE id = (
		SELECT id FROM throttle_failures WHERE key = ? AND at = ? ORDER BY id LIMIT 1)`,
		[]byte(key), at.UnixMicro())
	return s.wrapErr("release failure", err)
}

// Failures implements storage.Throttle.
func (s *Store) Failures(ctx context.Context, key string, since time.Time) (int, error) {
	var n int
	err := s.reader().row(ctx, `SELECT COUNT(*) FROM throttle_failures WHERE key = ? AND at >= ?`,
		[]byte(key), since.UnixMicro()).Scan(&n)
	if err != nil {
		return 0, s.wrapErr("failures", err)
	}
	return n, nil
}

// ResetFailures implements storage.Throttle.
func (s *Store) ResetFailures(ctx context.Context, key string) error {
	_, err := s.writer().exec(ctx, `DELETE FROM throttle_failures WHERE key = ?`, []byte(key))
	return s.wrapErr("reset failures", err)
}
