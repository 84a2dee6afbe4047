package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/oidcd/oidcd/keys"
	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage/sqlstore"
)

const pgBackupAdvice = "PostgreSQL databases are backed up with PostgreSQL's tools: " +
	"pg_dump --format=custom --file=oidcd.dump \"$OIDCD_DATABASE\" (restore with pg_restore --clean --dbname=...), " +
	"or continuous archiving; keep OIDCD_SECRET with the dump, without it keys and client secrets cannot be unsealed"

// backup writes a consistent copy of a live SQLite database, and of its
// secret file, to FILE and FILE.secret.
func (a *app) backup(ctx context.Context, args []string) error {
	c := a.newCommand("backup", " FILE", false)
	pos, err := c.parse(args, 1, 1)
	if err != nil {
		return err
	}
	file := pos[0]
	s, err := c.settings()
	if err != nil {
		return err
	}
	pg, dbPath := databaseKind(s.Database)
	if pg {
		return errors.New("backup: " + pgBackupAdvice)
	}
	for _, f := range []string{file, file + ".secret"} {
		if _, err := os.Stat(f); err == nil {
			return fmt.Errorf("backup: %s exists; a backup never overwrites a file", f)
		}
	}
	// No migration: the backup copies the database as the servers use it.
	store, err := sqlstore.Open(ctx, s.Database)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.Backup(ctx, file); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "backed up %s to %s\n", dbPath, file)
	if s.Secret != "" {
		fmt.Fprintln(a.stdout, "the system secret comes from OIDCD_SECRET and is not in the backup: keep it with the backup "+
			"(without it, signing keys and client secrets cannot be unsealed)")
	} else {
		if err := copyFile(dbPath+".secret", file+".secret", false); err != nil {
			return fmt.Errorf("backup: copy the secret file: %w", err)
		}
		fmt.Fprintf(a.stdout, "copied the system secret to %s: it unseals the signing keys and client secrets; store it apart from the database copy, as carefully as a private key\n", file+".secret")
	}
	c.audit(ctx, s, op.Event{Kind: op.EventAdminBackup, Reason: file})
	return nil
}

// restore replaces the SQLite database (and its secret file) with a
// backup made by "oidcd backup".
func (a *app) restore(ctx context.Context, args []string) error {
	c := a.newCommand("restore", " FILE", false)
	c.mustExist = false // restore creates the database
	force := c.fs.Bool("force", false, "replace an existing database (stop every oidcd using it first)")
	pos, err := c.parse(args, 1, 1)
	if err != nil {
		return err
	}
	file := pos[0]
	s, err := c.settings()
	if err != nil {
		return err
	}
	pg, dbPath := databaseKind(s.Database)
	if pg {
		return errors.New("restore: " + pgBackupAdvice)
	}
	if err := checkBackup(ctx, file); err != nil {
		return fmt.Errorf("restore: %s: %w", file, err)
	}
	if _, err := os.Stat(dbPath); err == nil && !*force {
		return fmt.Errorf("restore: database %s exists; stop every oidcd using it and give --force to replace it", dbPath)
	}
	haveSecret := false
	if _, err := os.Stat(file + ".secret"); err == nil {
		haveSecret = true
	} else if s.Secret == "" {
		return fmt.Errorf("restore: %s.secret is missing and OIDCD_SECRET is not set: the keys and client secrets in the backup could not be unsealed", file)
	}
	if err := copyFile(file, dbPath, true); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	// A write-ahead log of the replaced database must not be replayed into
	// the restored one.
	os.Remove(dbPath + "-wal")
	os.Remove(dbPath + "-shm")
	if haveSecret && s.Secret == "" {
		if err := copyFile(file+".secret", dbPath+".secret", true); err != nil {
			return fmt.Errorf("restore: secret file: %w", err)
		}
	}
	// Brings an older backup's schema up to date, and checks the secret
	// against the check value in the backup.
	store, seal, err := c.openSealed(ctx, s)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer store.Close()
	// The secret must open what the backup sealed.
	stored, err := store.ListKeys(ctx)
	if err != nil {
		return err
	}
	if _, err := keys.NewSet(stored, seal, a.now(), 0); err != nil {
		return fmt.Errorf("restore: the restored signing keys do not open with this system secret: %w", err)
	}
	fmt.Fprintf(a.stdout, "restored %s from %s (%d signing keys)\n", dbPath, file, len(stored))
	c.audit(ctx, s, op.Event{Kind: op.EventAdminRestore, Reason: file})
	return nil
}

// checkBackup opens file read-only and checks it is an intact oidcd
// database.
func checkBackup(ctx context.Context, file string) error {
	if _, err := os.Stat(file); err != nil {
		return err
	}
	db, err := sql.Open("sqlite", "file:"+file+"?mode=ro")
	if err != nil {
		return err
	}
	defer db.Close()
	var res string
	if err := db.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&res); err != nil || res != "ok" {
		return fmt.Errorf("not an intact SQLite database (%v %s)", err, res)
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations").Scan(&n); err != nil || n == 0 {
		return errors.New("not an oidcd database")
	}
	return nil
}

// copyFile copies src to dst with mode 0600: through a temporary file and
// a rename when replace is set (dst is replaced atomically), else only if
// dst does not exist.
func copyFile(src, dst string, replace bool) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	target := dst
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if replace {
		target = fmt.Sprintf("%s.restore%d", dst, os.Getpid())
	}
	out, err := os.OpenFile(target, flags, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil && replace {
		err = os.Rename(target, dst)
	}
	if err != nil {
		if !errors.Is(err, fs.ErrExist) {
			os.Remove(target)
		}
		return err
	}
	return nil
}
