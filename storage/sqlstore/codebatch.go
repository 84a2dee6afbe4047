package sqlstore

import (
	"context"
	"database/sql"
	"strings"

	"github.com/oidcd/oidcd/storage"
)

// Code redemptions with their grants (PostgreSQL). A code exchange redeems
// its code and stores the grant and tokens it is exchanged for in one
// statement (consumeCodesQuery), one round trip instead of five (BEGIN,
// UPDATE, two INSERTs, COMMIT), which PostgreSQL runs as its own
// transaction. Under load most of that statement's cost is PostgreSQL's
// work per transaction, its commit and WAL flush above all, as for
// CreateGrant (grantbatch.go), so the redemptions that queue up while the
// flushers are busy share the statement: one conditional UPDATE of all
// their codes, then the grants of the codes it took and the tokens of those
// grants.
//
// Single use holds as for one code: the UPDATE takes a code only while its
// consumed_at is NULL, and a grant is inserted only for a code the UPDATE
// took. Two redemptions of the same code never share a statement (the
// UPDATE would take the code once and both grants would join it): the
// second waits for the statement holding the first, then finds the code
// used, as it would have on its own. A caller whose code was not taken gets
// sql.ErrNoRows and tells a replay from an unknown code as before. If the
// statement fails, nothing of it was stored and every caller runs its own
// statement; on a broken connection every caller gets ErrUnavailable.

// codeJob is one ConsumeCode with a grant, waiting for a flusher.
type codeJob struct {
	ctx    context.Context
	hash   []byte
	ts     int64 // now, in Unix microseconds
	g      *storage.Grant
	tokens []*storage.Token
	done   chan codeOutcome // buffered: flushers never block on it
}

type codeOutcome struct {
	code *storage.AuthCode
	err  error
}

// consumeCodeBatched submits a redemption to the flushers and waits for its
// outcome. As with grants, a submitted job runs to its end whatever its ctx
// does, and one sent back (errRunAlone) runs its own statement.
func (s *Store) consumeCodeBatched(ctx context.Context, hash []byte, ts int64, g *storage.Grant, tokens []*storage.Token) (*storage.AuthCode, error) {
	job := &codeJob{ctx: ctx, hash: hash, ts: ts, g: g, tokens: tokens, done: make(chan codeOutcome, 1)}
	select {
	case s.gb.codes <- job:
	case <-s.gb.stop:
		return nil, errClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	out := <-job.done
	if out.err == errRunAlone {
		return s.redeemAlone(ctx, job)
	}
	return out.code, out.err
}

// redeemAlone runs one redemption in a statement of its own, again if
// PostgreSQL asks for a retry, and returns its code or sql.ErrNoRows.
func (s *Store) redeemAlone(ctx context.Context, j *codeJob) (*storage.AuthCode, error) {
	var won map[string]*storage.AuthCode
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		if won, err = s.consumeCodes(ctx, []*codeJob{j}); err == nil || !s.d.isRetryable(err) || ctx.Err() != nil {
			break
		}
	}
	switch {
	case err != nil:
		return nil, err
	case won[string(j.hash)] == nil:
		return nil, sql.ErrNoRows
	}
	return won[string(j.hash)], nil
}

// flushCodes redeems a batch and gives every job its outcome: first the
// jobs whose codes differ, in one statement, then the rest, after it has
// committed. Statements never see a caller's cancellation.
func (s *Store) flushCodes(batch []*codeJob) {
	for len(batch) > 0 {
		var now, later []*codeJob
		seen := make(map[string]bool, len(batch))
		for _, j := range batch {
			if seen[string(j.hash)] {
				later = append(later, j)
				continue
			}
			seen[string(j.hash)] = true
			now = append(now, j)
		}
		s.redeemCodes(now)
		batch = later
	}
}

// redeemCodes runs the jobs of distinct codes: one alone, as it would
// without batching; more in one statement.
func (s *Store) redeemCodes(jobs []*codeJob) {
	if len(jobs) == 1 {
		j := jobs[0]
		c, err := s.redeemAlone(context.WithoutCancel(j.ctx), j)
		j.done <- codeOutcome{c, err}
		return
	}
	won, err := s.consumeCodes(context.Background(), jobs)
	for _, j := range jobs {
		switch {
		case err == nil && won[string(j.hash)] != nil:
			j.done <- codeOutcome{code: won[string(j.hash)]}
		case err == nil:
			j.done <- codeOutcome{err: sql.ErrNoRows}
		case isUnavailable(err):
			j.done <- codeOutcome{err: err} // ConsumeCode wraps it
		default:
			j.done <- codeOutcome{err: errRunAlone}
		}
	}
}

// consumeCodesQuery redeems the codes of a batch (r: each code's hash and
// its caller's time), inserts the grants of the codes it took (joined on
// code_hash) and the tokens of the grants it inserted. The codes' columns
// are qualified in the UPDATE, whose FROM list has a hash column too.
var consumeCodesQuery = `WITH r AS (SELECT * FROM unnest(?::bytea[], ?::bigint[]) AS r (hash, ts)),
	c AS (UPDATE codes SET consumed_at = r.ts FROM r
		WHERE codes.hash = r.hash AND codes.consumed_at IS NULL AND codes.expires_at > r.ts
		RETURNING ` + qualify("codes.", codeCols) + `),
	g AS (INSERT INTO grants (` + grantCols + `)
		SELECT ` + qualify("u.", grantCols) + ` FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[],
			?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[], ?::text[], ?::text[], ?::text[], ?::bytea[])
			AS u (` + grantCols + `, code_hash)
		JOIN c ON c.hash = u.code_hash
		RETURNING id),
	t AS (INSERT INTO tokens (` + tokenCols + `)
		SELECT u.* FROM unnest(?::bytea[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[],
			?::bigint[], ?::bigint[], ?::bigint[], ?::text[], ?::text[]) AS u (` + tokenCols + `)
		JOIN g ON g.id = u.grant_id)
	SELECT ` + codeCols + ` FROM c`

// consumeCodes runs consumeCodesQuery for jobs of distinct codes and
// returns the codes it took, by hash.
func (s *Store) consumeCodes(ctx context.Context, jobs []*codeJob) (map[string]*storage.AuthCode, error) {
	hashes := make([][]byte, len(jobs))
	times := make([]int64, len(jobs))
	rows := make([]grantRows, len(jobs))
	for i, j := range jobs {
		hashes[i], times[i], rows[i] = j.hash, j.ts, grantRows{j.g, j.tokens}
	}
	gargs, targs := appendGrantArrays(make([]any, 0, 28), nil, rows)
	args := append([]any{hashes, times}, gargs...)
	args = append(append(args, hashes), targs...)
	res, err := s.writer().rows(ctx, consumeCodesQuery, args...)
	if err != nil {
		return nil, err
	}
	defer res.Close()
	won := make(map[string]*storage.AuthCode, len(jobs))
	for res.Next() {
		c, err := scanCode(res)
		if err != nil {
			return nil, err
		}
		won[string(c.Hash)] = c
	}
	return won, res.Err()
}

// qualify prefixes every name of a comma-separated column list.
func qualify(prefix, cols string) string {
	names := strings.Split(cols, ",")
	for i, n := range names {
		names[i] = prefix + strings.TrimSpace(n)
	}
	return strings.Join(names, ", ")
}
