package sqlstore

import (
	"context"
	"fmt"
	"time"
)

// DeleteExpired implements storage.Storage. It removes:
// codes, device authorizations, tokens, sessions and consents whose ExpiresAt is at or before now (or
// zero, which counts as expired); grants whose non-zero ExpiresAt is at or
// before now, with their tokens; revoked grants that no remaining code names
// (while a code names a revoked grant the row blocks a replayed code's grant
// from being created again); throttle failures older than their window; session clients and logout
// messages past their ExpiresAt (a message is then given up); audit records
// older than the SetAuditExpire duration, when one is set. Each statement
// removes at most expireChunk rows in a transaction of its own (see
// expireChunk), so several nodes may run it at once and no long write lock
// is held. It returns the number of rows removed.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time) (int64, error) {
	defer s.forgetAll()
	ts := now.UnixMicro()
	var total int64
	for _, q := range expireQueries {
		n, err := s.deleteChunks(ctx, q, ts)
		total += n
		if err != nil {
			return total, s.wrapErr("delete expired", err)
		}
	}
	if d := time.Duration(s.auditExpire.Load()); d > 0 {
		n, err := s.deleteChunks(ctx, expireAudit, now.Add(-d).UnixMicro())
		total += n
		if err != nil {
			return total, s.wrapErr("delete expired audit records", err)
		}
	}
	return total, nil
}

// expireChunk bounds the rows one DELETE of DeleteExpired removes. A single
// DELETE of every expired row held SQLite's one writer for as long as it
// took: 300,000 expired tokens (five minutes of a thousand a second, between
// two runs) stopped every token's write for 2.7 s. A chunk takes a few
// milliseconds, and the writes queued meanwhile commit between two chunks.
// On PostgreSQL it keeps each transaction, its locks and its WAL small.
const expireChunk = 1000

// expireQuery deletes up to expireChunk rows of table, found by its key
// columns, that match where (with at most one parameter, the time).
type expireQuery string

func expireDelete(table, key, where string) expireQuery {
	return expireQuery(fmt.Sprintf("DELETE FROM %s WHERE (%s) IN (SELECT %s FROM %s WHERE %s LIMIT %d)",
		table, key, key, table, where, expireChunk))
}

// An expired grant's tokens go with it (ON DELETE CASCADE), one chunk of
// grants at a time; the expired tokens are deleted first, so that few are
// left to cascade to. (A DELETE of the tokens whose grant has expired
// gathered every expired grant first, a scan of the whole backlog in one
// statement.) A revoked grant that a code still names is kept, so its
// tokens are deleted on their own.
var (
	expireQueries = []expireQuery{
		expireDelete("codes", "hash", "expires_at IS NULL OR expires_at <= ?"),
		expireDelete("device_auths", "device_code_hash", "expires_at IS NULL OR expires_at <= ?"),
		expireDelete("tokens", "hash", "expires_at IS NULL OR expires_at <= ?"),
		expireDelete("grants", "id", "expires_at <= ?"),
		expireDelete("tokens", "hash", "grant_id IN (SELECT id FROM grants WHERE revoked_at IS NOT NULL)"),
		expireDelete("grants", "id", "revoked_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM codes WHERE codes.grant_id = grants.id)"),
		expireDelete("sessions", "hash", "expires_at IS NULL OR expires_at <= ?"),
		expireDelete("consents", "user_id, client_id", "expires_at IS NULL OR expires_at <= ?"),
		expireDelete("throttle_failures", "id", "expires_at <= ?"),
		expireDelete("registration_tokens", "hash", "expires_at <= ?"),
		expireDelete("used_once", "key", "expires_at <= ?"),
		expireDelete("pushed_requests", "hash", "expires_at <= ?"),
		expireDelete("session_clients", "session_id, client_id", "expires_at IS NULL OR expires_at <= ?"),
		expireDelete("logout_messages", "id", "expires_at IS NULL OR expires_at <= ?"),
	}
	expireAudit = expireDelete("audit_log", "id", "at <= ?")
)

// deleteChunks runs q until a run removes fewer than expireChunk rows, each
// run in a transaction of its own, and returns the rows removed.
func (s *Store) deleteChunks(ctx context.Context, q expireQuery, ts int64) (int64, error) {
	var args []any
	if countParams(string(q)) == 1 {
		args = []any{ts}
	}
	var total int64
	for {
		n, err := s.writer().execN(ctx, string(q), args...)
		if err != nil && s.d.isRetryable(err) { // PostgreSQL deadlock with another node's run
			n, err = s.writer().execN(ctx, string(q), args...)
		}
		total += n
		if err != nil || n < expireChunk {
			return total, err
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
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
