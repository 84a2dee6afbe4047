package main

import (
	"context"
	"fmt"
	"time"

	"github.com/oidcd/oidcd/op"
)

// registrationTokens manages initial access tokens for dynamic client
// registration (RFC 7591 §3).
func (a *app) registrationTokens(ctx context.Context, args []string) error {
	sub, args, err := subcommand("registration-tokens", args, "create")
	if err != nil {
		return err
	}
	if sub == "help" {
		fmt.Fprint(a.stdout, "Usage: oidcd registration-tokens create [--uses N] [--expires D] [--json]\n")
		return nil
	}
	c := a.newCommand("registration-tokens create", "", true)
	uses := c.fs.Int("uses", 1, "how many registrations the token allows (0: any number until it expires)")
	expires := c.fs.Duration("expires", 24*time.Hour, "how long the token is valid, a Go duration (2s, 30m, 24h)")
	if _, err := c.parse(args, 0, 0); err != nil {
		return err
	}
	if *uses < 0 {
		return usagef("registration-tokens create: --uses must be 0 or more")
	}
	if *expires <= 0 {
		return usagef("registration-tokens create: --expires must be positive")
	}
	_, store, err := c.settingsAndStore(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	now := a.now()
	tok, err := op.NewRegistrationToken(ctx, store, *uses, *expires, now)
	if err != nil {
		return err
	}
	exp := now.Add(*expires).UTC().Truncate(time.Second)
	if c.json {
		return c.printJSON(struct {
			Token     string    `json:"token"`
			Uses      int       `json:"uses"`
			ExpiresAt time.Time `json:"expires_at"`
		}{tok, *uses, exp})
	}
	usesText := fmt.Sprint(*uses)
	if *uses == 0 {
		usesText = "any number of"
	}
	fmt.Fprintf(a.stdout, "token: %s\n(allows %s registrations at /register until %s; shown only now)\n", tok, usesText, exp.Format(time.RFC3339))
	return nil
}
