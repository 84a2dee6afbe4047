package keys

import (
	"context"
	"crypto"
	"fmt"
	"time"

	"github.com/oidcd/oidcd/storage"
)

// Key states, as `oidcd keys list` shows them.
const (
	StateNext    = "next"    // published, not signing yet
	StateActive  = "active"  // signing (or may sign: the newest active key of its alg does)
	StateRetired = "retired" // published while tokens it signed can live
)

// State is the state of a stored key at now.
func State(k *storage.SigningKey, now time.Time) string {
	switch {
	case !k.RetiredAt.IsZero() && !now.Before(k.RetiredAt):
		return StateRetired
	case !k.ActivatesAt.IsZero() && now.Before(k.ActivatesAt):
		return StateNext
	}
	return StateActive
}

// AddKey stores k as a new signing key. When a key of its algorithm is
// already active, the new key is "next" for activateAfter: every node
// publishes it within its key refresh interval, and relying parties' cached
// JWKS documents expire, before any token carries its kid; activateAfter
// must be at least the key refresh interval plus the JWKS cache lifetime
// (docs/security.md "Signing keys"). With rotate, the active keys of its
// algorithm retire at the moment it activates (they sign until then), and
// stay published while tokens they signed can live. It returns the new key
// and the keys it retires.
func AddKey(ctx context.Context, store storage.Keys, k crypto.Signer, s Sealer, now time.Time, activateAfter time.Duration, rotate bool) (*storage.SigningKey, []*storage.SigningKey, error) {
	sk, err := NewSigningKey(k, s, now)
	if err != nil {
		return nil, nil, err
	}
	existing, err := store.ListKeys(ctx)
	if err != nil {
		return nil, nil, err
	}
	var active []*storage.SigningKey
	for _, e := range existing {
		if e.Alg == sk.Alg && State(e, now) != StateRetired && e.RetiredAt.IsZero() {
			active = append(active, e)
		}
	}
	activates := now
	if len(active) > 0 {
		activates = now.Add(activateAfter)
		sk.ActivatesAt = activates.UTC()
	}
	if err := store.CreateKey(ctx, sk); err != nil {
		return nil, nil, fmt.Errorf("store key %s: %w", sk.ID, err)
	}
	var retired []*storage.SigningKey
	if rotate {
		for _, e := range active {
			if err := store.RetireKey(ctx, e.ID, activates.UTC()); err != nil {
				return nil, nil, fmt.Errorf("retire key %s: %w", e.ID, err)
			}
			e.RetiredAt = activates.UTC()
			retired = append(retired, e)
		}
	}
	return sk, retired, nil
}
