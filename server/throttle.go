package server

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/oidcd/oidcd/keys"
	"github.com/oidcd/oidcd/storage"
)

// LoginThrottle limits password guessing per username and per client IP,
// with counters in the shared database so that every node sees every
// attempt (SECURITY I2, L7; docs/security.md "Brute force").
//
// An attempt is reserved before its password is checked and released when
// it succeeds, so concurrent guesses on any number of nodes cannot check
// more passwords than the limit allows. Counters are keyed by an HMAC of
// the username or IP under a key derived from the system secret: the
// database never holds the names people typed.
type LoginThrottle struct {
	Store storage.Throttle
	// Sealer keys the counters (HMAC). Required.
	Sealer keys.Sealer
	// MaxFailures locks a username or IP once it has this many failures in
	// the window. Defaults to 10.
	MaxFailures int
	// Window is the sliding window failures count in. Defaults to 5m.
	Window time.Duration
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
}

func (t *LoginThrottle) params() (int, time.Duration, time.Time) {
	limit, win, now := t.MaxFailures, t.Window, time.Now()
	if limit <= 0 {
		limit = 10
	}
	if win <= 0 {
		win = 5 * time.Minute
	}
	if t.Now != nil {
		now = t.Now()
	}
	return limit, win, now
}

// NormalizeUsername is the form of a username the throttle counts by:
// trimmed and lower-cased, so that "Alice" and "alice " share one counter.
func NormalizeUsername(username string) string {
	return strings.ToLower(strings.TrimSpace(username))
}

// UserKey is the counter key of a username: a keyed digest, never the name
// itself (SECURITY L7).
func (t *LoginThrottle) UserKey(username string) string {
	return "login:user:" + base64.RawURLEncoding.EncodeToString(t.Sealer.MAC("throttle", "user", NormalizeUsername(username)))
}

// IPKey is the counter key of a client IP, keyed like UserKey.
func (t *LoginThrottle) IPKey(ip string) string {
	return "login:ip:" + base64.RawURLEncoding.EncodeToString(t.Sealer.MAC("throttle", "ip", ip))
}

// Attempt is a reserved login attempt: counted as a failure until
// Succeed releases it.
type Attempt struct {
	t             *LoginThrottle
	userKey, ipKx string
	at            time.Time
}

// Reserve counts an attempt for username from ip (ip may be empty) before
// its password is checked. When the username or the IP already had
// MaxFailures attempts in the window, locked is true: the reservation is
// undone, and the caller must refuse without checking the password and
// answer exactly as for a wrong password (SECURITY I3).
func (t *LoginThrottle) Reserve(ctx context.Context, username, ip string) (a *Attempt, locked bool, err error) {
	limit, win, now := t.params()
	since := now.Add(-win)
	a = &Attempt{t: t, userKey: t.UserKey(username), at: now}
	n, err := t.Store.AddFailure(ctx, a.userKey, now, since)
	if err != nil {
		return nil, false, fmt.Errorf("server: login throttle: %w", err)
	}
	locked = n > limit
	if ip != "" {
		a.ipKx = t.IPKey(ip)
		m, err := t.Store.AddFailure(ctx, a.ipKx, now, since)
		if err != nil {
			return nil, false, errors.Join(fmt.Errorf("server: login throttle: %w", err), a.release(ctx))
		}
		locked = locked || m > limit
	}
	if locked {
		// Attempts refused unchecked do not count: the counter stays at the
		// limit until the oldest failures leave the window, and a flood of
		// refused attempts adds no rows.
		if err := a.release(ctx); err != nil {
			return nil, false, err
		}
		return nil, true, nil
	}
	return a, false, nil
}

// release undoes the reservation on both counters.
func (a *Attempt) release(ctx context.Context) error {
	err := a.t.Store.ReleaseFailure(ctx, a.userKey, a.at)
	if a.ipKx != "" {
		err = errors.Join(err, a.t.Store.ReleaseFailure(ctx, a.ipKx, a.at))
	}
	if err != nil {
		return fmt.Errorf("server: login throttle: %w", err)
	}
	return nil
}

// Succeed forgets the failures of the username after a successful login
// and releases the IP's reservation. The IP's earlier failures are kept:
// one good account must not unlock guessing others. A failed attempt needs
// no call: its reservation is the recorded failure.
func (a *Attempt) Succeed(ctx context.Context) error {
	err := a.t.Store.ResetFailures(ctx, a.userKey)
	if a.ipKx != "" {
		err = errors.Join(err, a.t.Store.ReleaseFailure(ctx, a.ipKx, a.at))
	}
	if err != nil {
		return fmt.Errorf("server: login throttle: %w", err)
	}
	return nil
}
