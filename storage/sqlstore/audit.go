package sqlstore

import (
	"context"

	"github.com/oidcd/oidcd/storage"
)

const auditCols = `id, at, actor_id, actor, ip, action, target, detail`

// AddAuditRecord implements storage.Audit.
func (s *Store) AddAuditRecord(ctx context.Context, r *storage.AuditRecord) error {
	if err := checkID("audit record", r.ID); err != nil {
		return err
	}
	_, err := s.writer().exec(ctx, `INSERT INTO audit_log (`+auditCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.At.UnixMicro(), r.ActorID, r.Actor, r.IP, r.Action, r.Target, r.Detail)
	return s.wrapErr("add audit record", err)
}

// AuditRecords implements storage.Audit.
func (s *Store) AuditRecords(ctx context.Context, q storage.AuditQuery) ([]*storage.AuditRecord, error) {
	query := `SELECT ` + auditCols + ` FROM audit_log WHERE 1 = 1`
	var args []any
	for _, f := range []struct{ col, v string }{{"action", q.Action}, {"target", q.Target}, {"actor_id", q.ActorID}} {
		if f.v != "" {
			query += ` AND ` + f.col + ` = ?`
			args = append(args, f.v)
		}
	}
	if !q.Before.IsZero() {
		query += ` AND (at < ? OR at = ? AND id < ?)`
		args = append(args, q.Before.UnixMicro(), q.Before.UnixMicro(), q.BeforeID)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.reader().rows(ctx, query+` ORDER BY at DESC, id DESC LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, s.wrapErr("audit records", err)
	}
	defer rows.Close()
	var out []*storage.AuditRecord
	for rows.Next() {
		var r storage.AuditRecord
		if err := rows.Scan(&r.ID, timeCol{&r.At}, &r.ActorID, &r.Actor, &r.IP, &r.Action, &r.Target, &r.Detail); err != nil {
			return nil, s.wrapErr("audit records", err)
		}
		out = append(out, &r)
	}
	return out, s.wrapErr("audit records", rows.Err())
}
