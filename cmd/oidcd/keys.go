package main

import (
	"context"
	"crypto"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/oidcd/oidcd/keys"
	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage"
	"github.com/oidcd/oidcd/storage/sqlstore"
)

// keyJSON is a signing key in --json output (never the private key).
type keyJSON struct {
	KID       string     `json:"kid"`
	Alg       string     `json:"alg"`
	CreatedAt time.Time  `json:"created_at"`
	State     string     `json:"state"`
	RetiredAt *time.Time `json:"retired_at,omitempty"`
}

func toKeyJSON(k *storage.SigningKey) keyJSON {
	j := keyJSON{KID: k.ID, Alg: k.Alg, CreatedAt: k.CreatedAt.UTC(), State: "active"}
	if !k.RetiredAt.IsZero() {
		t := k.RetiredAt.UTC()
		j.State, j.RetiredAt = "retired", &t
	}
	return j
}

// keys manages signing keys (the seed's creatersakey, and more).
func (a *app) keys(ctx context.Context, args []string) error {
	sub, args, err := subcommand("keys", args, "create", "list", "rotate")
	if err != nil {
		return err
	}
	switch sub {
	case "create":
		return a.keysCreate(ctx, args, false)
	case "rotate":
		return a.keysCreate(ctx, args, true)
	case "list":
		return a.keysList(ctx, args)
	}
	fmt.Fprint(a.stdout, "Usage: oidcd keys create|list|rotate [flags]\n")
	return nil
}

// keysCreate creates a key (generated, or imported from PEM) and, when
// rotating, retires the other active keys of its algorithm. Retired keys
// stay published until the tokens they signed expire; running servers pick
// the new key up within their key refresh interval.
func (a *app) keysCreate(ctx context.Context, args []string, rotate bool) error {
	name := "keys create"
	if rotate {
		name = "keys rotate"
	}
	c := a.newCommand(name, "", true)
	alg := c.fs.String("alg", keys.RS256, "algorithm of a generated key: RS256, ES256 or EdDSA")
	var pemFile *string
	if !rotate {
		pemFile = c.fs.String("pem", "", "import the private key in this PEM `file` (PKCS #8, PKCS #1 or SEC 1) instead of generating one")
	} else {
		pemFile = new(string)
	}
	if _, err := c.parse(args, 0, 0); err != nil {
		return err
	}
	if *pemFile == "" && !slices.Contains(keys.ServerAlgs, *alg) {
		return usagef("%s: --alg must be RS256, ES256 or EdDSA, not %q", name, *alg)
	}
	var k crypto.Signer
	if *pemFile != "" {
		b, err := os.ReadFile(*pemFile)
		if err != nil {
			return err
		}
		if k, err = keys.ParsePEM(b); err != nil {
			return fmt.Errorf("%s: %w", *pemFile, err)
		}
	} else {
		var err error
		if k, err = keys.Generate(*alg); err != nil {
			return err
		}
	}
	s, err := c.settings()
	if err != nil {
		return err
	}
	store, seal, err := c.openSealed(ctx, s)
	if err != nil {
		return err
	}
	defer store.Close()
	now := a.now()
	sk, err := keys.NewSigningKey(k, seal, now)
	if err != nil {
		return err
	}
	if err := store.CreateKey(ctx, sk); err != nil {
		return fmt.Errorf("store key %s: %w", sk.ID, err)
	}
	kind := op.EventAdminKeyCreated
	if rotate {
		kind = op.EventAdminKeyRotated
	}
	c.audit(ctx, s, op.Event{Kind: kind, KeyID: sk.ID, Reason: sk.Alg})
	var retired []*storage.SigningKey
	if rotate {
		all, err := store.ListKeys(ctx)
		if err != nil {
			return err
		}
		for _, old := range all {
			if old.ID == sk.ID || old.Alg != sk.Alg || !old.RetiredAt.IsZero() {
				continue
			}
			if err := store.RetireKey(ctx, old.ID, now); err != nil {
				return fmt.Errorf("retire key %s: %w", old.ID, err)
			}
			c.audit(ctx, s, op.Event{Kind: op.EventAdminKeyRetired, KeyID: old.ID, Reason: old.Alg})
			old.RetiredAt = now
			retired = append(retired, old)
		}
	}
	if c.json {
		out := struct {
			Created keyJSON   `json:"created"`
			Retired []keyJSON `json:"retired,omitempty"`
		}{Created: toKeyJSON(sk)}
		for _, r := range retired {
			out.Retired = append(out.Retired, toKeyJSON(r))
		}
		return c.printJSON(out)
	}
	fmt.Fprintf(a.stdout, "created %s key %s\n", sk.Alg, sk.ID)
	for _, r := range retired {
		fmt.Fprintf(a.stdout, "retired %s key %s\n", r.Alg, r.ID)
	}
	return nil
}

func (a *app) keysList(ctx context.Context, args []string) error {
	return listing(ctx, a, "keys list", args, (*sqlstore.Store).ListKeys, toKeyJSON,
		"KID\tALG\tCREATED\tSTATE",
		func(k *storage.SigningKey) string {
			state := "active"
			if !k.RetiredAt.IsZero() {
				state = "retired " + timeText(k.RetiredAt)
			}
			return strings.Join([]string{k.ID, k.Alg, timeText(k.CreatedAt), state}, "\t")
		})
}
