package main

import (
	"log/slog"

	"github.com/oidcd/oidcd/keys"
	"github.com/oidcd/oidcd/server"
	"github.com/oidcd/oidcd/server/console"
	"github.com/oidcd/oidcd/storage"
)

// addConsole mounts the web console (/account, and /admin/ unless
// OIDCD_ADMIN_ENABLE=false) on srv. Its changes go through the service
// layer as the command line's do, wired to the running provider by
// Server.Manage: sessions end as a logout ends them, and this node's
// client, claims and key caches are dropped at once (other nodes see a
// changed client within the client cache lifetime, a new key within
// OIDCD_KEY_REFRESH).
func addConsole(srv *server.Server, store storage.Storage, seal keys.Sealer, s *Settings, log *slog.Logger) error {
	svc, err := srv.Manage(s.PasswordMinLength)
	if err != nil {
		return err
	}
	cfg := s.Console
	cfg.Server, cfg.Service, cfg.Store, cfg.Sealer, cfg.Logger = srv, svc, store, seal, log
	cfg.PasswordMinLength = s.PasswordMinLength
	cfg.StatelessClientCredentials = s.Server.Provider.StatelessClientCredentials
	con, err := console.New(cfg)
	if err != nil {
		return err
	}
	srv.AddPages(con)
	return nil
}
