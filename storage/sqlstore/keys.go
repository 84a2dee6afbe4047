package sqlstore

import (
	"context"
	"time"

	"github.com/oidcd/oidcd/storage"
)

const keyCols = `id, alg, private_sealed, created_at, retired_at, activates_at`

// CreateKey implements storage.Keys.
func (s *Store) CreateKey(ctx context.Context, k *storage.SigningKey) error {
	if err := checkID("key", k.ID); err != nil {
		return err
	}
	_, err := s.writer().exec(ctx, `INSERT INTO signing_keys (`+keyCols+`) VALUES (?, ?, ?, ?, ?, ?)`,
		k.ID, k.Alg, blobArg(k.PrivateSealed), timeArg(k.CreatedAt), timeArg(k.RetiredAt), timeArg(k.ActivatesAt))
	return s.wrapErr("create key", err)
}

// CreateFirstKey implements storage.Keys: one INSERT … SELECT … WHERE NOT
// EXISTS, inside a transaction that excludes other writers (SQLite: BEGIN
// IMMEDIATE) or other CreateFirstKey calls (PostgreSQL: a transaction-scoped
// advisory lock, since READ COMMITTED alone would let two inserts through).
func (s *Store) CreateFirstKey(ctx context.Context, k *storage.SigningKey) (bool, error) {
	if err := checkID("key", k.ID); err != nil {
		return false, err
	}
	var created bool
	err := s.inTx(ctx, func(c conn) error {
		if s.d.lockFirstKey != "" {
			if _, err := c.exec(ctx, s.d.lockFirstKey); err != nil {
				return s.wrapErr("create first key", err)
			}
		}
		// Casts give PostgreSQL the parameter types a SELECT list lacks.
		n, err := c.execN(ctx, `INSERT INTO signing_keys (`+keyCols+`)
			SELECT CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS `+s.d.blobType+`), CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS BIGINT)
			WHERE NOT EXISTS (SELECT 1 FROM signing_keys)`,
			k.ID, k.Alg, blobArg(k.PrivateSealed), timeArg(k.CreatedAt), timeArg(k.RetiredAt), timeArg(k.ActivatesAt))
		if err != nil {
			return s.wrapErr("create first key", err)
		}
		created = n == 1
		return nil
	})
	return created, err
}

// ListKeys implements storage.Keys.
func (s *Store) ListKeys(ctx context.Context) ([]*storage.SigningKey, error) {
	rows, err := s.reader().rows(ctx, `SELECT `+keyCols+` FROM signing_keys
		ORDER BY created_at DESC NULLS LAST, id DESC`)
	if err != nil {
		return nil, s.wrapErr("list keys", err)
	}
	defer rows.Close()
	var out []*storage.SigningKey
	for rows.Next() {
		var k storage.SigningKey
		if err := rows.Scan(&k.ID, &k.Alg, &k.PrivateSealed, timeCol{&k.CreatedAt}, timeCol{&k.RetiredAt}, timeCol{&k.ActivatesAt}); err != nil {
			return nil, s.wrapErr("list keys", err)
		}
		out = append(out, &k)
	}
	return out, s.wrapErr("list keys", rows.Err())
}

// RetireKey implements storage.Keys.
func (s *Store) RetireKey(ctx context.Context, id string, at time.Time) error {
	n, err := s.writer().execN(ctx, `UPDATE signing_keys SET retired_at = ? WHERE id = ? AND retired_at IS NULL`,
		at.UnixMicro(), id)
	if err != nil {
		return s.wrapErr("retire key", err)
	}
	if n == 0 {
		return notFound("retire key")
	}
	return nil
}

// DeleteKey implements storage.Keys.
func (s *Store) DeleteKey(ctx context.Context, id string) error {
	n, err := s.writer().execN(ctx, `DELETE FROM signing_keys WHERE id = ?`, id)
	if err != nil {
		return s.wrapErr("delete key", err)
	}
	if n == 0 {
		return notFound("delete key")
	}
	return nil
}
