package memstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/oidcd/oidcd/storage"
)

func cloneSessionClient(sc *storage.SessionClient) *storage.SessionClient {
	cp := *sc
	cp.CreatedAt, cp.ExpiresAt = norm(sc.CreatedAt), norm(sc.ExpiresAt)
	return &cp
}

func cloneLogout(m *storage.LogoutMessage) *storage.LogoutMessage {
	cp := *m
	cp.NextAttemptAt, cp.LeaseUntil = norm(m.NextAttemptAt), norm(m.LeaseUntil)
	cp.CreatedAt, cp.ExpiresAt = norm(m.CreatedAt), norm(m.ExpiresAt)
	return &cp
}

// AddSessionClient implements storage.Logouts.
func (s *Store) AddSessionClient(ctx context.Context, sc *storage.SessionClient) error {
	if err := checkID("session", sc.SessionID); err != nil {
		return err
	}
	if err := checkID("client", sc.ClientID); err != nil {
		return err
	}
	if unmatchable(sc.UserID) {
		return fmt.Errorf("memstore: user id %q is not valid UTF-8 text", sc.UserID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := sessionClientKey{sc.SessionID, sc.ClientID}
	if old, ok := s.sessionClients[k]; ok {
		old.ExpiresAt = norm(sc.ExpiresAt)
		return nil
	}
	s.sessionClients[k] = cloneSessionClient(sc)
	return nil
}

// TakeSessionClients implements storage.Logouts.
func (s *Store) TakeSessionClients(ctx context.Context, sessionID string, now time.Time) ([]*storage.SessionClient, error) {
	if sessionID == "" {
		return nil, errors.New("memstore: take session clients: empty session id")
	}
	now = norm(now)
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*storage.SessionClient
	for k, sc := range s.sessionClients {
		if k.session != sessionID {
			continue
		}
		delete(s.sessionClients, k)
		if live(sc.ExpiresAt, now) {
			out = append(out, cloneSessionClient(sc))
		}
	}
	slices.SortFunc(out, func(a, b *storage.SessionClient) int { return cmp.Compare(a.ClientID, b.ClientID) })
	return out, nil
}

// EnqueueLogouts implements storage.Logouts: all or none.
func (s *Store) EnqueueLogouts(ctx context.Context, msgs ...*storage.LogoutMessage) error {
	for _, m := range msgs {
		if err := checkID("logout message", m.ID); err != nil {
			return err
		}
		if err := checkID("client", m.ClientID); err != nil {
			return err
		}
		for _, v := range []string{m.URI, m.Subject, m.SessionID, m.LastError} {
			if unmatchable(v) {
				return fmt.Errorf("memstore: logout message %q is not valid UTF-8 text", v)
			}
		}
		if m.NextAttemptAt.IsZero() {
			return fmt.Errorf("memstore: logout message %s has no NextAttemptAt", m.ID)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[string]bool{}
	for _, m := range msgs {
		if _, ok := s.logouts[m.ID]; ok || seen[m.ID] {
			return exists("enqueue logouts")
		}
		seen[m.ID] = true
	}
	for _, m := range msgs {
		s.logouts[m.ID] = cloneLogout(m)
	}
	return nil
}

// LeaseLogout implements storage.Logouts: under the store's mutex the
// check and the claim are one step.
func (s *Store) LeaseLogout(ctx context.Context, now, until time.Time) (*storage.LogoutMessage, error) {
	now = norm(now)
	s.mu.Lock()
	defer s.mu.Unlock()
	var best *storage.LogoutMessage
	for _, m := range s.logouts {
		if m.NextAttemptAt.After(now) || (!m.LeaseUntil.IsZero() && m.LeaseUntil.After(now)) {
			continue
		}
		if best == nil || cmp.Or(m.NextAttemptAt.Compare(best.NextAttemptAt), cmp.Compare(m.ID, best.ID)) < 0 {
			best = m
		}
	}
	if best == nil {
		return nil, notFound("lease logout")
	}
	best.LeaseUntil = norm(until)
	best.Attempts++
	return cloneLogout(best), nil
}

// RetryLogout implements storage.Logouts.
func (s *Store) RetryLogout(ctx context.Context, id string, next time.Time, lastError string) error {
	if unmatchable(lastError) {
		lastError = "(unprintable error)"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.logouts[id]
	if !ok {
		return notFound("retry logout")
	}
	m.LeaseUntil = time.Time{}
	m.NextAttemptAt = norm(next)
	m.LastError = lastError
	return nil
}

// DeleteLogout implements storage.Logouts.
func (s *Store) DeleteLogout(ctx context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.logouts, id)
	return nil
}

// LogoutMessages implements storage.Logouts, oldest first (zero creation
// time first), then by id.
func (s *Store) LogoutMessages(ctx context.Context) ([]*storage.LogoutMessage, error) {
	s.mu.RLock()
	out := make([]*storage.LogoutMessage, 0, len(s.logouts))
	for _, m := range s.logouts {
		out = append(out, cloneLogout(m))
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b *storage.LogoutMessage) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}
