package sqlstore

import (
	"context"
	"time"
)

// Keys are stored as bytes, so any string works on both databases.
//
// Failures are one row each, so concurrent AddFailure calls cannot lose an
// increment on either database: every call inserts its own row and counts.
// A row is kept until its time plus the window it was recorded with
// (now − since) has passed; DeleteExpired then removes it.

// AddFailure implements storage.Throttle. It also prunes the key's failures
// older than since, so a key under attack keeps at most one window of rows.
func (s *Store) AddFailure(ctx context.Context, key string, now, since time.Time) (int, error) {
	at, from := now.UnixMicro(), since.UnixMicro()
	expires := at + max(at-from, 0)
	var n int
	err := s.inTx(ctx, func(c conn) error {
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
