package sqlstore

import (
	"context"
	"errors"
	"sync"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/oidcd/oidcd/storage"
)

// Group commit of CreateGrant (PostgreSQL). Under load most of the cost of
// issuing a token on PostgreSQL is per statement, on both sides: the
// round trip (a write and a read on each end, and the wake-ups of the
// backend and of our goroutine) and PostgreSQL's own work per transaction
// (snapshot, locks, the commit record and its WAL flush). The grants that
// queue up while the flushers are busy are written by one statement
// (insertGrantsQuery: every grant and every token of the batch, autocommitted
// as one transaction), so they share that cost. A few flushers run side by
// side, so that one batch's round trip and commit overlap with the next.
//
// Each caller keeps its own outcome: if the combined statement fails (a
// duplicate, a client deleted meanwhile, a serialization failure), nothing
// of it was stored, and every caller of the batch runs its own statement
// (createGrantOneStatement), which fails or succeeds for it alone. A grant
// is acknowledged only once the statement that holds it has committed. On
// a broken connection the outcome is unknown, and every caller of the batch
// gets ErrUnavailable.

// grantFlushers is how many combined statements may be in flight at once,
// so that one batch's round trip and commit overlap the next. With wrk on
// the two-core benchmark machine, 1, 2 and 4 gave the same token rate
// within the noise; 8 and 16 made batches smaller, PostgreSQL busier and
// the rate lower.
const grantFlushers = 2

// grantBatcher is the Store's CreateGrant group-commit state (PostgreSQL
// only; nil elsewhere).
type grantBatcher struct {
	jobs     chan *grantJob
	codes    chan *codeJob // code redemptions with their grants (codebatch.go)
	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
}

type grantJob struct {
	ctx    context.Context
	g      *storage.Grant
	tokens []*storage.Token
	done   chan error // buffered: flushers never block on it
}

// errRunAlone tells a caller that the combined statement holding its grant
// failed, so that nothing of it was stored: it runs its own statement.
var errRunAlone = errors.New("sqlstore: run the grant on its own")

func (s *Store) startGrantBatcher() {
	s.gb = &grantBatcher{jobs: make(chan *grantJob), codes: make(chan *codeJob), stop: make(chan struct{})}
	for range grantFlushers {
		s.gb.wg.Add(2)
		go runFlusher(s.gb, s.gb.jobs, s.flushGrants)
		go runFlusher(s.gb, s.gb.codes, s.flushCodes)
	}
}

// stopGrantBatcher may be called more than once (Close is idempotent).
func (s *Store) stopGrantBatcher() {
	if s.gb == nil {
		return
	}
	s.gb.stopOnce.Do(func() { close(s.gb.stop) })
	s.gb.wg.Wait()
}

