package memstore

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/oidcd/oidcd/storage"
)

// Device authorizations (RFC 8628), kept by the device code digest and
// found by the user code digest through a second index.

// slowDownStep is what every too-early poll adds to the interval (RFC 8628 §3.5).
const slowDownStep = 5 * time.Second

func cloneDeviceAuth(d *storage.DeviceAuth) *storage.DeviceAuth {
	cp := *d
	cp.DeviceCodeHash = bytes.Clone(d.DeviceCodeHash)
	cp.UserCodeHash = bytes.Clone(d.UserCodeHash)
	cp.Scope = slices.Clone(d.Scope)
	cp.Resources = slices.Clone(d.Resources)
	cp.AuthTime, cp.CreatedAt, cp.ExpiresAt = norm(d.AuthTime), norm(d.CreatedAt), norm(d.ExpiresAt)
	cp.LastPolledAt, cp.ConsumedAt = norm(d.LastPolledAt), norm(d.ConsumedAt)
	cp.Interval = d.Interval.Truncate(time.Microsecond)
	if cp.Status == "" {
		cp.Status = storage.DevicePending
	}
	return &cp
}

// CreateDeviceAuth implements storage.DeviceAuths.
func (s *Store) CreateDeviceAuth(ctx context.Context, d *storage.DeviceAuth) error {
	if err := checkHash(d.DeviceCodeHash); err != nil {
		return err
	}
	if err := checkHash(d.UserCodeHash); err != nil {
		return err
	}
	if err := checkScope(d.Scope); err != nil {
		return err
	}
	if err := checkScope(d.Resources); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.clients[d.ClientID]; !ok {
		return fmt.Errorf("memstore: create device authorization: client %q does not exist", d.ClientID)
	}
	if _, ok := s.devices[string(d.DeviceCodeHash)]; ok {
		return exists("create device authorization")
	}
	if _, ok := s.userCodes[string(d.UserCodeHash)]; ok {
		return exists("create device authorization")
	}
	s.devices[string(d.DeviceCodeHash)] = cloneDeviceAuth(d)
	s.userCodes[string(d.UserCodeHash)] = string(d.DeviceCodeHash)
	return nil
}

// byUserCode returns the authorization of a user code digest; the caller
// holds the lock.
func (s *Store) byUserCode(h []byte) (*storage.DeviceAuth, bool) {
	dh, ok := s.userCodes[string(h)]
	if !ok || len(h) == 0 {
		return nil, false
	}
	d, ok := s.devices[dh]
	return d, ok
}

// DeviceAuthByUserCode implements storage.DeviceAuths.
func (s *Store) DeviceAuthByUserCode(ctx context.Context, userCodeHash []byte, now time.Time) (*storage.DeviceAuth, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d, ok := s.byUserCode(userCodeHash)
	if !ok || !live(d.ExpiresAt, norm(now)) {
		return nil, notFound("device authorization")
	}
	return cloneDeviceAuth(d), nil
}

// DecideDeviceAuth implements storage.DeviceAuths.
func (s *Store) DecideDeviceAuth(ctx context.Context, userCodeHash []byte, now time.Time, dec storage.DeviceDecision) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.byUserCode(userCodeHash)
	if !ok || d.Status != storage.DevicePending || !live(d.ExpiresAt, norm(now)) {
		return notFound("decide device authorization")
	}
	d.Status = storage.DeviceDenied
	if dec.Approved {
		d.Status = storage.DeviceApproved
	}
	d.UserID, d.SessionID, d.AuthTime = dec.UserID, dec.SessionID, norm(dec.AuthTime)
	return nil
}

// PollDeviceAuth implements storage.DeviceAuths.
func (s *Store) PollDeviceAuth(ctx context.Context, deviceCodeHash []byte, now time.Time) (*storage.DeviceAuth, bool, error) {
	now = norm(now)
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.devices[string(deviceCodeHash)]
	if !ok || len(deviceCodeHash) == 0 {
		return nil, false, notFound("poll device authorization")
	}
	tooSoon := !d.LastPolledAt.IsZero() && now.Sub(d.LastPolledAt) < d.Interval
	if tooSoon {
		d.Interval += slowDownStep
	}
	d.LastPolledAt = now
	return cloneDeviceAuth(d), tooSoon, nil
}

// ConsumeDeviceAuth implements storage.DeviceAuths: the check, the mark and
// the creation of g happen under one lock.
func (s *Store) ConsumeDeviceAuth(ctx context.Context, deviceCodeHash []byte, now time.Time, g *storage.Grant, tokens ...*storage.Token) (*storage.DeviceAuth, error) {
	if g != nil {
		if err := checkGrant(g, tokens); err != nil {
			return nil, err
		}
	}
	now = norm(now)
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.devices[string(deviceCodeHash)]
	if !ok || len(deviceCodeHash) == 0 {
		return nil, notFound("consume device authorization")
	}
	if !d.ConsumedAt.IsZero() {
		return cloneDeviceAuth(d), fmt.Errorf("memstore: consume device authorization: %w", storage.ErrReused)
	}
	if d.Status != storage.DeviceApproved || !live(d.ExpiresAt, now) {
		return nil, notFound("consume device authorization")
	}
	if g != nil {
		if err := s.insertGrant(g, tokens); err != nil {
			return nil, err
		}
	}
	d.ConsumedAt = now
	return cloneDeviceAuth(d), nil
}

// deleteDeviceAuth removes one authorization and its user-code index entry;
// the caller holds the write lock.
func (s *Store) deleteDeviceAuth(key string) {
	if d, ok := s.devices[key]; ok {
		delete(s.userCodes, string(d.UserCodeHash))
		delete(s.devices, key)
	}
}
