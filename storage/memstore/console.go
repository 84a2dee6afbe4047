package memstore

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/oidcd/oidcd/storage"
)

// ListGrants implements storage.Grants.
func (s *Store) ListGrants(ctx context.Context, q storage.GrantQuery, now time.Time) ([]*storage.Grant, error) {
	now = norm(now)
	s.mu.RLock()
	var out []*storage.Grant
	for _, g := range s.grants {
		switch {
		case !g.RevokedAt.IsZero(), !g.ExpiresAt.IsZero() && !g.ExpiresAt.After(now):
		case q.UserID != "" && g.UserID != q.UserID, q.ClientID != "" && g.ClientID != q.ClientID:
		default:
			out = append(out, cloneGrant(g))
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b *storage.Grant) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// ListClientConsents implements storage.Consents, ordered by user id.
func (s *Store) ListClientConsents(ctx context.Context, clientID string) ([]*storage.Consent, error) {
	s.mu.RLock()
	var out []*storage.Consent
	for k, c := range s.consents {
		if k.client == clientID {
			out = append(out, cloneConsent(c))
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b *storage.Consent) int { return cmp.Compare(a.UserID, b.UserID) })
	return out, nil
}

// RevokeConsent implements storage.Consents under one lock.
func (s *Store) RevokeConsent(ctx context.Context, userID, clientID string, now time.Time) (bool, error) {
	if err := checkID("user", userID); err != nil {
		return false, err
	}
	if err := checkID("client", clientID); err != nil {
		return false, err
	}
	now = norm(now)
	s.mu.Lock()
	defer s.mu.Unlock()
	k := consentKey{userID, clientID}
	_, found := s.consents[k]
	delete(s.consents, k)
	for _, g := range s.grants {
		if g.UserID == userID && g.ClientID == clientID && g.RevokedAt.IsZero() {
			s.revokeGrant(g, now)
			found = true
		}
	}
	return found, nil
}
