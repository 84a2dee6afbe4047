package memstore

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/oidcd/oidcd/storage"
)

// CreateRegistrationToken implements storage.RegistrationTokens.
func (s *Store) CreateRegistrationToken(ctx context.Context, t *storage.RegistrationToken) error {
	if err := checkHash(t.Hash); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.regTokens[string(t.Hash)]; ok {
		return exists("create registration token")
	}
	cp := *t
	cp.Hash = bytes.Clone(t.Hash)
	cp.CreatedAt, cp.ExpiresAt = norm(t.CreatedAt), norm(t.ExpiresAt)
	s.regTokens[string(t.Hash)] = &cp
	return nil
}

// RegistrationToken implements storage.RegistrationTokens.
func (s *Store) RegistrationToken(ctx context.Context, hash []byte, now time.Time) (*storage.RegistrationToken, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t, ok := s.regTokens[string(hash)]
	if !ok || !live(t.ExpiresAt, norm(now)) || t.UsesLeft < 0 {
		return nil, notFound("registration token")
	}
	cp := *t
	cp.Hash = bytes.Clone(t.Hash)
	return &cp, nil
}

// UseRegistrationToken implements storage.RegistrationTokens.
func (s *Store) UseRegistrationToken(ctx context.Context, hash []byte, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.regTokens[string(hash)]
	if !ok || !live(t.ExpiresAt, norm(now)) || t.UsesLeft < 0 {
		return notFound("use registration token")
	}
	switch t.UsesLeft {
	case 0: // no limit
	case 1:
		delete(s.regTokens, string(hash))
	default:
		t.UsesLeft--
	}
	return nil
}

// deleteExpiredRegistration removes expired initial access tokens; the
// caller holds s.mu.
func (s *Store) deleteExpiredRegistration(now time.Time) int64 {
	var n int64
	for h, t := range s.regTokens {
		if !live(t.ExpiresAt, now) {
			delete(s.regTokens, h)
			n++
		}
	}
	for k, r := range s.pushed {
		if !live(r.ExpiresAt, now) {
			delete(s.pushed, k)
			n++
		}
	}
	for k, exp := range s.usedOnce {
		if !exp.After(now) {
			delete(s.usedOnce, k)
			n++
		}
	}
	return n
}

// UseOnce implements storage.Replays.
func (s *Store) UseOnce(ctx context.Context, key []byte, now, expiresAt time.Time) error {
	if err := checkHash(key); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if exp, ok := s.usedOnce[string(key)]; ok && exp.After(norm(now)) {
		return fmt.Errorf("memstore: use once: %w", storage.ErrReused)
	}
	s.usedOnce[string(key)] = norm(expiresAt)
	return nil
}

// Recorded implements storage.ReplayLookups.
func (s *Store) Recorded(ctx context.Context, key []byte, now time.Time) (bool, error) {
	if err := checkHash(key); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.usedOnce[string(key)]
	return ok && exp.After(norm(now)), nil
}

// CreatePushedRequest implements storage.PushedRequests.
func (s *Store) CreatePushedRequest(ctx context.Context, r *storage.PushedRequest) error {
	if err := checkHash(r.Hash); err != nil {
		return err
	}
	if err := checkID("client", r.ClientID); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.pushed[string(r.Hash)]; ok {
		return exists("create pushed request")
	}
	if _, ok := s.clients[r.ClientID]; !ok {
		return fmt.Errorf("memstore: create pushed request: unknown client %q", r.ClientID)
	}
	cp := *r
	cp.Hash = bytes.Clone(r.Hash)
	cp.CreatedAt, cp.ExpiresAt = norm(r.CreatedAt), norm(r.ExpiresAt)
	s.pushed[string(r.Hash)] = &cp
	return nil
}

// PushedRequest implements storage.PushedRequests.
func (s *Store) PushedRequest(ctx context.Context, hash []byte, now time.Time) (*storage.PushedRequest, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, ok := s.pushed[string(hash)]
	if !ok || !live(r.ExpiresAt, norm(now)) {
		return nil, notFound("pushed request")
	}
	cp := *r
	cp.Hash = bytes.Clone(r.Hash)
	return &cp, nil
}

// ConsumePushedRequest implements storage.PushedRequests.
func (s *Store) ConsumePushedRequest(ctx context.Context, hash []byte, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.pushed[string(hash)]
	if !ok || !live(r.ExpiresAt, norm(now)) {
		return notFound("consume pushed request")
	}
	delete(s.pushed, string(hash))
	return nil
}