// createGrantBatched submits a grant to the flushers and waits for its
// outcome.
func (s *Store) createGrantBatched(ctx context.Context, g *storage.Grant, tokens []*storage.Token) error {
	job := &grantJob{ctx: ctx, g: g, tokens: tokens, done: make(chan error, 1)}
	select {
	case s.gb.jobs <- job:
	case <-s.gb.stop:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.awaitGrant(job)
}

// awaitGrant waits for a submitted job. Once submitted the job runs to its
// end, whatever its ctx does, so that the caller never reports a failure for
// a grant that was committed. A job sent back (errRunAlone) was not stored:
// its own statement runs under the caller's ctx, as without batching.
func (s *Store) awaitGrant(job *grantJob) error {
	err := <-job.done
	if err == errRunAlone {
		return s.createGrantOneStatement(job.ctx, job.g, job.tokens)
	}
	return err
}

// runFlusher hands flush the batches of jobs until the batcher stops.
func runFlusher[J any](gb *grantBatcher, jobs <-chan J, flush func([]J)) {
	defer gb.wg.Done()
	for {
		batch, ok := nextBatch(jobs, gb.stop)
		if !ok {
			return
		}
		flush(batch)
	}
}

// nextBatch waits for a job, then takes those already queued behind it, up
// to maxBatch; ok is false once stop is closed.
func nextBatch[J any](jobs <-chan J, stop <-chan struct{}) (batch []J, ok bool) {
	select {
	case j := <-jobs:
		batch = append(batch, j)
	case <-stop:
		return nil, false
	}
	for len(batch) < maxBatch {
		select {
		case j := <-jobs:
			batch = append(batch, j)
		default:
			return batch, true
		}
	}
	return batch, true
}

// flushGrants writes a batch and gives every job its outcome. Statements
// never see a caller's cancellation: one caller giving up must not take the
// others' grants with it.
func (s *Store) flushGrants(batch []*grantJob) {
	if len(batch) == 1 {
		j := batch[0]
		j.done <- s.createGrantOneStatement(context.WithoutCancel(j.ctx), j.g, j.tokens)
		return
	}
	err := s.insertGrants(batch)
	var out error
	switch {
	case err == nil:
	case isUnavailable(err):
		// The connection broke: whether the statement committed is
		// unknown, so running each grant again could report a stored
		// grant as a duplicate. Every caller sees the outage, as a lone
		// statement's caller would.
		out = s.wrapErr("create grant", err)
	default:
		out = errRunAlone
	}
	for _, j := range batch {
		j.done <- out
	}
}

// insertGrantsQuery writes any number of grants and their tokens in one
// statement, one array per column: its text is the same for every batch,
// so PostgreSQL parses and plans it once per connection (pgx caches the
// prepared statement). Foreign keys are checked at the end of the
// statement, when the grants exist.
const insertGrantsQuery = `WITH g AS (INSERT INTO grants (` + grantCols + `)
	SELECT * FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[],
		?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[], ?::text[], ?::text[], ?::text[]))
	INSERT INTO tokens (` + tokenCols + `)
	SELECT * FROM unnest(?::bytea[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[],
		?::bigint[], ?::bigint[], ?::bigint[], ?::text[], ?::text[])`

func (s *Store) insertGrants(batch []*grantJob) error {
	rows := make([]grantRows, len(batch))
	for i, j := range batch {
		rows[i] = grantRows{j.g, j.tokens}
	}
	gargs, targs := appendGrantArrays(nil, nil, rows)
	_, err := s.writer().exec(context.Background(), insertGrantsQuery, append(gargs, targs...)...)
	return err
}

// appendGrantArrays appends the grants of rows as 14 arrays, one per column
// of grantCols, to gargs, and their tokens as 11 arrays, one per column of
// tokenCols, to targs.
func appendGrantArrays(gargs, targs []any, rows []grantRows) ([]any, []any) {
	n, nt := len(rows), 0
	for _, r := range rows {
		nt += len(r.tokens)
	}
	gs := newColumns[string](7, n)
	gt := newColumns[pgtype.Int8](4, n)
	gs2 := newColumns[string](3, n)
	th := make([][]byte, 0, nt)
	ts := newColumns[string](5, nt)
	tt := newColumns[pgtype.Int8](3, nt)
	ts2 := newColumns[string](2, nt)
	for _, r := range rows {
		g := r.g
		gs.add(g.ID, g.ClientID, g.UserID, g.SessionID, scopeArg(g.Scope), g.Claims, g.Nonce)
		gt.add(int8Arg(g.AuthTime), int8Arg(g.CreatedAt), int8Arg(g.ExpiresAt), int8Arg(g.RevokedAt))
		gs2.add(g.Actor, scopeArg(g.Resources), g.ClaimsLocales)
		for _, t := range r.tokens {
			th = append(th, t.Hash)
			ts.add(string(t.Kind), t.GrantID, t.ClientID, t.UserID, scopeArg(t.Scope))
			tt.add(int8Arg(t.CreatedAt), int8Arg(t.ExpiresAt), int8Arg(t.UsedAt))
			ts2.add(scopeArg(t.Audience), t.JKT)
		}
	}
	gargs = gs.appendTo(gargs)
	gargs = gt.appendTo(gargs)
	gargs = gs2.appendTo(gargs)
	targs = append(targs, th)
	targs = ts.appendTo(targs)
	targs = tt.appendTo(targs)
	targs = ts2.appendTo(targs)
	return gargs, targs
}

// columns holds the arrays of a few columns of one type, row by row.
type columns[T any] [][]T

func newColumns[T any](cols, rows int) columns[T] {
	c := make(columns[T], cols)
	for i := range c {
		c[i] = make([]T, 0, rows)
	}
	return c
}

func (c columns[T]) add(row ...T) {
	for i, v := range row {
		c[i] = append(c[i], v)
	}
}

func (c columns[T]) appendTo(args []any) []any {
	for _, col := range c {
		args = append(args, col)
	}
	return args
}
