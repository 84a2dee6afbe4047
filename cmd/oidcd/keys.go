package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/oidcd/oidcd/keys"
	"github.com/oidcd/oidcd/manage"
	"github.com/oidcd/oidcd/storage"
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
	DeletableAt *time.Time `json:"deletable_at,omitempty"`
}

// keys manages signing keys (django-oidc-provider's creatersakey, and
// more), through the service layer.
func (a *app) keys(ctx context.Context, args []string) error {
	sub, args, err := subcommand("keys", args, "create", "list", "rotate", "retire", "delete")
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
	case "retire", "delete":
		return a.keysByID(ctx, sub, args)
	}
	fmt.Fprint(a.stdout, "Usage: oidcd keys create|list|rotate|retire|delete [flags]\n")
	return nil
}

// keyJSONOf is a KeyInfo in --json output.
func keyJSONOf(k manage.KeyInfo) keyJSON {
	j := keyJSON{KID: k.KID, Alg: k.Alg, CreatedAt: k.CreatedAt.UTC(), State: k.State}
	opt := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		t = t.UTC()
		return &t
	}
	j.ActivatesAt, j.RetiredAt, j.DeletableAt = opt(k.ActivatesAt), opt(k.RetiredAt), opt(k.DeletableAt)
	return j
}

// keysCreate creates a key (generated, or imported from PEM) or, when
// rotating, a key that replaces the active keys of its algorithm. Retired
// keys stay published until the tokens they signed expire; running servers
// pick the new key up within their key refresh interval.
func (a *app) keysCreate(ctx context.Context, args []string, rotate bool) error {
	name := "keys create"
	if rotate {
		name = "keys rotate"
	}
	c := a.newCommand(name, "", true)
	alg := c.fs.String("alg", keys.RS256, "algorithm of a generated key: RS256, ES256 or EdDSA")
	var pemFile *string
	if !rotate {
		pemFile = c.fs.String("pem", "", "import the private key in this PEM `file` (PKCS #8, PKCS #1 as django-oidc-provider's creatersakey writes it, or SEC 1) instead of generating one")
	} else {
		pemFile = new(string)
	}
	if _, err := c.parse(args, 0, 0); err != nil {
		return err
	}
	if *pemFile == "" && !slices.Contains(keys.ServerAlgs, *alg) {
		return usagef("%s: --alg must be RS256, ES256 or EdDSA, not %q", name, *alg)
	}
	var pemData []byte
	if *pemFile != "" {
		b, err := os.ReadFile(*pemFile)
		if err != nil {
			return err
		}
		// Checked before the database is opened.
		if _, err := keys.ParsePEM(b); err != nil {
			return fmt.Errorf("%s: %w", *pemFile, err)
		}
		pemData = b
	}
	_, svc, store, err := c.openService(ctx, true)
	if err != nil {
		return err
	}
	defer store.Close()
	var res *manage.KeyResult
	switch {
	case rotate:
		res, err = svc.RotateKey(ctx, c.actor(), *alg)
	case pemData != nil:
		res, err = svc.ImportKey(ctx, c.actor(), pemData)
	default:
		res, err = svc.CreateKey(ctx, c.actor(), *alg)
	}
	if err != nil {
		return serviceErr(name, err)
	}
	if c.json {
		out := struct {
			Created keyJSON   `json:"created"`
			Retired []keyJSON `json:"retired,omitempty"`
		}{Created: keyJSONOf(res.Key)}
		for _, r := range res.Retired {
			out.Retired = append(out.Retired, keyJSONOf(r))
		}
		return c.printJSON(out)
	}
	fmt.Fprintf(a.stdout, "created %s key %s\n", res.Key.Alg, res.Key.KID)
	if !res.Key.ActivatesAt.IsZero() {
		fmt.Fprintf(a.stdout, "it is published now and signs from %s (key refresh + JWKS cache lifetime)\n", timeText(res.Key.ActivatesAt))
	}
	for _, r := range res.Retired {
		fmt.Fprintf(a.stdout, "%s key %s signs until then and retires\n", r.Alg, r.KID)
	}
	return nil
}

func (a *app) keysList(ctx context.Context, args []string) error {
	c := a.newCommand("keys list", "", true)
	if _, err := c.parse(args, 0, 0); err != nil {
		return err
	}
	_, svc, store, err := c.openService(ctx, false)
	if err != nil {
		return err
	}
	defer store.Close()
	all, err := svc.Keys(ctx)
	if err != nil {
		return err
	}
	now := a.now()
	return printRows(c, all, func(k manage.KeyInfo) any { return keyJSONOf(k) },
		"KID\tALG\tCREATED\tSTATE",
		func(k manage.KeyInfo) string {
			state := k.State
			switch {
			case state == keys.StateNext:
				state += " (signs from " + timeText(k.ActivatesAt) + ")"
			case state == keys.StateRetired && now.Before(k.DeletableAt):
				state += " " + timeText(k.RetiredAt) + " (deletable from " + timeText(k.DeletableAt) + ")"
			case state == keys.StateRetired:
				state += " " + timeText(k.RetiredAt) + " (deletable)"
			case !k.RetiredAt.IsZero():
				state += " (retires " + timeText(k.RetiredAt) + ", deletable from " + timeText(k.DeletableAt) + ")"
			}
			return strings.Join([]string{k.KID, k.Alg, timeText(k.CreatedAt), state}, "\t")
		})
}

// keysByID retires or deletes the key whose kid is the argument.
func (a *app) keysByID(ctx context.Context, sub string, args []string) error {
	c := a.newCommand("keys "+sub, " KID", sub == "retire")
	pos, err := c.parse(args, 1, 1)
	if err != nil {
		return err
	}
	kid := pos[0]
	_, svc, store, err := c.openService(ctx, false)
	if err != nil {
		return err
	}
	defer store.Close()
	if sub == "delete" {
		if err := svc.DeleteKey(ctx, c.actor(), kid); errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("keys delete: no key with kid %q", kid)
		} else if err != nil {
			return serviceErr("keys delete", err)
		}
		fmt.Fprintf(a.stdout, "deleted key %s\n", kid)
		return nil
	}
	k, err := svc.RetireKey(ctx, c.actor(), kid)
	if errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("keys retire: no key with kid %q", kid)
	} else if err != nil {
		return serviceErr("keys retire", err)
	}
	if c.json {
		return c.printJSON(keyJSONOf(*k))
	}
	fmt.Fprintf(a.stdout, "%s key %s signs until %s; it stays published until no token it signed can be valid, and can be deleted from %s\n",
		k.Alg, k.KID, timeText(k.RetiredAt), timeText(k.DeletableAt))
	return nil
}
