package manage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage"
)

// UserConsents returns a user's consents (expired ones included), by client.
func (s *Service) UserConsents(ctx context.Context, userID string) ([]*storage.Consent, error) {
	return s.cfg.Store.ListConsents(ctx, userID)
}

// ClientConsents returns the consents given to a client, by user.
func (s *Service) ClientConsents(ctx context.Context, clientID string) ([]*storage.Consent, error) {
	return s.cfg.Store.ListClientConsents(ctx, clientID)
}

// UserGrants returns a user's live grants (each with its access and
// refresh tokens), newest first: the applications that have access now.
func (s *Service) UserGrants(ctx context.Context, userID string) ([]*storage.Grant, error) {
	if userID == "" {
		return nil, invalidf("no user given")
	}
	return s.cfg.Store.ListGrants(ctx, storage.GrantQuery{UserID: userID}, s.now())
}

// ClientGrants returns a client's live grants, newest first.
func (s *Service) ClientGrants(ctx context.Context, clientID string) ([]*storage.Grant, error) {
	if clientID == "" {
		return nil, invalidf("no client given")
	}
	return s.cfg.Store.ListGrants(ctx, storage.GrantQuery{ClientID: clientID}, s.now())
}

// RevokeConsent takes back everything a user gave a client, atomically:
// the remembered consent and every grant of the user to the client (their
// access and refresh tokens stop working at once, on every node). The next
// authorization asks for consent again. A user revoking its own (a.UserID
// == userID: the account page) is recorded as account.consent_revoked.
// storage.ErrNotFound if there was nothing to revoke.
func (s *Service) RevokeConsent(ctx context.Context, a Actor, userID, clientID string) error {
	action := ActionConsentRevoked
	if a.UserID == userID {
		action = ActionAccountConsentRevoked
	}
	now := s.now()
	err := s.change(ctx, a, action, "user:"+userID, Change{UserID: userID, ClientID: clientID}, func(tx storage.Storage, rec *storage.AuditRecord) error {
		rec.Detail = "client " + clientID + ": consent and grants revoked"
		found, err := tx.RevokeConsent(ctx, userID, clientID, now)
		if err == nil && !found {
			err = fmt.Errorf("manage: revoke consent: %w", storage.ErrNotFound)
		}
		return err
	})
	return err
}

// RevokeGrant revokes one grant: its access and refresh tokens stop
// working. storage.ErrNotFound if it is not live.
func (s *Service) RevokeGrant(ctx context.Context, a Actor, grantID string) error {
	g, err := s.cfg.Store.Grant(ctx, grantID)
	if err != nil {
		return err
	}
	return s.change(ctx, a, ActionGrantRevoked, "grant:"+grantID, Change{UserID: g.UserID, ClientID: g.ClientID}, func(tx storage.Storage, rec *storage.AuditRecord) error {
		rec.Detail = fmt.Sprintf("grant of user %s to client %s", g.UserID, g.ClientID)
		return tx.RevokeGrant(ctx, grantID, s.now())
	})
}

// RevokeToken revokes an access or refresh token given by its value: the
// whole grant of a stored token (as RevokeGrant), or a stateless
// client_credentials token (op.Config.StatelessClientCredentials), which
// has no grant, until it expires. storage.ErrNotFound if it is not live
// (for a stateless token: expired, or not made under this system secret).
func (s *Service) RevokeToken(ctx context.Context, a Actor, value string) error {
	now := s.now()
	if !strings.HasPrefix(value, op.StatelessTokenPrefix) {
		tok, _, err := s.cfg.Store.Token(ctx, op.TokenKey(value), now)
		if err != nil {
			return err
		}
		return s.RevokeGrant(ctx, a, tok.GrantID)
	}
	if s.cfg.Sealer == nil {
		return errors.New("manage: revoking a stateless token needs the system secret")
	}
	key, clientID, expires, err := op.StatelessRevocation(s.cfg.Sealer, value)
	if err != nil {
		return err
	}
	if !now.Before(expires) {
		return fmt.Errorf("manage: the token expired at %s: %w", expires.UTC().Format(time.RFC3339), storage.ErrNotFound)
	}
	return s.change(ctx, a, ActionTokenRevoked, "client:"+clientID, Change{ClientID: clientID}, func(tx storage.Storage, rec *storage.AuditRecord) error {
		rec.Detail = "stateless access token of client " + clientID + ", valid until " + expires.UTC().Format(time.RFC3339)
		if err := tx.UseOnce(ctx, key, now, expires); err != nil && !errors.Is(err, storage.ErrReused) {
			return err
		}
		return nil
	})
}

