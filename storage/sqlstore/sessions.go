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
