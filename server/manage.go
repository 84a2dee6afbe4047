package server

import (
	"context"

	"github.com/oidcd/oidcd/manage"
	"github.com/oidcd/oidcd/op"
)

// Manage returns the service layer (package manage) over this server's
// storage, wired to its provider, for the console's pages: a session
// revoked there ends as a logout ends it (its grants revoked, back-channel
// logout tokens queued); every change is a security event (log, metrics);
// and a changed client, account or key is seen by this node at once (its
// client and claims caches dropped, its keys re-read), by other nodes
// within their cache lifetimes. passwordMinLength is the password policy
// (OIDCD_PASSWORD_MIN_LENGTH; 0: DefaultPasswordMinLength).
func (s *Server) Manage(passwordMinLength int) (*manage.Service, error) {
	t := s.provider.Timings()
	p := s.provider
	return manage.New(manage.Config{
		Store:               s.store,
		Sealer:              s.sealer,
		Rules:               AccountRules{PasswordMinLength: passwordMinLength},
		Now:                 s.now,
		KeyActivateAfter:    t.KeyRefresh + t.JWKSMaxAge,
		TokenLifetime:       max(t.IDTokenExpire, t.TokenExpire),
		ClientCacheTTL:      max(t.ClientCacheTTL, 0),
		AllowPrivateTargets: s.cfg.Provider.InsecureAllowPrivateTargets,
		InsecureAllowHTTP:   s.cfg.Provider.Registration.InsecureAllowHTTP,
		EndSession: func(ctx context.Context, userID, sid string) error {
			_, err := p.EndSession(ctx, op.Logout{UserID: userID, SessionID: sid})
			return err
		},
		Emit: p.Emit,
		Changed: func(ctx context.Context, c manage.Change) {
			if c.ClientID != "" {
				p.ForgetClient(c.ClientID)
			}
			if c.UserID != "" && s.claims != nil {
				s.claims.Delete(c.UserID)
			}
			if c.KeyID != "" {
				if err := p.ReloadKeys(ctx); err != nil {
					s.log.WarnContext(ctx, "reload keys after a change", "kid", c.KeyID, "err", err)
				}
			}
		},
		Log: s.log,
	})
}
