package sqlstore

import (
	"context"
	"encoding/json"
	"time"

	"github.com/oidcd/oidcd/storage"
)

// metadataArg is the JSON of a client's registration metadata (the
// metadata column).
func metadataArg(m storage.ClientMetadata) string {
	b, _ := json.Marshal(m) // strings, bools and string slices always marshal
	return string(b)
}

// metadataCol scans the metadata column.
type metadataCol struct{ m *storage.ClientMetadata }

func (c metadataCol) Scan(src any) error {
	*c.m = storage.ClientMetadata{}
	return scanJSON(src, "metadata", c.m)
}

// CreateRegistrationToken implements storage.RegistrationTokens.
func (s *Store) CreateRegistrationToken(ctx context.Context, t *storage.RegistrationToken) error {
	if err := checkHash(t.Hash); err != nil {
		return err
	}
	if t.UsesLeft < 0 {
		return errorf("registration token with %d uses", t.UsesLeft)
	}
	_, err := s.writer().exec(ctx, `INSERT INTO registration_tokens (hash, uses_left, created_at, expires_at)
		VALUES (?, ?, ?, ?)`, t.Hash, t.UsesLeft, timeArg(t.CreatedAt), t.ExpiresAt.UnixMicro())
	return s.wrapErr("create registration token", err)
}

// RegistrationToken implements storage.RegistrationTokens.
func (s *Store) RegistrationToken(ctx context.Context, hash []byte, now time.Time) (*storage.RegistrationToken, error) {
	if len(hash) == 0 {
		return nil, notFound("registration token")
	}
	var t storage.RegistrationToken
	var exp int64
	err := s.reader().row(ctx, `SELECT hash, uses_left, created_at, expires_at FROM registration_tokens
		WHERE hash = ? AND expires_at > ? AND uses_left >= 0`, hash, now.UnixMicro()).
		Scan(&t.Hash, &t.UsesLeft, timeCol{&t.CreatedAt}, &exp)
	if err != nil {
		return nil, s.wrapErr("registration token", err)
	}
	t.ExpiresAt = time.UnixMicro(exp).UTC()
	return &t, nil
}

// UseRegistrationToken implements storage.RegistrationTokens: one
// conditional update, so concurrent uses on any node never exceed the
// limit. A used-up token stays (uses_left -1) until it expires.
func (s *Store) UseRegistrationToken(ctx context.Context, hash []byte, now time.Time) error {
	if len(hash) == 0 {
		return notFound("use registration token")
	}
	n, err := s.writer().execN(ctx, `UPDATE registration_tokens
		SET uses_left = CASE uses_left WHEN 0 THEN 0 WHEN 1 THEN -1 ELSE uses_left - 1 END
		WHERE hash = ? AND expires_at > ? AND uses_left >= 0`, hash, now.UnixMicro())
	if err != nil {
		return s.wrapErr("use registration token", err)
	}
	if n == 0 {
		return notFound("use registration token")
	}
	return nil
}

// UseOnce implements storage.Replays with one upsert: a new key is
// inserted, an expired one taken over, a live one left alone (no row
// changed), atomically on SQLite and PostgreSQL.
func (s *Store) UseOnce(ctx context.Context, key []byte, now, expiresAt time.Time) error {
	if err := checkHash(key); err != nil {
		return err
	}
	n, err := s.writer().execN(ctx, `INSERT INTO used_once (key, expires_at) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at
		WHERE used_once.expires_at <= ?`, key, expiresAt.UnixMicro(), now.UnixMicro())
	if err != nil {
		return s.wrapErr("use once", err)
	}
	if n == 0 {
		return errorf("use once: %w", storage.ErrReused)
	}
	return nil
}

// Recorded implements storage.ReplayLookups.
func (s *Store) Recorded(ctx context.Context, key []byte, now time.Time) (bool, error) {
	if err := checkHash(key); err != nil {
		return false, err
	}
	var n int
	err := s.reader().row(ctx, `SELECT count(*) FROM used_once WHERE key = ? AND expires_at > ?`, key, now.UnixMicro()).Scan(&n)
	if err != nil {
		return false, s.wrapErr("recorded", err)
	}
	return n > 0, nil
}

// CreatePushedRequest implements storage.PushedRequests.
func (s *Store) CreatePushedRequest(ctx context.Context, r *storage.PushedRequest) error {
	if err := checkHash(r.Hash); err != nil {
		return err
	}
	if err := checkID("client", r.ClientID); err != nil {
		return err
	}
	_, err := s.writer().exec(ctx, `INSERT INTO pushed_requests (hash, client_id, params, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?)`, r.Hash, r.ClientID, r.Params, timeArg(r.CreatedAt), r.ExpiresAt.UnixMicro())
	return s.wrapErr("create pushed request", err)
}

// PushedRequest implements storage.PushedRequests.
func (s *Store) PushedRequest(ctx context.Context, hash []byte, now time.Time) (*storage.PushedRequest, error) {
	if len(hash) == 0 {
		return nil, notFound("pushed request")
	}
	var r storage.PushedRequest
	var exp int64
	err := s.reader().row(ctx, `SELECT hash, client_id, params, created_at, expires_at FROM pushed_requests
		WHERE hash = ? AND expires_at > ?`, hash, now.UnixMicro()).
		Scan(&r.Hash, &r.ClientID, &r.Params, timeCol{&r.CreatedAt}, &exp)
	if err != nil {
		return nil, s.wrapErr("pushed request", err)
	}
	r.ExpiresAt = time.UnixMicro(exp).UTC()
	return &r, nil
}

// ConsumePushedRequest implements storage.PushedRequests: one conditional
// delete, so one caller wins on any node.
func (s *Store) ConsumePushedRequest(ctx context.Context, hash []byte, now time.Time) error {
	if len(hash) == 0 {
		return notFound("consume pushed request")
	}
	n, err := s.writer().execN(ctx, `DELETE FROM pushed_requests WHERE hash = ? AND expires_at > ?`, hash, now.UnixMicro())
	if err != nil {
		return s.wrapErr("consume pushed request", err)
	}
	if n == 0 {
		return notFound("consume pushed request")
	}
	return nil
}
