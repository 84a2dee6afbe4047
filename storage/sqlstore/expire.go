package sqlstore

import (
	"context"
	"time"
)

// DeleteExpired implements storage.Storage. It removes:
// codes, device authorizations, tokens, sessions and consents whose ExpiresAt is at or before now (or
// zero, which counts as expired); grants whose non-zero ExpiresAt is at or
// before now, with their tokens; revoked grants that no remaining code names
// (while a code names a revoked grant the row blocks a replayed code's grant
// from being created again); throttle failures older than their window; session clients and logout
// messages past their ExpiresAt (a message is then given up); audit records
// older than the SetAuditExpire duration, when one is set. Each
// is a plain conditional DELETE in its own transaction, so several nodes may
// run it at once and no long write lock is held. It returns the number of rows
// removed.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time) (int64, error) {
	defer s.forgetAll()
	ts := now.UnixMicro()
	var total int64
	for _, q := range []string{
		`DELETE FROM codes WHERE expires_at IS NULL OR expires_at <= ?`,
		`DELETE FROM device_auths WHERE expires_at IS NULL OR expires_at <= ?`,
		`DELETE FROM tokens WHERE expires_at IS NULL OR expires_at <= ?`,
		`DELETE FROM tokens WHERE grant_id IN (SELECT id FROM grants WHERE expires_at <= ?)`,
		`DELETE FROM grants WHERE expires_at <= ?`,
		`DELETE FROM tokens WHERE grant_id IN (SELECT id FROM grants WHERE revoked_at IS NOT NULL)`,
		`DELETE FROM grants WHERE revoked_at IS NOT NULL
				AND NOT EXISTS (SELECT 1 FROM codes WHERE codes.grant_id = grants.id)`,
		`DELETE FROM sessions WHERE expires_at IS NULL OR expires_at <= ?`,
		`DELETE FROM consents WHERE expires_at IS NULL OR expires_at <= ?`,
		`DELETE FROM throttle_failures WHERE expires_at <= ?`,
		`DELETE FROM registration_tokens WHERE expires_at <= ?`,
		`DELETE FROM used_once WHERE expires_at <= ?`,
		`DELETE FROM pushed_requests WHERE expires_at <= ?`,
		`DELETE FROM session_clients WHERE expires_at IS NULL OR expires_at <= ?`,
		`DELETE FROM logout_messages WHERE expires_at IS NULL OR expires_at <= ?`,
	} {
		var args []any
		if countParams(q) == 1 {
			args = []any{ts}
		}
		n, err := s.writer().execN(ctx, q, args...)
		if err != nil && s.d.isRetryable(err) { // PostgreSQL deadlock with another node's run
			n, err = s.writer().execN(ctx, q, args...)
		}
		if err != nil {
			return total, s.wrapErr("delete expired", err)
		}
		total += n
	}
	if d := time.Duration(s.auditExpire.Load()); d > 0 {
		n, err := s.writer().execN(ctx, `DELETE FROM audit_log WHERE at <= ?`, now.Add(-d).UnixMicro())
		if err != nil && s.d.isRetryable(err) {
			n, err = s.writer().execN(ctx, `DELETE FROM audit_log WHERE at <= ?`, now.Add(-d).UnixMicro())
		}
		if err != nil {
			return total, s.wrapErr("delete expired audit records", err)
		}
		total += n
	}
	return total, nil
}

func countParams(q string) int {
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
		}
	}
	return n
}