// UserSessions returns a user's live browser sessions, newest first.
func (s *Service) UserSessions(ctx context.Context, userID string) ([]*storage.Session, error) {
	if userID == "" {
		return nil, invalidf("no user given")
	}
	return s.cfg.Store.ListSessions(ctx, storage.SessionQuery{UserID: userID}, s.now())
}

// ClientSessions returns the live browser sessions a client took part in
// (it was given a code or tokens in them), newest first.
func (s *Service) ClientSessions(ctx context.Context, clientID string) ([]*storage.Session, error) {
	if clientID == "" {
		return nil, invalidf("no client given")
	}
	return s.cfg.Store.ListSessions(ctx, storage.SessionQuery{ClientID: clientID}, s.now())
}

// RevokeSession ends one browser session, by its public id (the sid): the
// grants made in it are revoked and, with Config.EndSession, its clients
// get back-channel logout tokens; then the session is deleted, so its
// cookie no longer signs anyone in. storage.ErrNotFound if no live session
// has this id.
func (s *Service) RevokeSession(ctx context.Context, a Actor, sessionID string) error {
	sess, err := s.liveSession(ctx, sessionID)
	if err != nil {
		return err
	}
	return s.endSessions(ctx, a, ActionSessionRevoked, "session:"+sessionID, sess.UserID, []*storage.Session{sess})
}

// SignOutEverywhere ends every session of a user (the account page's "sign
// out everywhere", or an admin's). A user doing it to itself is recorded
// as account.signed_out_everywhere.
func (s *Service) SignOutEverywhere(ctx context.Context, a Actor, userID string) (int, error) {
	sessions, err := s.UserSessions(ctx, userID)
	if err != nil {
		return 0, err
	}
	if len(sessions) == 0 {
		return 0, nil
	}
	action := ActionUserSessionsEnded
	if a.UserID == userID {
		action = ActionAccountSignedOut
	}
	return len(sessions), s.endSessions(ctx, a, action, "user:"+userID, userID, sessions)
}

func (s *Service) liveSession(ctx context.Context, id string) (*storage.Session, error) {
	if id == "" {
		return nil, invalidf("no session given")
	}
	found, err := s.cfg.Store.ListSessions(ctx, storage.SessionQuery{ID: id}, s.now())
	if err != nil {
		return nil, err
	}
	if len(found) > 0 {
		return found[0], nil
	}
	return nil, fmt.Errorf("manage: session %q: %w", id, storage.ErrNotFound)
}

// endSessions ends sessions on the provider's side (Config.EndSession:
// grants and back-channel logout), then deletes them with the audit record.
func (s *Service) endSessions(ctx context.Context, a Actor, action, target, userID string, sessions []*storage.Session) error {
	now := s.now()
	for _, ss := range sessions {
		if s.cfg.EndSession != nil {
			if err := s.cfg.EndSession(ctx, ss.UserID, ss.ID); err != nil {
				return err
			}
		}
	}
	return s.change(ctx, a, action, target, Change{UserID: userID}, func(tx storage.Storage, rec *storage.AuditRecord) error {
		rec.Detail = fmt.Sprintf("%d sessions of user %s ended", len(sessions), userID)
		for _, ss := range sessions {
			if s.cfg.EndSession == nil {
				if err := tx.RevokeSessionGrants(ctx, ss.ID, now); err != nil {
					return err
				}
			}
			if err := tx.DeleteSessionByID(ctx, ss.ID); err != nil && !isNotFound(err) {
				return err
			}
		}
		return nil
	})
}
