package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
)

// ErrBackupUnsupported is returned by Backup for PostgreSQL, which has its
// own tools (pg_dump, continuous archiving).
var ErrBackupUnsupported = errors.New("sqlstore: online backup is for SQLite; back PostgreSQL up with pg_dump")

// Backup writes a consistent copy of a SQLite database to the file path,
// which must not exist, while this and other processes go on reading and
// writing: VACUUM INTO on a connection of its own reads one snapshot of the
// WAL database (https://sqlite.org/lang_vacuum.html#vacuuminto). The copy is
// created with mode 0600, like the database.
func (s *Store) Backup(ctx context.Context, path string) error {
	if s.path == "" {
		return ErrBackupUnsupported
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("sqlstore: backup: %w", err)
	}
	f.Close()
	db, err := sql.Open("sqlite", s.path+"?_pragma=busy_timeout("+sqliteBusyTimeout+")")
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("sqlstore: backup: %w", err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", path); err != nil {
		os.Remove(path)
		return fmt.Errorf("sqlstore: backup: %w", err)
	}
	return nil
}
