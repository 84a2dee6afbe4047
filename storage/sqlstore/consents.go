package sqlstore

import (
	"context"
	"time"

	"github.com/oidcd/oidcd/storage"
)

const consentCols = `user_id, client_id, scope, given_at, expires_at, claims`

func scanConsent(r scanner) (*storage.Consent, error) {
	var c storage.Consent
	if err := r.Scan(&c.UserID, &c.ClientID, scopeCol{&c.Scope}, timeCol{&c.GivenAt}, timeCol{&c.ExpiresAt}, listCol{&c.Claims}); err != nil {
		return nil, err
	}
	return &c, nil
}

// SaveConsent implements storage.Consents. The client must exist.
func (s *Store) SaveConsent(ctx context.Context, c *storage.Consent) error {
	if err := checkID("user", c.UserID); err != nil {
		return err
	}
	if err := checkScope(c.Scope); err != nil {
		return err
	}
	_, err := s.writer().exec(ctx, `INSERT INTO consents (`+consentCols+`) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (user_id, client_id) DO UPDATE SET
			scope = excluded.scope, given_at = excluded.given_at, expires_at = excluded.expires_at,
			claims = excluded.claims`,
		c.UserID, c.ClientID, scopeArg(c.Scope), timeArg(c.GivenAt), timeArg(c.ExpiresAt), listArg(c.Claims))
	return s.wrapErr("save consent", err)
}

// Consent implements storage.Consents. A zero ExpiresAt counts as expired.
func (s *Store) Consent(ctx context.Context, userID, clientID string, now time.Time) (*storage.Consent, error) {
	if unmatchable(userID) || unmatchable(clientID) {
		return nil, notFound("consent")
	}
	c, err := scanConsent(s.reader().row(ctx, `SELECT `+consentCols+` FROM consents
		WHERE user_id = ? AND client_id = ? AND expires_at > ?`, userID, clientID, now.UnixMicro()))
	if err != nil {
		return nil, s.wrapErr("consent", err)
	}
	return c, nil
}

// ListConsents implements storage.Consents, ordered by client id.
func (s *Store) ListConsents(ctx context.Context, userID string) ([]*storage.Consent, error) {
	rows, err := s.reader().rows(ctx, `SELECT `+consentCols+` FROM consents WHERE user_id = ? ORDER BY client_id`, userID)
	if err != nil {
		return nil, s.wrapErr("list consents", err)
	}
	defer rows.Close()
	var out []*storage.Consent
	for rows.Next() {
		c, err := scanConsent(rows)
		if err != nil {
			return nil, s.wrapErr("list consents", err)
		}
		out = append(out, c)
	}
	return out, s.wrapErr("list consents", rows.Err())
}

// DeleteConsent implements storage.Consents.
func (s *Store) DeleteConsent(ctx context.Context, userID, clientID string) error {
	n, err := s.writer().execN(ctx, `DELETE FROM consents WHERE user_id = ? AND client_id = ?`, userID, clientID)
	if err != nil {
		return s.wrapErr("delete consent", err)
	}
	if n == 0 {
		return notFound("delete consent")
	}
	return nil
}

// ListClientConsents implements storage.Consents, ordered by user id.
func (s *Store) ListClientConsents(ctx context.Context, clientID string) ([]*storage.Consent, error) {
	rows, err := s.reader().rows(ctx, `SELECT `+consentCols+` FROM consents WHERE client_id = ? ORDER BY user_id`, clientID)
	if err != nil {
		return nil, s.wrapErr("list client consents", err)
	}
	defer rows.Close()
	var out []*storage.Consent
	for rows.Next() {
		c, err := scanConsent(rows)
		if err != nil {
			return nil, s.wrapErr("list client consents", err)
		}
		out = append(out, c)
	}
	return out, s.wrapErr("list client consents", rows.Err())
}

// RevokeConsent implements storage.Consents in one transaction.
func (s *Store) RevokeConsent(ctx context.Context, userID, clientID string, now time.Time) (bool, error) {
	defer s.forgetAll()
	if err := checkID("user", userID); err != nil {
		return false, err
	}
	if err := checkID("client", clientID); err != nil {
		return false, err
	}
	var found bool
	err := s.inTx(ctx, func(c conn) error {
		found = false
		n, err := c.execN(ctx, `DELETE FROM consents WHERE user_id = ? AND client_id = ?`, userID, clientID)
		if err != nil {
			return s.wrapErr("revoke consent", err)
		}
		m, err := c.execN(ctx, `UPDATE grants SET revoked_at = ? WHERE user_id = ? AND user_id <> '' AND client_id = ? AND revoked_at IS NULL`,
			now.UnixMicro(), userID, clientID)
		if err != nil {
			return s.wrapErr("revoke consent", err)
		}
		if _, err := c.exec(ctx, `DELETE FROM tokens WHERE grant_id IN
			(SELECT id FROM grants WHERE user_id = ? AND user_id <> '' AND client_id = ?)`, userID, clientID); err != nil {
			return s.wrapErr("revoke consent", err)
		}
		found = n > 0 || m > 0
		return nil
	})
	return found, err
}
