package main

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/oidcd/oidcd/keys"
	"github.com/oidcd/oidcd/storage"
	"github.com/oidcd/oidcd/storage/sqlstore"
)

// The system secret seals signing keys and client secrets. The database
// keeps a check value of it, so that oidcd never seals data under a second
// secret: a lost secret file is reported, never replaced, when the database
// holds sealed data, and a wrong secret is refused before anything is
// written (docs/security.md "System secret").

// openSealed opens (and migrates) the database of s and returns it with the
// sealer of its system secret, checked against the database.
func (c *command) openSealed(ctx context.Context, s *Settings) (*sqlstore.Store, keys.Sealer, error) {
	// A missing or malformed OIDCD_SECRET is reported before connecting.
	if err := checkSecretSetting(s); err != nil {
		return nil, nil, err
	}
	store, err := c.open(ctx, s)
	if err != nil {
		return nil, nil, err
	}
	seal, err := checkedSealer(ctx, s, store)
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	return store, seal, nil
}

// checkSecretSetting reports a malformed OIDCD_SECRET, or a missing one
// where there is no secret file to fall back on (PostgreSQL). It creates
// nothing: the secret file of a SQLite database is made, or read, later.
func checkSecretSetting(s *Settings) error {
	if pg, _ := databaseKind(s.Database); pg || s.Secret != "" {
		_, err := systemSecret(s)
		return err
	}
	return nil
}

// secretOrigin names where the system secret comes from, for messages.
func secretOrigin(s *Settings) (origin, file string) {
	if s.Secret != "" {
		return "OIDCD_SECRET", ""
	}
	if pg, path := databaseKind(s.Database); !pg && path != "" {
		return "the secret file " + path + ".secret", path + ".secret"
	}
	return "OIDCD_SECRET", ""
}

// checkedSealer returns the sealer of s's system secret after checking it
// against the check value stored in the database (storing it on first use).
func checkedSealer(ctx context.Context, s *Settings, store *sqlstore.Store) (keys.Sealer, error) {
	origin, file := secretOrigin(s)
	stored, err := store.SecretCheck(ctx)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return nil, err
	}
	hasCheck := err == nil
	var secret []byte
	if s.Secret == "" && file != "" {
		if _, statErr := os.Stat(file); errors.Is(statErr, fs.ErrNotExist) {
			sealed, err := store.HasSealedData(ctx)
			if err != nil {
				return nil, err
			}
			if hasCheck || sealed {
				return nil, fmt.Errorf("the system secret file %s is missing, but the database %s holds data sealed with a "+
					"system secret (signing keys, client secrets).\n"+
					"oidcd will not make a new secret for it: data sealed under two secrets could not be repaired.\n"+
					"Restore %s from the backup taken with the database (the database and its .secret file are backed up "+
					"together), or set OIDCD_SECRET to the secret the data was sealed with", file, s.Database, file)
			}
		}
	}
	secret, err = systemSecret(s)
	if err != nil {
		return nil, err
	}
	seal, err := keys.NewSealer(secret)
	if err != nil {
		return nil, err
	}
	check := keys.CheckValue(seal)
	mismatch := func() error {
		msg := fmt.Sprintf("%s is not the system secret the database %s was sealed with.\n"+
			"Use the secret the database was created with (restore it from the backup taken with the database); "+
			"to change the secret, run 'oidcd secret rotate' with the current one", origin, s.Database)
		if file != "" {
			if b, err := os.ReadFile(file + ".new"); err == nil {
				if sec, err := hex.DecodeString(strings.TrimSpace(string(b))); err == nil {
					if ns, err := keys.NewSealer(sec); err == nil && hmac.Equal(keys.CheckValue(ns), stored) {
						msg += fmt.Sprintf(".\nAn interrupted 'oidcd secret rotate' left the matching secret in %s.new: move it to %s", file, file)
					}
				}
			}
		}
		return errors.New(msg)
	}
	if hasCheck {
		if !hmac.Equal(stored, check) {
			return nil, mismatch()
		}
		return seal, nil
	}
	// A database from before check values (or a new one): the secret must
	// open what is sealed already; then its check value is recorded.
	if err := verifySealed(ctx, store, seal); err != nil {
		return nil, mismatch()
	}
	if err := store.SetSecretCheck(ctx, check); errors.Is(err, storage.ErrAlreadyExists) {
		stored, _ = store.SecretCheck(ctx)
		return nil, mismatch()
	} else if err != nil {
		return nil, err
	}
	return seal, nil
}

// verifySealed opens every sealed value with seal.
func verifySealed(ctx context.Context, store *sqlstore.Store, seal keys.Sealer) error {
	ks, err := store.ListKeys(ctx)
	if err != nil {
		return err
	}
	for _, k := range ks {
		if _, err := keys.Unseal(k, seal); err != nil {
			return err
		}
	}
	cs, err := store.ListClients(ctx)
	if err != nil {
		return err
	}
	for _, c := range cs {
		if len(c.SecretSealed) > 0 {
			if _, err := seal.Open(c.SecretSealed, []byte("client-secret:"+c.ID)); err != nil {
				return err
			}
		}
	}
	return nil
}

