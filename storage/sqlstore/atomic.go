package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/oidcd/oidcd/storage"
)

// errInAtomically is returned by the methods that make no sense on the
// store Atomically hands out (Close, Migrate, SetPool).
var errInAtomically = newError("not available inside Atomically")

// Atomically runs fn with a storage.Storage whose every method runs inside
// one write transaction: what fn writes is committed together when fn
// returns nil, and nothing of it is when fn returns an error (fn's error is
// returned). Bulk operations that must be all or nothing, such as
// importing another provider's database, use it.
//
// Each method that runs several statements runs them in a savepoint, so a
// method that fails (ErrAlreadyExists, ErrNotFound) leaves the transaction
// usable on PostgreSQL as well; single-statement writes are not wrapped, so
// fn should read before it writes rather than rely on a failing insert.
// fn must not use s itself while it runs (on SQLite the transaction holds
// s's only writer connection), and on PostgreSQL fn may run again if the
// transaction is chosen as a deadlock victim, so it must start from scratch.
func (s *Store) Atomically(ctx context.Context, fn func(tx storage.Storage) error) error {
	defer s.forgetAll()
	if s.txc != nil {
		return newError("Atomically inside Atomically")
	}
	return s.inTx(ctx, func(c conn) error {
		return fn(&Store{d: s.d, txc: &c, savepoints: new(atomic.Int64)})
	})
}

// inSavepoint runs fn on the surrounding transaction of an Atomically
// store, rolled back to a savepoint if fn fails.
func (s *Store) inSavepoint(ctx context.Context, fn func(c conn) error) error {
	c := *s.txc
	ctx = c.ctx(ctx)
	name := fmt.Sprintf("atomic_%d", s.savepoints.Add(1))
	if _, err := c.tx.ExecContext(ctx, "SAVEPOINT "+name); err != nil {
		return s.wrapErr("savepoint", err)
	}
	ferr := fn(c)
	var ce errCommitted
	if ferr != nil && !errors.As(ferr, &ce) {
		if _, err := c.tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT "+name); err != nil {
			return errors.Join(ferr, s.wrapErr("rollback to savepoint", err))
		}
	}
	if _, err := c.tx.ExecContext(ctx, "RELEASE SAVEPOINT "+name); err != nil {
		return errors.Join(ferr, s.wrapErr("release savepoint", err))
	}
	if ferr != nil && errors.As(ferr, &ce) {
		return ce.err
	}
	return ferr
}
