package sqlstore

import (
	"context"
	"time"

	"github.com/oidcd/oidcd/storage"
)

const sessionCols = `hash, id, user_id, auth_time, created_at, expires_at`

// CreateSession implements storage.Sessions.
func (s *Store) CreateSession(ctx context.Context, ss *storage.Session) error {
	if err := checkHash(ss.Hash); err != nil {
		return err
	}
	_, err := s.writer().exec(ctx, `INSERT INTO sessions (`+sessionCols+`) VALUES (?, ?, ?, ?, ?, ?)`,
		ss.Hash, ss.ID, ss.UserID, timeArg(ss.AuthTime), timeArg(ss.CreatedAt), timeArg(ss.ExpiresAt))
	return s.wrapErr("create session", err)
}

// Session implements storage.Sessions. A zero ExpiresAt counts as expired.
func (s *Store) Session(ctx context.Context, hash []byte, now time.Time) (*storage.Session, error) {
	if len(hash) == 0 {
		return nil, notFound("session")
	}
	var ss storage.Session
	err := s.reader().row(ctx, `SELECT `+sessionCols+` FROM sessions WHERE hash = ? AND expires_at > ?`,
		hash, now.UnixMicro()).Scan(&ss.Hash, &ss.ID, &ss.UserID,
		timeCol{&ss.AuthTime}, timeCol{&ss.CreatedAt}, timeCol{&ss.ExpiresAt})
	if err != nil {
		return nil, s.wrapErr("session", err)
	}
	return &ss, nil
}

// DeleteSession implements storage.Sessions.
func (s *Store) DeleteSession(ctx context.Context, hash []byte) error {
	if len(hash) == 0 {
		return nil
	}
	_, err := s.writer().exec(ctx, `DELETE FROM sessions WHERE hash = ?`, hash)
	return s.wrapErr("delete session", err)
}

// DeleteUserSessions implements storage.Sessions.
func (s *Store) DeleteUserSessions(ctx context.Context, userID string) error {
	if err := checkID("user", userID); err != nil {
		return err
	}
	_, err := s.writer().exec(ctx, `DELETE FROM sessions WHERE user_id = ?`, userID)
	return s.wrapErr("delete user sessions", err)
}

// ListSessions implements storage.Sessions.
func (s *Store) ListSessions(ctx context.Context, q storage.SessionQuery, now time.Time) ([]*storage.Session, error) {
	query := `SELECT s.hash, s.id, s.user_id, s.auth_time, s.created_at, s.expires_at FROM sessions s WHERE s.expires_at > ?`
	args := []any{now.UnixMicro()}
	if q.UserID != "" {
		query += ` AND s.user_id = ?`
		args = append(args, q.UserID)
	}
	if q.ID != "" {
		query += ` AND s.id = ?`
		args = append(args, q.ID)
	}
	if q.ClientID != "" {
		query += ` AND s.id IN (SELECT session_id FROM session_clients WHERE client_id = ?)`
		args = append(args, q.ClientID)
	}
	rows, err := s.reader().rows(ctx, query+` ORDER BY s.created_at DESC, s.id`, args...)
	if err != nil {
		return nil, s.wrapErr("list sessions", err)
	}
	defer rows.Close()
	var out []*storage.Session
	for rows.Next() {
		var ss storage.Session
		if err := rows.Scan(&ss.Hash, &ss.ID, &ss.UserID, timeCol{&ss.AuthTime}, timeCol{&ss.CreatedAt}, timeCol{&ss.ExpiresAt}); err != nil {
			return nil, s.wrapErr("list sessions", err)
		}
		out = append(out, &ss)
	}
	return out, s.wrapErr("list sessions", rows.Err())
}

// DeleteSessionByID implements storage.Sessions.
func (s *Store) DeleteSessionByID(ctx context.Context, id string) error {
	if unmatchable(id) {
		return notFound("delete session by id")
	}
	n, err := s.writer().execN(ctx, `DELETE FROM sessions WHERE id = ?`, id)
	if err != nil {
		return s.wrapErr("delete session by id", err)
	}
	if n == 0 {
		return notFound("delete session by id")
	}
	return nil
}
