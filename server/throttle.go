package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/oidcd/oidcd/storage"
)

// LoginThrottle limits password guessing per username and per client IP,
// with counters in the shared database so that every node sees every
// failure (SECURITY I2). The login form uses it, and so can the password
// grant. Its zero value needs only Store.
type LoginThrottle struct {
	Store storage.Throttle
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

func userKey(username string) string { return "login:user:" + NormalizeUsername(username) }
func ipKey(ip string) string         { return "login:ip:" + ip }

// Check reports whether an attempt for username from ip may proceed. When
// either has reached MaxFailures in the window it returns how long to wait
// (> 0); the caller must then refuse without checking the password, and
// answer exactly as for a wrong password (SECURITY I3). ip may be empty.
func (t *LoginThrottle) Check(ctx context.Context, username, ip string) (retryAfter time.Duration, err error) {
	limit, win, now := t.params()
	since := now.Add(-win)
	n, err := t.Store.Failures(ctx, userKey(username), since)
	if err != nil {
		return 0, fmt.Errorf("server: login throttle: %w", err)
	}
	if n < limit && ip != "" {
		if n, err = t.Store.Failures(ctx, ipKey(ip), since); err != nil {
			return 0, fmt.Errorf("server: login throttle: %w", err)
		}
	}
	if n >= limit {
		return win, nil
	}
	return 0, nil
}

// Fail records a failed attempt for username and ip (ip may be empty).
func (t *LoginThrottle) Fail(ctx context.Context, username, ip string) error {
	_, win, now := t.params()
	since := now.Add(-win)
	_, err := t.Store.AddFailure(ctx, userKey(username), now, since)
	if ip != "" {
		_, err2 := t.Store.AddFailure(ctx, ipKey(ip), now, since)
		err = errors.Join(err, err2)
	}
	if err != nil {
		return fmt.Errorf("server: login throttle: %w", err)
	}
	return nil
}

// Succeed forgets the failures of username after a successful login. The
// IP's counter is kept: one good account must not unlock guessing others.
func (t *LoginThrottle) Succeed(ctx context.Context, username string) error {
	if err := t.Store.ResetFailures(ctx, userKey(username)); err != nil {
		return fmt.Errorf("server: login throttle: %w", err)
	}
	return nil
}
