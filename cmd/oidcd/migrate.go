package main

import (
	"context"
	"fmt"
)

// migrate applies the schema migrations.
func (a *app) migrate(ctx context.Context, args []string) error {
	c := a.newCommand("migrate", "", false)
	if _, err := c.parse(args, 0, 0); err != nil {
		return err
	}
	_, store, err := c.settingsAndStore(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	fmt.Fprintln(a.stdout, "database is up to date")
	return nil
}
