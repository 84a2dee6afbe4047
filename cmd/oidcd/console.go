package main

import (
	"context"
	"errors"
	"fmt"
	"os/user"
	"strings"
	"text/tabwriter"

	"github.com/oidcd/oidcd/keys"
	"github.com/oidcd/oidcd/manage"
	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/server"
	"github.com/oidcd/oidcd/storage"
	"github.com/oidcd/oidcd/storage/sqlstore"
)

// openService is service over the command's settings, which it returns too.
func (c *command) openService(ctx context.Context, sealed bool) (*Settings, *manage.Service, *sqlstore.Store, error) {
	s, err := c.settings()
	if err != nil {
		return nil, nil, nil, err
	}
	svc, store, err := c.service(ctx, s, sealed)
	return s, svc, store, err
}

// service opens the database of s and returns the service layer over it
// (package manage), the one way the command line and the console change
// anything. sealed opens the system secret too: the commands that make
// client secrets or signing keys need it, those about users do not.
func (c *command) service(ctx context.Context, s *Settings, sealed bool) (*manage.Service, *sqlstore.Store, error) {
	var (
		store *sqlstore.Store
		seal  keys.Sealer
		err   error
	)
	if sealed {
		store, seal, err = c.openSealed(ctx, s)
	} else {
		store, err = c.open(ctx, s)
	}
	if err != nil {
		return nil, nil, err
	}
	log := newLogger(s, c.a.stderr)
	svc, err := manage.New(manage.Config{
		Store:               store,
		Sealer:              seal,
		Rules:               server.AccountRules{PasswordMinLength: s.PasswordMinLength},
		Now:                 c.a.now,
		KeyActivateAfter:    s.Server.Provider.KeyRefresh + s.Server.Provider.JWKSMaxAge,
		TokenLifetime:       max(s.Server.Provider.IDTokenExpire, s.Server.Provider.TokenExpire),
		AllowPrivateTargets: s.Server.Provider.InsecureAllowPrivateTargets,
		InsecureAllowHTTP:   s.Server.Provider.Registration.InsecureAllowHTTP,
		Emit:                func(ctx context.Context, e op.Event) { op.LogEvent(ctx, log, e) },
		Log:                 log,
	})
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	return svc, store, nil
}

// actor is who runs the command: "cli:" and the operating-system user.
func (c *command) actor() manage.Actor {
	name := ""
	if u, err := user.Current(); err == nil {
		name = u.Username
	} else if v, ok := c.a.lookupEnv("USER"); ok {
		name = v
	}
	return manage.CommandLine(name)
}

// serviceErr turns the service layer's refusals into command-line errors:
// bad input is a usage error (exit 2), the rest exit 1 with the message.
func serviceErr(name string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, manage.ErrInvalid):
		msg := strings.TrimPrefix(err.Error(), manage.ErrInvalid.Error()+":")
		return usagef("%s: %s", name, strings.ReplaceAll(strings.TrimSpace(msg), "\n", "\n  "))
	case errors.Is(err, manage.ErrRefused):
		return fmt.Errorf("%s: %s", name, strings.TrimPrefix(err.Error(), manage.ErrRefused.Error()+": "))
	}
	return fmt.Errorf("%s: %w", name, err)
}

// findUserID resolves a --username to the account's id.
func findUserID(ctx context.Context, svc *manage.Service, username string) (*storage.User, error) {
	u, err := svc.UserByUsername(ctx, username)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, fmt.Errorf("no user named %q", username)
	}
	return u, err
}

// printRows prints rows as a JSON array (--json) or as a table with a
// header and one tab-separated line each.
func printRows[T any](c *command, rows []T, toJSON func(T) any, header string, line func(T) string) error {
	if c.json {
		out := []any{}
		for _, v := range rows {
			out = append(out, toJSON(v))
		}
		return c.printJSON(out)
	}
	tw := tabwriter.NewWriter(c.a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, v := range rows {
		fmt.Fprintln(tw, line(v))
	}
	return tw.Flush()
}

// withProvider returns the service layer of store with the provider's way
// of ending sessions (op.Provider.EndSession): the grants made in a
// session are revoked and its clients' back-channel logout tokens queued
// in the database, where the running servers deliver them. It opens the
// system secret (the provider signs with the stored keys) and builds the
// provider as serve does, without serving.
func (c *command) withProvider(ctx context.Context, s *Settings, store *sqlstore.Store) (*manage.Service, func(), error) {
	seal, err := checkedSealer(ctx, s, store)
	if err != nil {
		return nil, nil, err
	}
	log := newLogger(s, c.a.stderr)
	cfg := s.serverConfig()
	cfg.Store, cfg.Sealer, cfg.Logger = store, seal, log
	srv, err := server.New(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	p := srv.Provider()
	svc, err := manage.New(manage.Config{
		Store:            store,
		Sealer:           seal,
		Rules:            server.AccountRules{PasswordMinLength: s.PasswordMinLength},
		Now:              c.a.now,
		KeyActivateAfter: s.Server.Provider.KeyRefresh + s.Server.Provider.JWKSMaxAge,
		TokenLifetime:    max(s.Server.Provider.IDTokenExpire, s.Server.Provider.TokenExpire),
		EndSession: func(ctx context.Context, userID, sid string) error {
			_, err := p.EndSession(ctx, op.Logout{UserID: userID, SessionID: sid})
			return err
		},
		Emit: p.Emit,
		Log:  log,
	})
	if err != nil {
		srv.Close()
		return nil, nil, err
	}
	return svc, func() { srv.Close() }, nil
}
