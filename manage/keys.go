package manage

import (
	"context"
	"crypto"
	"fmt"
	"slices"
	"time"

	"github.com/oidcd/oidcd/keys"
	"github.com/oidcd/oidcd/storage"
)

// KeyInfo is a signing key as the console and `oidcd keys list` show it
// (never its private part).
type KeyInfo struct {
	KID       string
	Alg       string
	CreatedAt time.Time
	// State is keys.StateNext (published, not signing yet),
	// keys.StateActive or keys.StateRetired.
	State string
	// ActivatesAt is when a next key starts signing (zero: at once).
	ActivatesAt time.Time
	// RetiredAt is when the key stops (or stopped) signing; zero: never.
	RetiredAt time.Time
	// DeletableAt is when a retired key can be deleted: when no token it
	// signed can still be valid. Zero for keys that are not retiring.
	DeletableAt time.Time
}

// Keys returns every signing key, newest first, with its state now.
func (s *Service) Keys(ctx context.Context) ([]KeyInfo, error) {
	stored, err := s.cfg.Store.ListKeys(ctx)
	if err != nil {
		return nil, err
	}
	now := s.now()
	out := make([]KeyInfo, 0, len(stored))
	for _, k := range stored {
		out = append(out, s.keyInfo(k, now))
	}
	return out, nil
}

func (s *Service) keyInfo(k *storage.SigningKey, now time.Time) KeyInfo {
	ki := KeyInfo{KID: k.ID, Alg: k.Alg, CreatedAt: k.CreatedAt, State: keys.State(k, now), ActivatesAt: k.ActivatesAt, RetiredAt: k.RetiredAt}
	if !k.RetiredAt.IsZero() {
		ki.DeletableAt = s.deletableAt(k)
	}
	return ki
}

// deletableAt is when no token signed by a retired key can still be valid:
// its retirement plus the longest token lifetime, or its retirement when it
// never signed (retired before it activated).
func (s *Service) deletableAt(k *storage.SigningKey) time.Time {
	if !k.ActivatesAt.IsZero() && !k.RetiredAt.After(k.ActivatesAt) {
		return k.RetiredAt
	}
	return k.RetiredAt.Add(s.cfg.TokenLifetime)
}

// KeyResult is what a key change did.
type KeyResult struct {
	Key KeyInfo
	// Retired are the keys a rotation retires (they sign until Key
	// activates).
	Retired []KeyInfo
}

// CreateKey generates a key of alg (keys.RS256, keys.ES256 or keys.EdDSA).
// When a key of alg already signs, the new one is "next" for
// Config.KeyActivateAfter and then signs beside it (the newest signs).
func (s *Service) CreateKey(ctx context.Context, a Actor, alg string) (*KeyResult, error) {
	if !slices.Contains(keys.ServerAlgs, alg) {
		return nil, invalidf("the algorithm must be RS256, ES256 or EdDSA, not %q", alg)
	}
	k, err := keys.Generate(alg)
	if err != nil {
		return nil, err
	}
	return s.addKey(ctx, a, ActionKeyCreated, k, false)
}

// ImportKey stores the private key in pemData: PKCS #8, PKCS #1 (RSA;
// django-oidc-provider's creatersakey writes this) or SEC 1 (EC). Its
// algorithm follows from the key; it becomes "next" as CreateKey's does.
// ErrInvalid if the PEM cannot be read; storage.ErrAlreadyExists-wrapping
// ErrInvalid if the key is already stored.
func (s *Service) ImportKey(ctx context.Context, a Actor, pemData []byte) (*KeyResult, error) {
	k, err := keys.ParsePEM(pemData)
	if err != nil {
		return nil, invalidf("%v", err)
	}
	return s.addKey(ctx, a, ActionKeyImported, k, false)
}

// RotateKey generates a key of alg that is "next" for
// Config.KeyActivateAfter and retires the active keys of alg at the moment
// it activates; they stay published while tokens they signed can live, so
// relying parties verify tokens across the rotation.
func (s *Service) RotateKey(ctx context.Context, a Actor, alg string) (*KeyResult, error) {
	if !slices.Contains(keys.ServerAlgs, alg) {
		return nil, invalidf("the algorithm must be RS256, ES256 or EdDSA, not %q", alg)
	}
	k, err := keys.Generate(alg)
	if err != nil {
		return nil, err
	}
	return s.addKey(ctx, a, ActionKeyRotated, k, true)
}

