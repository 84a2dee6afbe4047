package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/oidcd/oidcd/storage"
)

const codeCols = `hash, grant_id, client_id, user_id, session_id, redirect_uri, scope, nonce,
	claims, code_challenge, code_challenge_method, auth_time, created_at, expires_at, consumed_at, dpop_jkt, resources,
	claims_locales`

func scanCode(r scanner) (*storage.AuthCode, error) {
	var c storage.AuthCode
	err := r.Scan(&c.Hash, &c.GrantID, &c.ClientID, &c.UserID, &c.SessionID, &c.RedirectURI,
		scopeCol{&c.Scope}, &c.Nonce, &c.Claims, &c.CodeChallenge, &c.CodeChallengeMethod,
		timeCol{&c.AuthTime}, timeCol{&c.CreatedAt}, timeCol{&c.ExpiresAt}, timeCol{&c.ConsumedAt}, &c.DPoPJKT, scopeCol{&c.Resources},
		&c.ClaimsLocales)
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// CreateCode implements storage.Codes. The code's client must exist.
func (s *Store) CreateCode(ctx context.Context, c *storage.AuthCode) error {
	if err := checkHash(c.Hash); err != nil {
		return err
	}
	if err := checkScope(c.Scope); err != nil {
		return err
	}
	if err := checkScope(c.Resources); err != nil {
		return err
	}
	_, err := s.writer().exec(ctx, `INSERT INTO codes (`+codeCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.Hash, c.GrantID, c.ClientID, c.UserID, c.SessionID, c.RedirectURI, scopeArg(c.Scope),
		c.Nonce, c.Claims, c.CodeChallenge, c.CodeChallengeMethod, timeArg(c.AuthTime),
		timeArg(c.CreatedAt), timeArg(c.ExpiresAt), timeArg(c.ConsumedAt), c.DPoPJKT, scopeArg(c.Resources),
		c.ClaimsLocales)
	return s.wrapErr("create code", err)
}

// Code implements storage.Codes.
func (s *Store) Code(ctx context.Context, hash []byte, now time.Time) (*storage.AuthCode, error) {
	if len(hash) == 0 {
		return nil, notFound("code")
	}
	c, err := scanCode(s.reader().row(ctx, `SELECT `+codeCols+` FROM codes WHERE hash = ? AND expires_at > ?`, hash, now.UnixMicro()))
	if err != nil {
		return nil, s.wrapErr("code", err) // ErrNoRows → ErrNotFound
	}
	return c, nil
}

// ConsumeCode implements storage.Codes (SECURITY B3, B4).
//
// The claim is one conditional UPDATE … RETURNING: on either database only one
// caller can move consumed_at from NULL, whatever the number of processes. The
// grant and tokens of the winner are inserted in the same transaction (on
// PostgreSQL in the same statement). A zero
// ExpiresAt counts as expired. The losers read the row to tell a replay
// (ErrReused: the code's grant is revoked) from an unknown or expired code.
func (s *Store) ConsumeCode(ctx context.Context, hash []byte, now time.Time, g *storage.Grant, tokens ...*storage.Token) (*storage.AuthCode, error) {
	if len(hash) == 0 {
		return nil, notFound("consume code")
	}
	if g != nil {
		if err := s.checkGrant(g, tokens); err != nil {
			return nil, err
		}
	}
	ts := now.UnixMicro()
	var won *storage.AuthCode
	var err error
	if g != nil && s.gb != nil {
		won, err = s.consumeCodeBatched(ctx, hash, ts, g, tokens)
	} else {
		err = s.inTx(ctx, func(tx conn) error {
			c, err := scanCode(tx.row(ctx, `UPDATE codes SET consumed_at = ?
				WHERE hash = ? AND consumed_at IS NULL AND expires_at > ?
				RETURNING `+codeCols, ts, hash, ts))
			if err != nil {
				return err
			}
			if g != nil {
				if err := s.insertGrant(ctx, tx, g, tokens); err != nil {
					return err
				}
			}
			won = c
			return nil
		})
	}
	if err == nil {
		return won, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, s.wrapErr("consume code", err)
	}

	c, err := scanCode(s.writer().row(ctx, `SELECT `+codeCols+` FROM codes WHERE hash = ?`, hash))
	if err != nil {
		return nil, s.wrapErr("consume code", err) // ErrNoRows → ErrNotFound
	}
	if c.ConsumedAt.IsZero() {
		return nil, notFound("consume code") // expired, never used
	}
	// Replay: revoke the grant the code was exchanged for (RFC 6749 §4.1.2).
	defer s.forgetGrant(c.GrantID)
	if err := s.inTx(ctx, func(tx conn) error { return s.revokeCodeGrant(ctx, tx, c, now) }); err != nil {
		return c, err
	}
	return c, errorf("consume code: %w", storage.ErrReused)
}

// revokeCodeGrant revokes the grant named by a replayed code and deletes its
// tokens. If the grant does not exist yet (the replay raced the first
// redemption's CreateGrant) it leaves a revoked row under that id, so the
// CreateGrant that follows fails with ErrAlreadyExists instead of creating a
// live grant for a replayed code. The upsert also covers the case where that
// CreateGrant commits first: its grant is then revoked.
func (s *Store) revokeCodeGrant(ctx context.Context, c conn, code *storage.AuthCode, now time.Time) error {
	if code.GrantID == "" {
		return nil
	}
	ts := now.UnixMicro()
	_, err := c.exec(ctx, `INSERT INTO grants (id, client_id, user_id, session_id, scope, claims,
			nonce, auth_time, created_at, expires_at, revoked_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET revoked_at = COALESCE(grants.revoked_at, excluded.revoked_at)`,
		code.GrantID, code.ClientID, code.UserID, code.SessionID, scopeArg(code.Scope), code.Claims,
		code.Nonce, timeArg(code.AuthTime), ts, timeArg(code.ExpiresAt), ts)
	if err != nil {
		return s.wrapErr("revoke grant of reused code", err)
	}
	if _, err := c.exec(ctx, `DELETE FROM tokens WHERE grant_id = ?`, code.GrantID); err != nil {
		return s.wrapErr("revoke grant of reused code", err)
	}
	return nil
}
