package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/oidcd/oidcd/storage"
)

// Device authorizations (RFC 8628). Every change is one conditional UPDATE,
// so that of concurrent callers on any number of nodes exactly one moves a
// row from one state to the next.

const deviceCols = `device_code_hash, user_code_hash, client_id, scope, status, grant_id, user_id,
	session_id, auth_time, interval_us, created_at, expires_at, last_polled_at, consumed_at, resources`

func scanDeviceAuth(r scanner) (*storage.DeviceAuth, error) {
	var d storage.DeviceAuth
	var status string
	var interval int64
	err := r.Scan(&d.DeviceCodeHash, &d.UserCodeHash, &d.ClientID, scopeCol{&d.Scope}, &status,
		&d.GrantID, &d.UserID, &d.SessionID, timeCol{&d.AuthTime}, &interval, timeCol{&d.CreatedAt},
		timeCol{&d.ExpiresAt}, timeCol{&d.LastPolledAt}, timeCol{&d.ConsumedAt}, scopeCol{&d.Resources})
	if err != nil {
		return nil, err
	}
	d.Status = storage.DeviceStatus(status)
	d.Interval = time.Duration(interval) * time.Microsecond
	return &d, nil
}

// slowDownStep is what every too-early poll adds to the interval (RFC 8628 §3.5).
const slowDownStep = 5 * time.Second

// CreateDeviceAuth implements storage.DeviceAuths.
func (s *Store) CreateDeviceAuth(ctx context.Context, d *storage.DeviceAuth) error {
	if err := checkHash(d.DeviceCodeHash); err != nil {
		return err
	}
	if err := checkHash(d.UserCodeHash); err != nil {
		return err
	}
	if err := checkScope(d.Scope); err != nil {
		return err
	}
	if err := checkScope(d.Resources); err != nil {
		return err
	}
	status := d.Status
	if status == "" {
		status = storage.DevicePending
	}
	_, err := s.writer().exec(ctx, `INSERT INTO device_auths (`+deviceCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		d.DeviceCodeHash, d.UserCodeHash, d.ClientID, scopeArg(d.Scope), string(status), d.GrantID,
		d.UserID, d.SessionID, timeArg(d.AuthTime), d.Interval.Microseconds(), timeArg(d.CreatedAt),
		timeArg(d.ExpiresAt), timeArg(d.LastPolledAt), timeArg(d.ConsumedAt), scopeArg(d.Resources))
	return s.wrapErr("create device authorization", err)
}

// DeviceAuthByUserCode implements storage.DeviceAuths.
func (s *Store) DeviceAuthByUserCode(ctx context.Context, userCodeHash []byte, now time.Time) (*storage.DeviceAuth, error) {
	if len(userCodeHash) == 0 {
		return nil, notFound("device authorization")
	}
	d, err := scanDeviceAuth(s.reader().row(ctx, `SELECT `+deviceCols+` FROM device_auths
		WHERE user_code_hash = ? AND expires_at > ?`, userCodeHash, now.UnixMicro()))
	if err != nil {
		return nil, s.wrapErr("device authorization", err)
	}
	return d, nil
}

// DecideDeviceAuth implements storage.DeviceAuths.
func (s *Store) DecideDeviceAuth(ctx context.Context, userCodeHash []byte, now time.Time, dec storage.DeviceDecision) error {
	if len(userCodeHash) == 0 {
		return notFound("decide device authorization")
	}
	status := storage.DeviceDenied
	if dec.Approved {
		status = storage.DeviceApproved
	}
	n, err := s.writer().execN(ctx, `UPDATE device_auths SET status = ?, user_id = ?, session_id = ?, auth_time = ?
		WHERE user_code_hash = ? AND status = ? AND expires_at > ?`,
		string(status), dec.UserID, dec.SessionID, timeArg(dec.AuthTime),
		userCodeHash, string(storage.DevicePending), now.UnixMicro())
	if err != nil {
		return s.wrapErr("decide device authorization", err)
	}
	if n == 0 {
		return notFound("decide device authorization")
	}
	return nil
}

// PollDeviceAuth implements storage.DeviceAuths. The row is read and
// updated in one transaction with the row locked (PostgreSQL) or the
// writer held (SQLite), so two nodes answering polls of one device agree on
// the interval.
func (s *Store) PollDeviceAuth(ctx context.Context, deviceCodeHash []byte, now time.Time) (*storage.DeviceAuth, bool, error) {
	if len(deviceCodeHash) == 0 {
		return nil, false, notFound("poll device authorization")
	}
	var out *storage.DeviceAuth
	var tooSoon bool
	err := s.inTx(ctx, func(c conn) error {
		d, err := scanDeviceAuth(c.row(ctx, `SELECT `+deviceCols+` FROM device_auths
			WHERE device_code_hash = ?`+s.d.lockRow, deviceCodeHash))
		if err != nil {
			return s.wrapErr("poll device authorization", err)
		}
		tooSoon = !d.LastPolledAt.IsZero() && now.Sub(d.LastPolledAt) < d.Interval
		if tooSoon {
			d.Interval += slowDownStep
		}
		d.LastPolledAt = time.UnixMicro(now.UnixMicro()).UTC()
		if _, err := c.exec(ctx, `UPDATE device_auths SET last_polled_at = ?, interval_us = ?
			WHERE device_code_hash = ?`, timeArg(d.LastPolledAt), d.Interval.Microseconds(), deviceCodeHash); err != nil {
			return s.wrapErr("poll device authorization", err)
		}
		out = d
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return out, tooSoon, nil
}

// ConsumeDeviceAuth implements storage.DeviceAuths (SECURITY L5, M1): one
// conditional UPDATE … RETURNING claims the row, and the grant is inserted
// in the same transaction.
func (s *Store) ConsumeDeviceAuth(ctx context.Context, deviceCodeHash []byte, now time.Time, g *storage.Grant, tokens ...*storage.Token) (*storage.DeviceAuth, error) {
	if len(deviceCodeHash) == 0 {
		return nil, notFound("consume device authorization")
	}
	if g != nil {
		if err := s.checkGrant(g, tokens); err != nil {
			return nil, err
		}
	}
	ts := now.UnixMicro()
	var won *storage.DeviceAuth
	err := s.inTx(ctx, func(c conn) error {
		d, err := scanDeviceAuth(c.row(ctx, `UPDATE device_auths SET consumed_at = ?
			WHERE device_code_hash = ? AND status = ? AND consumed_at IS NULL AND expires_at > ?
			RETURNING `+deviceCols, ts, deviceCodeHash, string(storage.DeviceApproved), ts))
		if err != nil {
			return err
		}
		if g != nil {
			if err := s.insertGrant(ctx, c, g, tokens); err != nil {
				return err
			}
		}
		won = d
		return nil
	})
	if err == nil {
		return won, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, s.wrapErr("consume device authorization", err)
	}
	d, err := scanDeviceAuth(s.writer().row(ctx, `SELECT `+deviceCols+` FROM device_auths
		WHERE device_code_hash = ?`, deviceCodeHash))
	if err != nil {
		return nil, s.wrapErr("consume device authorization", err)
	}
	if !d.ConsumedAt.IsZero() {
		return d, errorf("consume device authorization: %w", storage.ErrReused)
	}
	return nil, notFound("consume device authorization")
}