func (s *Service) addKey(ctx context.Context, a Actor, action string, k crypto.Signer, rotate bool) (*KeyResult, error) {
	sealer, err := s.sealer()
	if err != nil {
		return nil, err
	}
	kid, err := keys.Thumbprint(k)
	if err != nil {
		return nil, err
	}
	now := s.now()
	var res KeyResult
	err = s.change(ctx, a, action, "key:"+kid, Change{KeyID: kid}, func(tx storage.Storage, rec *storage.AuditRecord) error {
		sk, retired, err := keys.AddKey(ctx, tx, k, sealer, now, s.cfg.KeyActivateAfter, rotate)
		if err != nil {
			if isAlreadyExists(err) {
				return invalidf("the key %s is already stored", kid)
			}
			return err
		}
		res = KeyResult{Key: s.keyInfo(sk, now)}
		rec.Detail = sk.Alg + " key"
		if !sk.ActivatesAt.IsZero() {
			rec.Detail += ", signs from " + sk.ActivatesAt.Format(time.RFC3339)
		}
		for _, r := range retired {
			res.Retired = append(res.Retired, s.keyInfo(r, now))
			rec.Detail += ", retires " + r.ID
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &res, nil
}

// RetireKey stops a key from signing. When another key of its algorithm is
// "next", the key signs until that one activates (so there is always a
// signer); it then stays published while tokens it signed can live.
// Retiring the only key that signs (or will sign) for its algorithm is
// ErrRefused: rotate it instead. Retiring a retired key is ErrRefused too.
func (s *Service) RetireKey(ctx context.Context, a Actor, kid string) (*KeyInfo, error) {
	all, err := s.cfg.Store.ListKeys(ctx)
	if err != nil {
		return nil, err
	}
	now := s.now()
	var k *storage.SigningKey
	for _, e := range all {
		if e.ID == kid {
			k = e
		}
	}
	if k == nil {
		return nil, fmt.Errorf("manage: key %q: %w", kid, storage.ErrNotFound)
	}
	if !k.RetiredAt.IsZero() {
		return nil, refusedf("key %s is already retired (or retiring at %s)", kid, k.RetiredAt.Format(time.RFC3339))
	}
	at := now
	successor := false
	for _, e := range all {
		if e.ID == kid || e.Alg != k.Alg || !e.RetiredAt.IsZero() {
			continue
		}
		successor = true
		if e.ActivatesAt.After(now) && keys.State(k, now) == keys.StateActive {
			// Keep signing until the next key does; the earliest next key
			// decides, unless an active one takes over at once.
			if at.Equal(now) || e.ActivatesAt.Before(at) {
				at = e.ActivatesAt
			}
		} else {
			at = now
			break
		}
	}
	if !successor {
		return nil, refusedf("key %s is the only %s key: rotate it (a new key replaces it) instead of retiring it", kid, k.Alg)
	}
	var info KeyInfo
	err = s.change(ctx, a, ActionKeyRetired, "key:"+kid, Change{KeyID: kid}, func(tx storage.Storage, rec *storage.AuditRecord) error {
		if err := tx.RetireKey(ctx, kid, at); err != nil {
			return err
		}
		k.RetiredAt = at
		info = s.keyInfo(k, now)
		rec.Detail = fmt.Sprintf("%s key, signs until %s, deletable from %s", k.Alg, at.Format(time.RFC3339), info.DeletableAt.Format(time.RFC3339))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &info, nil
}

// DeleteKey deletes a retired key once no token it signed can still be
// valid (KeyInfo.DeletableAt); before that, and for keys that are not
// retired, it is ErrRefused.
func (s *Service) DeleteKey(ctx context.Context, a Actor, kid string) error {
	all, err := s.cfg.Store.ListKeys(ctx)
	if err != nil {
		return err
	}
	now := s.now()
	for _, k := range all {
		if k.ID != kid {
			continue
		}
		if keys.State(k, now) != keys.StateRetired {
			return refusedf("key %s is %s: retire it first", kid, keys.State(k, now))
		}
		if d := s.deletableAt(k); now.Before(d) {
			return refusedf("tokens signed by key %s can be valid until %s; it can be deleted then", kid, d.Format(time.RFC3339))
		}
		return s.change(ctx, a, ActionKeyDeleted, "key:"+kid, Change{KeyID: kid}, func(tx storage.Storage, rec *storage.AuditRecord) error {
			rec.Detail = k.Alg + " key, retired " + k.RetiredAt.Format(time.RFC3339)
			return tx.DeleteKey(ctx, kid)
		})
	}
	return fmt.Errorf("manage: key %q: %w", kid, storage.ErrNotFound)
}
