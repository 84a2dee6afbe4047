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
// State is next (published, not signing yet), active or retired.
type keyJSON struct {
	KID         string     `json:"kid"`
	Alg         string     `json:"alg"`
	CreatedAt   time.Time  `json:"created_at"`
	State       string     `json:"state"`
	ActivatesAt *time.Time `json:"activates_at,omitempty"`
	RetiredAt   *time.Time `json:"retired_at,omitempty"`
}

func toKeyJSON(k *storage.SigningKey, now time.Time) keyJSON {
	j := keyJSON{KID: k.ID, Alg: k.Alg, CreatedAt: k.CreatedAt.UTC(), State: keys.State(k, now)}
	if !k.ActivatesAt.IsZero() {
		t := k.ActivatesAt.UTC()
		j.ActivatesAt = &t
	}
	if !k.RetiredAt.IsZero() {
		t := k.RetiredAt.UTC()
		j.RetiredAt = &t
	}
	return j
}

// keys manages signing keys (django-oidc-provider's creatersakey, and more).
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
	// A key of an algorithm that already signs is "next" until every node
	// and every relying party's cached JWKS knows it (docs/security.md
	// "Signing keys"); when rotating, the current keys retire then.
	sk, retired, err := keys.AddKey(ctx, store, k, seal, now, s.Server.Provider.KeyRefresh+s.Server.Provider.JWKSMaxAge, rotate)
	if err != nil {
		return err
	}
	kind := op.EventAdminKeyCreated
	if rotate {
		kind = op.EventAdminKeyRotated
	}
	c.audit(ctx, s, op.Event{Kind: kind, KeyID: sk.ID, Reason: sk.Alg})
	for _, old := range retired {
		c.audit(ctx, s, op.Event{Kind: op.EventAdminKeyRetired, KeyID: old.ID, Reason: old.Alg})
	}
	if c.json {
		out := struct {
			Created keyJSON   `json:"created"`
			Retired []keyJSON `json:"retired,omitempty"`
		}{Created: toKeyJSON(sk, now)}
		for _, r := range retired {
			out.Retired = append(out.Retired, toKeyJSON(r, now))
		}
		return c.printJSON(out)
	}
	fmt.Fprintf(a.stdout, "created %s key %s\n", sk.Alg, sk.ID)
	if !sk.ActivatesAt.IsZero() {
		fmt.Fprintf(a.stdout, "it is published now and signs from %s (key refresh + JWKS cache lifetime)\n", timeText(sk.ActivatesAt))
	}
	for _, r := range retired {
		fmt.Fprintf(a.stdout, "%s key %s signs until then and retires\n", r.Alg, r.ID)
	}
	return nil
}

func (a *app) keysList(ctx context.Context, args []string) error {
	now := a.now()
	return listing(ctx, a, "keys list", args, (*sqlstore.Store).ListKeys,
		func(k *storage.SigningKey) keyJSON { return toKeyJSON(k, now) },
		"KID\tALG\tCREATED\tSTATE",
		func(k *storage.SigningKey) string {
			state := keys.State(k, now)
			switch {
			case state == keys.StateNext:
				state += " (signs from " + timeText(k.ActivatesAt) + ")"
			case state == keys.StateRetired:
				state += " " + timeText(k.RetiredAt)
			case !k.RetiredAt.IsZero():
				state += " (retires " + timeText(k.RetiredAt) + ")"
			}
			return strings.Join([]string{k.ID, k.Alg, timeText(k.CreatedAt), state}, "\t")
		})
}
