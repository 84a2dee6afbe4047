package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver

	"github.com/oidcd/oidcd/storage"
)

var _ storage.Storage = (*Store)(nil)

// Store is a storage.Storage on SQLite or PostgreSQL. It is safe for
// concurrent use.
type Store struct {
	d *dialect
	// w runs every write and every transaction. On SQLite it holds a single
	// connection, so writers queue in Go instead of failing with SQLITE_BUSY.
	w *sql.DB
	// r runs plain reads. On SQLite it is a separate read-only pool (WAL lets
	// readers run beside the writer); on PostgreSQL it is w.
	r *sql.DB
	// wc and rc cache prepared statements of w and r (SQLite only).
	wc, rc *stmtCache
	// batcher is the group-commit writer (SQLite only; see batch.go).
	batcher
	// gb gathers concurrent CreateGrant calls into shared statements
	// (PostgreSQL only; see grantbatch.go).
	gb *grantBatcher
	// ck copies the WAL into the database file beside the writer (SQLite
	// only; see checkpoint.go).
	ck *checkpointer

	// txc is set on the store Atomically hands out: every statement runs on
	// this transaction, and savepoints names its nested transactions.
	txc        *conn
	savepoints *atomic.Int64
	// obs receives statement durations (ObserveQueries).
	obs *queryObserver
	// path is the SQLite database file ("" on PostgreSQL), for Backup.
	path string
	// auditExpire is how long DeleteExpired keeps audit records (a
	// time.Duration; 0: for ever). See SetAuditExpire.
	auditExpire atomic.Int64
	// tc keeps found tokens for a short time (SetTokenCache); nil: off.
	tc *tokenCache
}

// queryObserver passes each statement's duration to a function set once
// by ObserveQueries.
type queryObserver struct {
	fn atomic.Pointer[func(time.Duration)]
}

func (o *queryObserver) since(start time.Time) {
	if o == nil {
		return
	}
	if f := o.fn.Load(); f != nil {
		(*f)(time.Since(start))
	}
}

// ObserveQueries calls fn with the duration of every statement run from
// now on (for a latency histogram); fn must be fast and safe for
// concurrent use. Nil stops.
func (s *Store) ObserveQueries(fn func(time.Duration)) {
	if fn == nil {
		s.obs.fn.Store(nil)
		return
	}
	s.obs.fn.Store(&fn)
}

// Pools returns the connection pools by role, for pool statistics:
// "writer" and "reader" on SQLite, "main" on PostgreSQL.
func (s *Store) Pools() map[string]*sql.DB {
	if s.w == s.r {
		return map[string]*sql.DB{"main": s.w}
	}
	return map[string]*sql.DB{"writer": s.w, "reader": s.r}
}

// Default PostgreSQL pool size; see SetPool. As many idle connections as
// open ones: a connection returned while the idle slots are full is
// closed, and the next burst dials a new one, a new PostgreSQL backend
// (fork, authentication, cold caches). With 20 open and 10 idle, wrk -c64
// on introspection dialled about 15 backends a second, and PostgreSQL spent
// 410–560 µs of CPU per request against 93–104 µs with 20 idle. Connections
// idle for 5 minutes are still closed (SetConnMaxIdleTime).
const (
	defaultMaxOpen = 20
	defaultMaxIdle = defaultMaxOpen
)

// SQLite settings applied to every pooled connection through the DSN.
const sqliteBusyTimeout = "10000" // milliseconds