// secret manages the system secret.
func (a *app) secret(ctx context.Context, args []string) error {
	sub, args, err := subcommand("secret", args, "rotate")
	if err != nil {
		return err
	}
	switch sub {
	case "rotate":
		return a.secretRotate(ctx, args)
	}
	fmt.Fprint(a.stdout, "Usage: oidcd secret rotate [flags]\n")
	return nil
}

// secretRotate re-seals every sealed value under a new system secret in
// one transaction. With a secret file (SQLite), the new secret replaces the
// file; with OIDCD_SECRET, the new secret (from stdin, or generated and
// printed once) must then be set on every node.
func (a *app) secretRotate(ctx context.Context, args []string) error {
	c := a.newCommand("secret rotate", "", true)
	fromStdin := c.fs.Bool("new-secret-stdin", false, "read the new secret (at least 32 bytes, or 64 hex digits) from standard input instead of generating one")
	if _, err := c.parse(args, 0, 0); err != nil {
		return err
	}
	s, err := c.settings()
	if err != nil {
		return err
	}
	store, oldSeal, err := c.openSealed(ctx, s)
	if err != nil {
		return err
	}
	defer store.Close()
	var newSecret []byte
	if *fromStdin {
		line, err := bufio.NewReader(a.stdin).ReadString('\n')
		if err != nil && line == "" {
			return fmt.Errorf("secret rotate: reading the new secret: %w", err)
		}
		newSecret, err = parseSecret(strings.TrimSpace(line))
		if err != nil {
			return fmt.Errorf("secret rotate: the new secret: %w", err)
		}
	} else {
		newSecret = make([]byte, 32)
		rand.Read(newSecret)
	}
	newSeal, err := keys.NewSealer(newSecret)
	if err != nil {
		return err
	}
	if hmac.Equal(keys.CheckValue(newSeal), keys.CheckValue(oldSeal)) {
		return errors.New("secret rotate: the new secret is the current one")
	}
	_, file := secretOrigin(s)
	if s.Secret != "" {
		file = ""
	}
	if file != "" {
		// The new secret is on disk before the database depends on it; the
		// rename after the commit is atomic.
		f, err := os.OpenFile(file+".new", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("secret rotate: %w (a previous rotation may have been interrupted: if %s still opens the database, remove %s.new)", err, file, file)
		}
		_, werr := f.WriteString(hex.EncodeToString(newSecret) + "\n")
		if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
			os.Remove(file + ".new")
			return fmt.Errorf("secret rotate: %w", err)
		}
	}
	n, err := store.Reseal(ctx, keys.CheckValue(oldSeal), keys.CheckValue(newSeal), func(v sqlstore.SealedValue) ([]byte, error) {
		plain, err := oldSeal.Open(v.Sealed, v.AAD)
		if err != nil {
			return nil, err
		}
		return newSeal.Seal(plain, v.AAD)
	})
	if err != nil {
		if file != "" {
			os.Remove(file + ".new")
		}
		return fmt.Errorf("secret rotate: nothing was changed: %w", err)
	}
	if file != "" {
		if err := os.Rename(file+".new", file); err != nil {
			return fmt.Errorf("secret rotate: the database is sealed under the new secret in %s.new, but it could not replace %s: %w; move it there by hand", file, file, err)
		}
	}
	if c.json {
		out := map[string]any{"resealed": n}
		if file != "" {
			out["secret_file"] = file
		} else {
			out["secret"] = hex.EncodeToString(newSecret)
		}
		return c.printJSON(out)
	}
	fmt.Fprintf(a.stdout, "re-sealed %d values under the new system secret\n", n)
	if file != "" {
		fmt.Fprintf(a.stdout, "the new secret is in %s: back it up with the database\n", file)
	} else if !*fromStdin {
		fmt.Fprintf(a.stdout, "new OIDCD_SECRET (shown once; set it on every node before starting them):\n%s\n", hex.EncodeToString(newSecret))
	} else {
		fmt.Fprintln(a.stdout, "set OIDCD_SECRET to the new secret on every node before starting them")
	}
	return nil
}

// parseSecret reads a system secret as OIDCD_SECRET is read: hex of at
// least 32 bytes, or at least 32 raw bytes.
func parseSecret(v string) ([]byte, error) {
	if b, err := hex.DecodeString(v); err == nil && len(b) >= keys.MinSecretLen {
		return b, nil
	}
	if len(v) < keys.MinSecretLen {
		return nil, fmt.Errorf("must be at least %d bytes (or %d hex digits)", keys.MinSecretLen, 2*keys.MinSecretLen)
	}
	return []byte(v), nil
}
