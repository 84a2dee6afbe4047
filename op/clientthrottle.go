package op

import (
	"context"
	"encoding/base64"
	"net"
	"net/http"
	"time"
)

// Client authentication throttle (SECURITY E6). Failures are counted in
// storage per (client, IP), so every node sees them and an attacker cannot
// lock a client out for its other users. To keep successful requests free of
// an extra read, a node consults the counter only for pairs it has itself
// seen fail within the window: spreading guesses over N nodes buys at most
// N extra guesses.

// clientAuthKey is the counter key of a (client, IP) pair: a keyed digest,
// so the database holds no client IPs (SECURITY L7).
func (p *Provider) clientAuthKey(clientID, ip string) string {
	return "client_auth:" + base64.RawURLEncoding.EncodeToString(p.cfg.Sealer.MAC("throttle", "client_auth", clientID, ip))
}

// clientAuthLocked reports how long the pair must wait, or 0.
func (p *Provider) clientAuthLocked(ctx context.Context, clientID, ip string) (time.Duration, error) {
	key := p.clientAuthKey(clientID, ip)
	now := p.now()
	if _, seen := p.authFailures.Get(key, now); !seen {
		return 0, nil
	}
	n, err := p.store.Failures(ctx, key, now.Add(-p.cfg.ClientAuthFailureWindow))
	if err != nil {
		return 0, err
	}
	if n >= p.cfg.ClientAuthMaxFailures {
		return p.cfg.ClientAuthFailureWindow, nil
	}
	return 0, nil
}

// clientAuthFailed records a failed authentication of a client from ip.
func (p *Provider) clientAuthFailed(ctx context.Context, clientID, ip string) error {
	key := p.clientAuthKey(clientID, ip)
	now := p.now()
	p.authFailures.Put(key, struct{}{}, now)
	n, err := p.store.AddFailure(ctx, key, now, now.Add(-p.cfg.ClientAuthFailureWindow))
	if err == nil && n == p.cfg.ClientAuthMaxFailures {
		p.log.WarnContext(ctx, "client authentication throttled", "client_id", clientID, "ip", ip)
	}
	return err
}

// peerIP is the TCP peer's address without the port.
func peerIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