// Open connects to the database named by dsn and checks that it answers. It
// does not create or migrate the schema; call Migrate for that.
//
// dsn is "sqlite:PATH" (or a bare PATH) for SQLite, where PATH is a file that is
// created with mode 0600 if it does not exist, or a "postgres://" or
// "postgresql://" URL for PostgreSQL (any libpq parameter pgx understands,
// including search_path, may be given in the query string).
func Open(ctx context.Context, dsn string) (*Store, error) {
	var (
		s   *Store
		err error
	)
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		s, err = openPostgres(dsn)
	case strings.HasPrefix(dsn, "sqlite:"):
		p := strings.TrimPrefix(dsn, "sqlite:")
		if strings.HasPrefix(p, "//") { // sqlite:///abs/path, sqlite://rel/path
			p = p[2:]
		}
		s, err = openSQLite(p)
	case strings.Contains(dsn, "://"):
		return nil, errorf("unsupported database url scheme in %q", redact(dsn))
	default:
		s, err = openSQLite(dsn)
	}
	if err != nil {
		return nil, err
	}
	if err := s.Ping(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func openSQLite(path string) (*Store, error) {
	switch {
	case path == "":
		return nil, newError("empty sqlite path")
	case path == ":memory:" || strings.HasPrefix(path, "file:"):
		return nil, errorf("sqlite path %q: give a file path (in-memory databases and URIs are not supported)", path)
	case strings.ContainsRune(path, '?'):
		return nil, errorf("sqlite path %q must not contain '?'", path)
	}
	// Create the file ourselves so that it is private to us; SQLite would use
	// 0644. The -wal and -shm files inherit the database file's mode.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		f.Close()
	case errors.Is(err, fs.ErrExist):
	default:
		return nil, errorf("create database file: %w", err)
	}

	// temp_store(MEMORY) keeps the statement journals of group commit's
	// savepoints in memory instead of temporary files (a pwrite per page
	// in the token endpoint's profile); a batch's journal is a few pages.
	pragmas := "_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_pragma=temp_store(MEMORY)"
	common := "_pragma=busy_timeout(" + sqliteBusyTimeout + ")&" + pragmas
	// Checkpoints run beside the writer, not in its commits, and the WAL
	// starts over at walRestartPages (checkpoint.go).
	w, err := sql.Open("sqlite", path+"?"+common+"&_pragma=journal_mode(WAL)&_pragma=wal_autocheckpoint(0)"+
		"&_pragma=journal_size_limit("+strconv.Itoa(walSizeLimit)+")&_txlock=immediate")
	if err != nil {
		return nil, errorf("open sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	w.SetConnMaxLifetime(0)

	r, err := sql.Open("sqlite", path+"?"+common+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, errorf("open sqlite: %w", err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	ck, err := sql.Open("sqlite", path+"?_pragma=busy_timeout("+strconv.Itoa(walRestartWait)+")&"+pragmas)
	if err != nil {
		w.Close()
		r.Close()
		return nil, errorf("open sqlite: %w", err)
	}
	s := &Store{d: newSQLiteDialect(), w: w, r: r, wc: newStmtCache(w), rc: newStmtCache(r), ck: newCheckpointer(ck, walRestartPages), obs: &queryObserver{}, path: path}
	s.startBatcher()
	return s, nil
}

func openPostgres(dsn string) (*Store, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, errorf("open postgres: %w", err)
	}
	db.SetMaxOpenConns(defaultMaxOpen)
	db.SetMaxIdleConns(defaultMaxIdle)
	db.SetConnMaxIdleTime(5 * time.Minute)
	s := &Store{d: newPostgresDialect(), w: db, r: db, obs: &queryObserver{}}
	s.startGrantBatcher()
	return s, nil
}

// SetPool sets the maximum number of open and idle connections to
// PostgreSQL (defaults 20 and 20; an idle maximum below the open one makes
// PostgreSQL start a backend for many requests under load). On SQLite the writer always has exactly one
// connection and maxOpen bounds the reader pool.
func (s *Store) SetPool(maxOpen, maxIdle int) {
	if s.txc != nil {
		return
	}
	if s.w == s.r {
		s.w.SetMaxOpenConns(maxOpen)
		s.w.SetMaxIdleConns(maxIdle)
		return
	}
	s.r.SetMaxOpenConns(maxOpen)
	s.r.SetMaxIdleConns(maxIdle)
}

// SetLogger sets where the store reports what it does on its own, beside
// the calls it answers: on SQLite, a WAL that could not start over because
// a reader held an old snapshot (checkpoint.go). Without it nothing is
// logged.
func (s *Store) SetLogger(l *slog.Logger) {
	if s.ck != nil {
		s.ck.log.Store(l)
	}
}

// SetAuditExpire makes DeleteExpired also delete the audit records older
// than d (OIDCD_AUDIT_EXPIRE), with the other expired rows; d <= 0, the
// default, keeps them until they are deleted by hand. Every node running
// the cleanup should be given the same d.
func (s *Store) SetAuditExpire(d time.Duration) {
	s.auditExpire.Store(int64(max(d, 0)))
}

// Ping reports whether the database answers. A database that cannot be
// reached gives an error wrapping storage.ErrUnavailable.
func (s *Store) Ping(ctx context.Context) error {
	if s.txc != nil {
		return nil
	}
	if err := s.w.PingContext(ctx); err != nil {
		return s.wrapErr("ping", err)
	}
	if s.r != s.w {
		if err := s.r.PingContext(ctx); err != nil {
			return s.wrapErr("ping", err)
		}
	}
	return nil
}

// Close closes every connection.
func (s *Store) Close() error {
	if s.txc != nil {
		return errInAtomically
	}
	s.stopBatcher()
	s.stopGrantBatcher()
	if s.wc != nil {
		s.wc.close()
		s.rc.close()
	}
	var err error
	if s.ck != nil {
		err = s.ck.close()
	}
	err = errors.Join(err, s.w.Close())
	if s.r != s.w {
		err = errors.Join(err, s.r.Close())
	}
	if err != nil {
		return errorf("close: %w", err)
	}
	return nil
}

// redact hides a password in a URL for error messages.
func redact(dsn string) string {
	at := strings.LastIndex(dsn, "@")
	sc := strings.Index(dsn, "://")
	if at < 0 || sc < 0 || at < sc {
		return dsn
	}
	return dsn[:sc+3] + "…" + dsn[at:]
}

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// conn runs ?-placeholder queries on a pool or transaction, through the
// pool's prepared-statement cache when it has one.
type conn struct {
	q  querier
	d  *dialect
	sc *stmtCache // nil: no cache
	tx *sql.Tx    // non-nil inside a transaction
	// detached runs statements without the caller's cancellation (inside
	// a group-commit batch).
	detached bool
	obs      *queryObserver // nil: not observed
}

func (c conn) ctx(ctx context.Context) context.Context {
	if c.detached {
		return context.WithoutCancel(ctx)
	}
	return ctx
}

// stmt returns the cached statement for query, or nil to run it unprepared.
func (c conn) stmt(ctx context.Context, query string) *sql.Stmt {
	if c.sc == nil {
		return nil
	}
	if c.tx == nil {
		return c.sc.get(ctx, query)
	}
	// Inside a transaction the pool's only writer connection is taken, so a
	// statement not yet prepared is run directly and prepared after the
	// transaction ends.
	if st := c.sc.lookup(query); st != nil {
		return c.tx.StmtContext(ctx, st)
	}
	c.sc.later(query)
	return nil
}

func (c conn) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	defer c.obs.since(time.Now())
	ctx = c.ctx(ctx)
	if st := c.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return c.q.ExecContext(ctx, c.d.rebind(query), args...)
}

// execN runs query and returns the number of rows it affected.
func (c conn) execN(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := c.exec(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (c conn) row(ctx context.Context, query string, args ...any) *sql.Row {
	defer c.obs.since(time.Now())
	ctx = c.ctx(ctx)
	if st := c.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return c.q.QueryRowContext(ctx, c.d.rebind(query), args...)
}

func (c conn) rows(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	defer c.obs.since(time.Now())
	ctx = c.ctx(ctx)
	if st := c.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return c.q.QueryContext(ctx, c.d.rebind(query), args...)
}

// writer is the connection for single write statements.
func (s *Store) writer() conn {
	if s.txc != nil {
		return *s.txc
	}
	return conn{q: s.w, d: s.d, sc: s.wc, obs: s.obs}
}

// reader is the connection for single read statements.
func (s *Store) reader() conn {
	if s.txc != nil {
		return *s.txc
	}
	return conn{q: s.r, d: s.d, sc: s.rc, obs: s.obs}
}

// stmtCache keeps the prepared statements of one pool. SQLite only: there
// preparing costs about as much as running a statement, while pgx already
// caches prepared statements per PostgreSQL connection. Queries are the
// package's constants, so the cache is bounded.
type stmtCache struct {
	db *sql.DB
	m  sync.Map // query → *sql.Stmt

	mu      sync.Mutex
	pending map[string]bool // met in transactions, to prepare afterwards
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, pending: map[string]bool{}}
}

func (sc *stmtCache) lookup(query string) *sql.Stmt {
	if v, ok := sc.m.Load(query); ok {
		return v.(*sql.Stmt)
	}
	return nil
}

// get returns the statement, preparing it on the pool if needed; nil if
// preparing fails (running the query then reports the error).
func (sc *stmtCache) get(ctx context.Context, query string) *sql.Stmt {
	if st := sc.lookup(query); st != nil {
		return st
	}
	st, err := sc.db.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	if v, loaded := sc.m.LoadOrStore(query, st); loaded {
		st.Close()
		return v.(*sql.Stmt)
	}
	return st
}

func (sc *stmtCache) later(query string) {
	sc.mu.Lock()
	sc.pending[query] = true
	sc.mu.Unlock()
}

// preparePending prepares the queries met in transactions. It must not run
// inside one.
func (sc *stmtCache) preparePending(ctx context.Context) {
	sc.mu.Lock()
	if len(sc.pending) == 0 {
		sc.mu.Unlock()
		return
	}
	qs := make([]string, 0, len(sc.pending))
	for q := range sc.pending {
		qs = append(qs, q)
	}
	clear(sc.pending)
	sc.mu.Unlock()
	for _, q := range qs {
		sc.get(ctx, q)
	}
}

func (sc *stmtCache) close() {
	sc.m.Range(func(_, v any) bool {
		v.(*sql.Stmt).Close()
		return true
	})
}

// errCommitted is returned by a transaction body that wants its work
// committed but its caller to see err.
type errCommitted struct{ err error }

func (e errCommitted) Error() string { return e.err.Error() }

// commitAnd makes inTx commit the transaction and then return err.
func commitAnd(err error) error { return errCommitted{err} }

// inTx runs fn in a write transaction (BEGIN IMMEDIATE on SQLite, READ
// COMMITTED on PostgreSQL) and commits if fn returns nil or commitAnd(err).
// A transaction PostgreSQL aborts as a deadlock victim or serialization
// failure is run again, up to three times in all; fn must allow that (every
// body here reads what it decides on inside the transaction).
//
// A transaction that fails because the database is unreachable is not run
// again here (database/sql already retried on a fresh connection where that
// was safe); its error wraps storage.ErrUnavailable.
func (s *Store) inTx(ctx context.Context, fn func(c conn) error) error {
	if s.txc != nil {
		return s.inSavepoint(ctx, fn)
	}
	if s.jobs != nil {
		return s.inBatch(ctx, fn)
	}
	for attempt := 1; ; attempt++ {
		err := s.inTxOnce(ctx, fn)
		if err == nil || attempt == 3 || !s.d.isRetryable(err) || ctx.Err() != nil {
			return s.markUnavailable(err)
		}
	}
}

func (s *Store) inTxOnce(ctx context.Context, fn func(c conn) error) error {
	if s.wc != nil {
		// Deferred first so that it runs last, once the connection is free.
		defer s.wc.preparePending(context.WithoutCancel(ctx))
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return errorf("begin: %w", err)
	}
	defer tx.Rollback() // a no-op after Commit; frees the connection on panic
	ferr := fn(conn{q: tx, d: s.d, sc: s.wc, tx: tx, obs: s.obs})
	var ce errCommitted
	if ferr != nil && !errors.As(ferr, &ce) {
		return ferr
	}
	if err := tx.Commit(); err != nil {
		return errorf("commit: %w", err)
	}
	if ferr != nil {
		return ce.err
	}
	return nil
}

// wrapErr turns driver errors into the storage sentinels where they apply.
func (s *Store) wrapErr(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, storage.ErrUnavailable):
		return err
	case isUnavailable(err) || s.d.isUnavailable(err):
		return errorf("%s: %w: %w", op, storage.ErrUnavailable, err)
	case classified(err):
		return err
	case errors.Is(err, sql.ErrNoRows):
		return errorf("%s: %w", op, storage.ErrNotFound)
	case s.d.isUnique(err):
		// The driver's error stays in the chain (errors.As finds it).
		return errorf("%s: %w: %w", op, storage.ErrAlreadyExists, err)
	case s.d.isForeignKey(err):
		return errorf("%s: a referenced row does not exist: %w", op, err)
	}
	return errorf("%s: %w", op, err)
}

// markUnavailable wraps err with storage.ErrUnavailable when it is a
// connection-level failure; other errors are returned unchanged.
func (s *Store) markUnavailable(err error) error {
	if err == nil || errors.Is(err, storage.ErrUnavailable) || !(isUnavailable(err) || s.d.isUnavailable(err)) {
		return err
	}
	return fmt.Errorf("%w: %w", storage.ErrUnavailable, err)
}

// isUnavailable reports whether err means the database could not be reached
// or went away, as opposed to refusing one statement: a failed connection
// attempt, a connection lost mid-statement, or PostgreSQL shutting down,
// starting up or crashed. It goes by error types and PostgreSQL's SQLSTATE
// codes, never by message text; SQLite's result codes are the dialect's
// isUnavailable. Such errors are transient; database/sql discards
// the broken connection and the next statement dials a new one.
func isUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var (
		connectErr *pgconn.ConnectError
		opErr      *net.OpError
		dnsErr     *net.DNSError
	)
	switch {
	case errors.Is(err, driver.ErrBadConn),
		errors.Is(err, pgconn.ErrConnClosed),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, io.EOF),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, syscall.EPIPE),
		errors.As(err, &connectErr),
		errors.As(err, &opErr),
		errors.As(err, &dnsErr):
		return true
	}
	switch code := pgCode(err); {
	case strings.HasPrefix(code, "08"): // connection_exception class
		return true
	case code == "57P01", code == "57P02", code == "57P03": // admin_shutdown, crash_shutdown, cannot_connect_now
		return true
	}
	return false
}

func notFound(op string) error {
	return errorf("%s: %w", op, storage.ErrNotFound)
}
