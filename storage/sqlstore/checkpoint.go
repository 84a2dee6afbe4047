package sqlstore

import (
	"context"
	"database/sql"
	"sync"
	"time"
)

// Checkpoints (SQLite). In WAL mode a commit appends pages to the WAL file
// and a checkpoint copies them back into the database file. By default
// SQLite runs that checkpoint inside the commit that takes the WAL past
// 1000 pages: on the one writer connection, so that commit, and every
// transaction queued behind it, waits for the copy and its two fsyncs (a
// fifth of the writer's time in the token endpoint's profile). The writer
// turns automatic checkpoints off (wal_autocheckpoint=0) and the
// checkpointer runs them on a connection of its own, after commits and at
// most every checkpointInterval, beside the writer: a PASSIVE checkpoint,
// the kind SQLite runs itself, copies what no reader still needs and never
// waits for or blocks the writer. Durability is unchanged: a commit is in
// the WAL before it is acknowledged, whenever its pages are copied.

// checkpointInterval is the shortest time between two checkpoints.
const checkpointInterval = 100 * time.Millisecond

type checkpointer struct {
	db   *sql.DB // one connection, used only for checkpoints
	wake chan struct{}
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

func newCheckpointer(db *sql.DB) *checkpointer {
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxIdleTime(0)
	db.SetConnMaxLifetime(0)
	c := &checkpointer{db: db, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go c.loop()
	return c
}

// poke asks for a checkpoint soon; it never waits.
func (c *checkpointer) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *checkpointer) loop() {
	defer close(c.done)
	for {
		select {
		case <-c.stop:
			return
		case <-c.wake:
		}
		// A checkpoint that fails (a full disk, say) leaves the pages in
		// the WAL, where every reader still finds them; the next commit's
		// poke tries again.
		c.checkpoint(context.Background())
		select {
		case <-c.stop:
			return
		case <-time.After(checkpointInterval):
		}
	}
}

// checkpoint runs one PASSIVE checkpoint and returns the WAL's size and
// how much of it is now in the database file, in pages.
func (c *checkpointer) checkpoint(ctx context.Context) (walPages, copied int, err error) {
	var busy int
	err = c.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &walPages, &copied)
	return walPages, copied, err
}

// close ends the loop and closes the connection (more than once is
// fine); SQLite checkpoints the rest when the store's last connection
// closes.
func (c *checkpointer) close() error {
	var err error
	c.once.Do(func() {
		close(c.stop)
		<-c.done
		err = c.db.Close()
	})
	return err
}
