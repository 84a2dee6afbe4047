package sqlstore

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"

	"github.com/oidcd/oidcd/storage"
)

// The system secret seals signing keys and client secrets. A check value
// of it (a MAC the caller computes) is kept in the database, so that a
// database is never opened, and never written, with another secret than the
// one its data was sealed with (docs/security.md "System secret"). These
// methods belong to the oidcd server's own database; the library's storage
// interfaces do not need them.

// SecretCheck returns the stored check value, or an error wrapping
// storage.ErrNotFound when none is stored yet.
func (s *Store) SecretCheck(ctx context.Context) ([]byte, error) {
	var v []byte
	err := s.reader().row(ctx, `SELECT value FROM secret_check WHERE id = 1`).Scan(&v)
	if err != nil {
		return nil, s.wrapErr("secret check", err)
	}
	return v, nil
}

// SetSecretCheck stores the check value when none is stored; when one is,
// it succeeds only if it is the same (ErrAlreadyExists otherwise), so two
// processes starting together with different secrets cannot both win.
func (s *Store) SetSecretCheck(ctx context.Context, check []byte) error {
	return s.inTx(ctx, func(c conn) error {
		if _, err := c.exec(ctx, `INSERT INTO secret_check (id, value) VALUES (1, ?) ON CONFLICT (id) DO NOTHING`, check); err != nil {
			return s.wrapErr("set secret check", err)
		}
		var v []byte
		if err := c.row(ctx, `SELECT value FROM secret_check WHERE id = 1`).Scan(&v); err != nil {
			return s.wrapErr("set secret check", err)
		}
		if subtle.ConstantTimeCompare(v, check) != 1 {
			return fmt.Errorf("sqlstore: a different secret check value is stored: %w", storage.ErrAlreadyExists)
		}
		return nil
	})
}

// SealedValue is one value sealed with the system secret: a signing key's
// private key or a client's secret, with the additional data it was sealed
// with.
type SealedValue struct {
	Kind   string // "signing-key" or "client-secret"
	ID     string // the key id or client id
	AAD    []byte // what it was sealed with: Kind + ":" + ID
	Sealed []byte
}

// HasSealedData reports whether the database holds any value sealed with
// the system secret.
func (s *Store) HasSealedData(ctx context.Context) (bool, error) {
	var n int
	err := s.reader().row(ctx, `SELECT (SELECT COUNT(*) FROM signing_keys WHERE private_sealed IS NOT NULL)
		+ (SELECT COUNT(*) FROM clients WHERE secret_sealed IS NOT NULL)`).Scan(&n)
	if err != nil {
		return false, s.wrapErr("has sealed data", err)
	}
	return n > 0, nil
}

// ErrSecretCheckChanged means another process changed the check value
// during a Reseal.
var ErrSecretCheckChanged = errors.New("sqlstore: the secret check value changed meanwhile")

// Reseal replaces, in one transaction, every sealed value by what reseal
// returns for it and the check value oldCheck by newCheck. If reseal fails
// for any value, or the stored check value is not oldCheck, nothing changes.
// It returns how many values it re-sealed.
func (s *Store) Reseal(ctx context.Context, oldCheck, newCheck []byte, reseal func(SealedValue) ([]byte, error)) (int, error) {
	var n int
	err := s.inTx(ctx, func(c conn) error {
		n = 0
		var vals []SealedValue
		for _, q := range []struct{ kind, sel string }{
			{"signing-key", `SELECT id, private_sealed FROM signing_keys WHERE private_sealed IS NOT NULL ORDER BY id`},
			{"client-secret", `SELECT id, secret_sealed FROM clients WHERE secret_sealed IS NOT NULL ORDER BY id`},
		} {
			rows, err := c.rows(ctx, q.sel)
			if err != nil {
				return s.wrapErr("reseal", err)
			}
			for rows.Next() {
				v := SealedValue{Kind: q.kind}
				if err := rows.Scan(&v.ID, &v.Sealed); err != nil {
					rows.Close()
					return s.wrapErr("reseal", err)
				}
				v.AAD = []byte(v.Kind + ":" + v.ID)
				vals = append(vals, v)
			}
			if err := rows.Close(); err != nil {
				return s.wrapErr("reseal", err)
			}
			if err := rows.Err(); err != nil {
				return s.wrapErr("reseal", err)
			}
		}
		for _, v := range vals {
			if len(v.Sealed) == 0 {
				continue
			}
			out, err := reseal(v)
			if err != nil {
				return fmt.Errorf("sqlstore: reseal %s %s: %w", v.Kind, v.ID, err)
			}
			q := `UPDATE signing_keys SET private_sealed = ? WHERE id = ?`
			if v.Kind == "client-secret" {
				q = `UPDATE clients SET secret_sealed = ? WHERE id = ?`
			}
			if _, err := c.exec(ctx, q, out, v.ID); err != nil {
				return s.wrapErr("reseal", err)
			}
			n++
		}
		k, err := c.execN(ctx, `UPDATE secret_check SET value = ? WHERE id = 1 AND value = ?`, newCheck, oldCheck)
		if err != nil {
			return s.wrapErr("reseal", err)
		}
		if k != 1 {
			return ErrSecretCheckChanged
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}
