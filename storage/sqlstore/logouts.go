package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/oidcd/oidcd/storage"
)

// AddSessionClient implements storage.Logouts.
func (s *Store) AddSessionClient(ctx context.Context, sc *storage.SessionClient) error {
	if err := checkID("session", sc.SessionID); err != nil {
		return err
	}
	if err := checkID("client", sc.ClientID); err != nil {
		return err
	}
	if err := checkText("user id", sc.UserID); err != nil {
		return err
	}
	_, err := s.writer().exec(ctx, `INSERT INTO session_clients (session_id, client_id, user_id, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (session_id, client_id) DO UPDATE SET expires_at = excluded.expires_at`,
		sc.SessionID, sc.ClientID, sc.UserID, timeArg(sc.CreatedAt), timeArg(sc.ExpiresAt))
	return s.wrapErr("add session client", err)
}

// TakeSessionClients implements storage.Logouts: one DELETE … RETURNING, so
// each row goes to exactly one caller on either database.
func (s *Store) TakeSessionClients(ctx context.Context, sessionID string, now time.Time) ([]*storage.SessionClient, error) {
	if sessionID == "" {
		return nil, errors.New("sqlstore: take session clients: empty session id")
	}
	if unmatchable(sessionID) {
		return nil, nil
	}
	var out []*storage.SessionClient
	err := s.inTx(ctx, func(c conn) error {
		out = nil
		rows, err := c.rows(ctx, `DELETE FROM session_clients WHERE session_id = ?
			RETURNING session_id, client_id, user_id, created_at, expires_at`, sessionID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var sc storage.SessionClient
			if err := rows.Scan(&sc.SessionID, &sc.ClientID, &sc.UserID, timeCol{&sc.CreatedAt}, timeCol{&sc.ExpiresAt}); err != nil {
				return err
			}
			if sc.ExpiresAt.After(now) {
				out = append(out, &sc)
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, s.wrapErr("take session clients", err)
	}
	return out, nil
}

const logoutCols = `id, client_id, uri, subject, session_id, attempts, next_attempt_at,
	lease_until, last_error, created_at, expires_at`

func scanLogout(r scanner) (*storage.LogoutMessage, error) {
	var m storage.LogoutMessage
	err := r.Scan(&m.ID, &m.ClientID, &m.URI, &m.Subject, &m.SessionID, &m.Attempts,
		timeCol{&m.NextAttemptAt}, timeCol{&m.LeaseUntil}, &m.LastError,
		timeCol{&m.CreatedAt}, timeCol{&m.ExpiresAt})
	if err != nil {
		return nil, err
	}
	return &m, nil
}

// EnqueueLogouts implements storage.Logouts.
func (s *Store) EnqueueLogouts(ctx context.Context, msgs ...*storage.LogoutMessage) error {
	for _, m := range msgs {
		if err := checkID("logout message", m.ID); err != nil {
			return err
		}
		if err := checkID("client", m.ClientID); err != nil {
			return err
		}
		for _, v := range []string{m.URI, m.Subject, m.SessionID, m.LastError} {
			if err := checkText("logout message", v); err != nil {
				return err
			}
		}
		if m.NextAttemptAt.IsZero() {
			return fmt.Errorf("sqlstore: logout message %s has no NextAttemptAt", m.ID)
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	err := s.inTx(ctx, func(c conn) error {
		for _, m := range msgs {
			if _, err := c.exec(ctx, `INSERT INTO logout_messages (`+logoutCols+`)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				m.ID, m.ClientID, m.URI, m.Subject, m.SessionID, m.Attempts, timeArg(m.NextAttemptAt),
				timeArg(m.LeaseUntil), m.LastError, timeArg(m.CreatedAt), timeArg(m.ExpiresAt)); err != nil {
				return err
			}
		}
		return nil
	})
	return s.wrapErr("enqueue logouts", err)
}

// LeaseLogout implements storage.Logouts. The claim is one conditional
// UPDATE … RETURNING whose WHERE repeats the due-and-unleased test: on
// PostgreSQL the subquery skips rows other nodes are claiming (FOR UPDATE
// SKIP LOCKED) and the re-checked condition rejects a row whose lease was
// just taken; on SQLite writers are serialised. A node that dies holding a
// lease loses nothing: the row becomes due again when the lease lapses.
func (s *Store) LeaseLogout(ctx context.Context, now, until time.Time) (*storage.LogoutMessage, error) {
	ts := now.UnixMicro()
	m, err := scanLogout(s.writer().row(ctx, `UPDATE logout_messages
		SET lease_until = ?, attempts = attempts + 1
		WHERE id = (SELECT id FROM logout_messages
				WHERE next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?)
				ORDER BY next_attempt_at, id LIMIT 1`+s.d.skipLocked+`)
			AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?)
		RETURNING `+logoutCols, until.UnixMicro(), ts, ts, ts, ts))
	if err != nil {
		return nil, s.wrapErr("lease logout", err)
	}
	return m, nil
}

// RetryLogout implements storage.Logouts.
func (s *Store) RetryLogout(ctx context.Context, id string, next time.Time, lastError string) error {
	if err := checkText("last error", lastError); err != nil {
		lastError = "(unprintable error)"
	}
	n, err := s.writer().execN(ctx, `UPDATE logout_messages SET lease_until = NULL, next_attempt_at = ?, last_error = ?
		WHERE id = ?`, next.UnixMicro(), lastError, id)
	if err != nil {
		return s.wrapErr("retry logout", err)
	}
	if n == 0 {
		return notFound("retry logout")
	}
	return nil
}

// DeleteLogout implements storage.Logouts.
func (s *Store) DeleteLogout(ctx context.Context, id string) error {
	_, err := s.writer().exec(ctx, `DELETE FROM logout_messages WHERE id = ?`, id)
	return s.wrapErr("delete logout", err)
}

// LogoutMessages implements storage.Logouts.
func (s *Store) LogoutMessages(ctx context.Context) ([]*storage.LogoutMessage, error) {
	rows, err := s.reader().rows(ctx, `SELECT `+logoutCols+` FROM logout_messages ORDER BY created_at NULLS FIRST, id`)
	if err != nil {
		return nil, s.wrapErr("logout messages", err)
	}
	defer rows.Close()
	var out []*storage.LogoutMessage
	for rows.Next() {
		m, err := scanLogout(rows)
		if err != nil {
			return nil, s.wrapErr("logout messages", err)
		}
		out = append(out, m)
	}
	return out, s.wrapErr("logout messages", rows.Err())
}
