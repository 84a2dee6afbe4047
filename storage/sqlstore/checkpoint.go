package sqlstore

import (
	"context"
	"database/sql"
	"log/slog"
	"sync"
	"sync/atomic"
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
//
// A PASSIVE checkpoint copies pages but never makes the WAL start over: the
// WAL is rewritten from its beginning only by a commit that finds every
// frame of it copied, and under sustained writes the next commit always
// comes before the checkpoint ends. Left alone the WAL grew by some 70 MB a
// second at the token endpoint's full rate (2 GB after 30 s, for a 230 MB
// database) and kept its size once the load stopped. So once the WAL holds
// walRestartPages, the writer goroutine, between two batches, lets the
// checkpointer run a RESTART checkpoint: with no write transaction open it
// copies the frames written since the last checkpoint, waits (at most
// walRestartWait) for the readers still reading older frames, and the
// next commit writes the WAL from its start. Writes wait for that copy and
// its fsync, 3 to 30 ms. Hence a large threshold: at 64 MB the restarts
// came every 1.5 s at full rate and their stalls raised the token
// endpoint's p99 by 2 to 4 ms; at 256 MB they come every 4 s, for 0.4 to
// 1.2 ms, with the same rate as a WAL left to grow (alternating runs).
// journal_size_limit is the same size: a WAL that grew past it (while a
// reader held it, below) is cut back to it when it starts over, and
// cutting a file on every restart, 192 MB each time with a 64 MB limit,
// took the p99 to 60 ms. A reader that holds its snapshot longer than
// walRestartWait (a backup) makes the restart give up, and the next one
// wait for twice the WAL, until the WAL has started over.

// checkpointInterval is the shortest time between two checkpoints.
const checkpointInterval = 100 * time.Millisecond

const (
	// walRestartPages is the WAL's size, in pages, that asks for a restart:
	// 256 MB with SQLite's 4 KB pages.
	walRestartPages = 65536
	// walSizeLimit is the writer's journal_size_limit, in bytes: what
	// the WAL file keeps when it starts over.
	walSizeLimit = walRestartPages * 4096
	// walRestartWait is the checkpointer connection's busy timeout, in
	// milliseconds: how long a RESTART checkpoint waits for readers.
	walRestartWait = 100
)

type checkpointer struct {
	db   *sql.DB // one connection, used only for checkpoints
	wake chan struct{}
	stop chan struct{}
	done chan struct{}
	once sync.Once

	// mu keeps the loop's PASSIVE checkpoints and the writer's RESTART
	// from running at once, and guards restartAt.
	mu sync.Mutex
	// restartAt is the WAL size, in pages, that asks for a restart: base,
	// doubled after each restart that gave up until the WAL starts over.
	restartAt, base int
	want            atomic.Bool  // the last checkpoint found the WAL at restartAt or more
	restarts        atomic.Int64 // RESTART checkpoints that ended with the WAL copied, for tests
	log             atomic.Pointer[slog.Logger]
}

func newCheckpointer(db *sql.DB, restartPages int) *checkpointer {
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxIdleTime(0)
	db.SetConnMaxLifetime(0)
	c := &checkpointer{db: db, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
		restartAt: restartPages, base: restartPages}
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
		c.mu.Lock()
		wal, _, err := c.checkpoint(context.Background())
		switch {
		case err != nil:
		case wal >= c.restartAt:
			c.want.Store(true)
		case wal < c.base:
			c.restartAt = c.base // it started over after all
		}
		c.mu.Unlock()
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

// restart runs a RESTART checkpoint if the last checkpoint asked for one.
// Only the writer goroutine calls it, between two batches, so that no write
// transaction is open: the checkpoint takes the write lock at once, and the
// writes queued meanwhile wait for it and form the next batch. If the loop
// is checkpointing at that moment, restart returns and the next batch's
// end tries again.
func (c *checkpointer) restart() {
	if !c.want.Load() || !c.mu.TryLock() {
		return
	}
	defer c.mu.Unlock()
	c.want.Store(false)
	var busy, wal, copied int
	err := c.db.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint(RESTART)").Scan(&busy, &wal, &copied)
	if err != nil || busy != 0 {
		// A reader kept its snapshot past walRestartWait. The frames it
		// needs stay in the WAL; trying again at every batch would make
		// each write wait walRestartWait for it.
		c.restartAt *= 2
		c.logger().Warn("sqlite: the WAL could not start over; a reader holds an old snapshot",
			"wal_pages", wal, "next_try_pages", c.restartAt, "err", err)
		return
	}
	c.restartAt = c.base
	c.restarts.Add(1)
}

func (c *checkpointer) logger() *slog.Logger {
	if l := c.log.Load(); l != nil {
		return l
	}
	return slog.New(slog.DiscardHandler)
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
