package sqlstore

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/oidcd/oidcd/storage"
)

// Group commit (SQLite). Every write transaction on SQLite runs on the one
// writer connection, and most of its cost is the commit itself (writing the
// WAL frames). The batcher runs the transactions that queue up while one
// commits inside a single transaction, so they share one commit. Each keeps
// its own outcome: the bodies first run one after another with nothing
// between them; if one fails, that attempt is rolled back whole and the
// batch runs again with each body in a savepoint of its own, so that only
// the failed body's writes are undone and only its caller sees the error.
// (Savepoints cost a third of a token's write, so they are kept for the
// batches that need them; bodies are written to run more than once, as
// PostgreSQL's retries already ask.) In the first run, the grants of every
// CreateGrant of the batch are inserted together, one multi-row INSERT per
// table (insertGrantRows), before the other bodies. A failed commit fails
// every body of the batch. Nothing is acknowledged before the commit that
// holds it.

// maxBatch bounds how many transactions share one commit.
const maxBatch = 64

// gatherYields is how many times, at most, the writer yields its core to let
// more transactions queue before it starts a batch that is not yet full; it
// stops at the first yield that brought none. Under load this doubles the
// average batch (about 8 to 17-19 transactions per commit at 64
// connections), which halves the commits; with nothing else to run a yield
// returns at once, so a lone transaction does not wait.
const gatherYields = 3

// batcher is the Store's group-commit state.
type batcher struct {
	jobs          chan *txJob
	stop, stopped chan struct{}
	stopOnce      sync.Once
	batches       atomic.Int64 // batches begun, for tests
	retried       atomic.Int64 // batches run again with savepoints, for tests
	grouped       atomic.Int64 // grants inserted by insertGrantRows, for tests
}

type txJob struct {
	ctx  context.Context
	fn   func(c conn) error
	done chan error
	// grant, when set, is what fn inserts (CreateGrant): a batch without
	// savepoints inserts the grants of all such jobs with one statement
	// per table (insertGrantRows) instead of two statements per job.
	grant *grantRows
}

// grantRows is a grant and its tokens, as CreateGrant stores them.
type grantRows struct {
	g      *storage.Grant
	tokens []*storage.Token
}

// errClosed is returned for transactions submitted after Close.
var errClosed = newError("store is closed")

// startBatcher starts the writer goroutine; stopBatcher ends it.
func (s *Store) startBatcher() {
	s.jobs = make(chan *txJob)
	s.stop = make(chan struct{})
	s.stopped = make(chan struct{})
	go s.batchLoop()
}

// stopBatcher may be called more than once (Close is idempotent).
func (s *Store) stopBatcher() {
	if s.jobs == nil {
		return
	}
	s.stopOnce.Do(func() { close(s.stop) })
	<-s.stopped
}

// inBatch submits fn and waits for the commit that holds it.
func (s *Store) inBatch(ctx context.Context, fn func(c conn) error) error {
	return s.submit(ctx, &txJob{ctx: ctx, fn: fn, done: make(chan error, 1)})
}

// submit queues job for the writer and waits for the commit that holds it.
func (s *Store) submit(ctx context.Context, job *txJob) error {
	select {
	case s.jobs <- job:
	case <-s.stop:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once submitted the job runs to its end, whatever ctx does, so that the
	// caller never reports a failure for a write that was committed.
	return <-job.done
}

func (s *Store) batchLoop() {
	defer close(s.stopped)
	for {
		var batch []*txJob
		select {
		case j := <-s.jobs:
			batch = append(batch, j)
		case <-s.stop:
			return
		}
		yields, before := 0, 0
	more:
		for len(batch) < maxBatch {
			select {
			case j := <-s.jobs:
				batch = append(batch, j)
			default:
				// A yield that brought nothing means the other goroutines
				// are not about to write: waiting longer would only delay
				// this batch behind them.
				if yields == gatherYields || (yields > 0 && len(batch) == before) {
					break more
				}
				yields++
				before = len(batch)
				runtime.Gosched()
			}
		}
		s.runBatch(batch)
		s.ck.restart()
	}
}

func (s *Store) runBatch(batch []*txJob) {
	s.batches.Add(1)
	results := make([]error, len(batch))
	committed := make([]bool, len(batch)) // the body asked for its writes to be kept
	failed, err := s.tryBatch(batch, false, results, committed)
	if failed && len(batch) > 1 {
		s.retried.Add(1)
		clear(results)
		clear(committed)
		_, err = s.tryBatch(batch, true, results, committed)
	}
	for i, j := range batch {
		switch {
		case err != nil && (committed[i] || results[i] == nil):
			j.done <- s.wrapErr("transaction", err)
		default:
			j.done <- results[i]
		}
	}
}

// tryBatch runs the bodies of batch in one transaction, each in a savepoint
// of its own if savepoints is set, and commits. Without savepoints the first
// failed body rolls everything back and tryBatch reports failed, for the
// caller to run the batch again with them. err is the transaction's own
// error (begin, savepoint, commit), which fails every body that succeeded.
func (s *Store) tryBatch(batch []*txJob, savepoints bool, results []error, committed []bool) (failed bool, err error) {
	defer s.wc.preparePending(context.Background())
	tx, err := s.w.BeginTx(context.Background(), nil)
	if err != nil {
		return false, errorf("begin: %w", err)
	}
	defer tx.Rollback()
	// Statements never see a caller's cancellation: an interrupted
	// statement inside a transaction rolls the whole transaction back,
	// which would take the other bodies of the batch with it.
	c := conn{q: tx, d: s.d, sc: s.wc, tx: tx, detached: true, obs: s.obs}
	// The savepoint statements are prepared once, like every other
	// statement (preparing cost as much as running them).
	bctx := context.Background()
	if !savepoints {
		// Grants first, all at once: no body of the batch can depend on
		// them, since their callers learn nothing before the commit.
		var grants []*grantRows
		for _, j := range batch {
			if j.grant != nil {
				grants = append(grants, j.grant)
			}
		}
		if len(grants) > 1 {
			if err := s.insertGrantRows(bctx, c, grants); err != nil {
				return true, nil // one of them fails: each alone, with savepoints
			}
			for i, j := range batch {
				committed[i] = j.grant != nil
			}
			s.grouped.Add(int64(len(grants)))
		}
	}
	for i, j := range batch {
		if committed[i] {
			continue // inserted with the other grants
		}
		if savepoints {
			if _, err := c.exec(bctx, "SAVEPOINT batch_job"); err != nil {
				return false, errorf("savepoint: %w", err)
			}
		}
		ferr := runBody(j.fn, c)
		var ce errCommitted
		switch {
		case ferr == nil:
			committed[i] = true
		case errors.As(ferr, &ce):
			committed[i], results[i] = true, ce.err
		default:
			results[i] = ferr
			if !savepoints {
				return true, nil // the deferred rollback undoes the batch
			}
			if _, err := c.exec(bctx, "ROLLBACK TO batch_job"); err != nil {
				return false, errorf("rollback to savepoint: %w", err)
			}
		}
		if savepoints {
			if _, err := c.exec(bctx, "RELEASE batch_job"); err != nil {
				return false, errorf("release savepoint: %w", err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return false, errorf("commit: %w", err)
	}
	s.ck.poke()
	return false, nil
}

// runBody runs one transaction body, turning a panic into an error so that
// the writer goroutine survives it.
func runBody(fn func(c conn) error, c conn) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = errorf("panic in transaction: %v", v)
		}
	}()
	return fn(c)
}
