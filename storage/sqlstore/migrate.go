package sqlstore

import (
	"context"
	"database/sql/driver"
	"embed"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations
var migrationFiles embed.FS

// migration is one file migrations/<dialect>/NNN_name.sql.
type migration struct {
	version int64
	name    string
	sql     string
}

func loadMigrations(dialect string) ([]migration, error) {
	dir := path.Join("migrations", dialect)
	entries, err := fs.ReadDir(migrationFiles, dir)
	if err != nil {
		return nil, errorf("read migrations: %w", err)
	}
	var ms []migration
	seen := map[int64]string{}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".sql")
		if e.IsDir() || !ok {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.ParseInt(num, 10, 64)
		if !ok || err != nil || v <= 0 {
			return nil, errorf("migration %s: name is not NNN_name.sql", e.Name())
		}
		if other, dup := seen[v]; dup {
			return nil, errorf("migrations %s and %s share version %d", other, e.Name(), v)
		}
		seen[v] = e.Name()
		b, err := fs.ReadFile(migrationFiles, path.Join(dir, e.Name()))
		if err != nil {
			return nil, errorf("read migration %s: %w", e.Name(), err)
		}
		ms = append(ms, migration{version: v, name: name, sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

// Migrate brings the schema up to date by applying, in one transaction, every
// embedded migration not yet recorded in schema_migrations. It is idempotent
// and safe to run from several processes at once: on PostgreSQL it holds a
// session advisory lock for the whole run (the others wait, then find nothing
// to do); on SQLite the transaction is BEGIN IMMEDIATE, which excludes every
// other writer.
func (s *Store) Migrate(ctx context.Context) error {
	if s.txc != nil {
		return errInAtomically
	}
	ms, err := loadMigrations(s.d.name)
	if err != nil {
		return err
	}
	if !s.d.numbered { // SQLite: the immediate transaction is the lock.
		return s.inTx(ctx, func(c conn) error { return s.applyMigrations(ctx, c, ms) })
	}

	// PostgreSQL: pin one connection, lock, migrate, unlock.
	pc, err := s.w.Conn(ctx)
	if err != nil {
		return errorf("migrate: %w", s.markUnavailable(err))
	}
	defer pc.Close()
	if _, err := pc.ExecContext(ctx, "SELECT pg_advisory_lock($1)", migrateLockKey); err != nil {
		return errorf("migrate: take advisory lock: %w", err)
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if _, err := pc.ExecContext(uctx, "SELECT pg_advisory_unlock($1)", migrateLockKey); err != nil {
			// Never hand a connection that may still hold the lock back to
			// the pool: drop it, which ends the session and frees the lock.
			pc.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	tx, err := pc.BeginTx(ctx, nil)
	if err != nil {
		return errorf("migrate: begin: %w", err)
	}
	if err := s.applyMigrations(ctx, conn{q: tx, d: s.d}, ms); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return errorf("migrate: commit: %w", err)
	}
	return nil
}

func (s *Store) applyMigrations(ctx context.Context, c conn, ms []migration) error {
	if _, err := c.exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    BIGINT NOT NULL PRIMARY KEY,
		name       TEXT   NOT NULL,
		applied_at BIGINT NOT NULL
	)`); err != nil {
		return errorf("migrate: create schema_migrations: %w", err)
	}
	rows, err := c.rows(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return errorf("migrate: read schema_migrations: %w", err)
	}
	applied := map[int64]bool{}
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return errorf("migrate: read schema_migrations: %w", err)
		}
		applied[v] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return errorf("migrate: read schema_migrations: %w", err)
	}
	var latest int64
	if len(ms) > 0 {
		latest = ms[len(ms)-1].version
	}
	for v := range applied {
		if v > latest {
			return errorf("migrate: database schema version %d is newer than this program's (%d)", v, latest)
		}
	}
	for _, m := range ms {
		if applied[m.version] {
			continue
		}
		if _, err := c.q.ExecContext(ctx, m.sql); err != nil { // no rebind: DDL has no parameters
			return errorf("migrate: apply %s: %w", m.name, err)
		}
		if _, err := c.exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			m.version, m.name, time.Now().UnixMicro()); err != nil {
			return errorf("migrate: record %s: %w", m.name, err)
		}
	}
	return nil
}
