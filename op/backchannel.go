package op

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/oidcd/oidcd/keys"
	"github.com/oidcd/oidcd/storage"
)

// backchannelEvent is the event of a logout token (Back-Channel Logout 1.0 §2.4).
const backchannelEvent = "http://schemas.openid.net/event/backchannel-logout"

// logoutTokenLife is the exp - iat of a logout token: Back-Channel Logout
// 1.0 §2.4 recommends two minutes or less. Tokens are signed at each
// attempt, so a retry never sends a stale one.
const logoutTokenLife = 2 * time.Minute

// logoutWorkers deliver in parallel, so one slow relying party does not
// hold up the others.
const logoutWorkers = 4

// logoutToken builds and signs the logout token of m for client c
// (Back-Channel Logout 1.0 §2.4): iss, sub, aud, iat, exp, jti, events and
// sid, never a nonce; "typ" logout+jwt (§2.4, §4.1: explicit typing keeps
// it from being taken for an ID token); signed like the client's ID tokens.
func (p *Provider) logoutToken(c *storage.Client, m *storage.LogoutMessage) (string, error) {
	now := p.now()
	claims := map[string]any{
		"iss":    p.cfg.Issuer,
		"aud":    c.ID,
		"iat":    now.Unix(),
		"exp":    now.Add(logoutTokenLife).Unix(),
		"jti":    m.ID,
		"events": map[string]any{backchannelEvent: map[string]any{}},
	}
	if m.Subject != "" {
		claims["sub"] = m.Subject
	}
	if m.SessionID != "" {
		claims["sid"] = m.SessionID
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	const typ = "logout+jwt"
	alg := c.JWTAlg
	if alg == "" {
		alg = keys.RS256
	}
	if alg == keys.HS256 {
		secret, err := p.clientSecret(c)
		if err != nil {
			return "", err
		}
		return keys.SignHS256Typed(secret, typ, payload)
	}
	return p.keySet().SignTyped(alg, typ, payload)
}

// wakeDelivery tells an idle delivery worker of this node that messages
// were queued.
func (p *Provider) wakeDelivery() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *Provider) deliveryLoop(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-p.wake:
		}
		for ctx.Err() == nil {
			now := p.now()
			m, err := p.store.LeaseLogout(ctx, now, now.Add(p.cfg.LogoutLease))
			if errors.Is(err, storage.ErrNotFound) {
				break
			}
			if err != nil {
				if ctx.Err() == nil {
					p.log.ErrorContext(ctx, "back-channel logout: lease", "err", err)
				}
				break
			}
			p.deliver(ctx, m)
		}
		t.Reset(p.cfg.LogoutDeliveryInterval)
	}
}

// deliver makes one attempt at m and records the outcome.
func (p *Provider) deliver(ctx context.Context, m *storage.LogoutMessage) {
	log := p.log.With("client", m.ClientID, "jti", m.ID, "attempt", m.Attempts)
	c, err := p.client(ctx, m.ClientID)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && c.BackchannelLogoutURI == "") {
		log.InfoContext(ctx, "back-channel logout dropped: the client or its backchannel_logout_uri is gone")
		p.finishLogout(ctx, m)
		return
	}
	if err == nil {
		err = p.postLogout(ctx, c, m)
	}
	if err == nil {
		log.InfoContext(ctx, "back-channel logout delivered", "uri", redactURL(c.BackchannelLogoutURI))
		p.Emit(ctx, Event{Kind: EventBackchannelDelivered, ClientID: m.ClientID})
		p.finishLogout(ctx, m)
		return
	}
	now := p.now()
	if !now.Before(m.ExpiresAt) {
		log.WarnContext(ctx, "back-channel logout given up", "err", err, "since", m.CreatedAt)
		p.Emit(ctx, Event{Kind: EventBackchannelFailed, ClientID: m.ClientID, Reason: "given up"})
		p.finishLogout(ctx, m)
		return
	}
	next := now.Add(p.logoutBackoff(m.Attempts))
	log.WarnContext(ctx, "back-channel logout failed, will retry", "err", err, "next_attempt", next)
	p.Emit(ctx, Event{Kind: EventBackchannelFailed, ClientID: m.ClientID, Reason: "will retry"})
	msg := err.Error()
	if len(msg) > 500 {
		msg = msg[:500]
	}
	if err := p.store.RetryLogout(context.WithoutCancel(ctx), m.ID, next, msg); err != nil && !errors.Is(err, storage.ErrNotFound) {
		// The lease lapses on its own; the message is retried then.
		log.ErrorContext(ctx, "back-channel logout: reschedule", "err", err)
	}
}

func (p *Provider) finishLogout(ctx context.Context, m *storage.LogoutMessage) {
	if err := p.store.DeleteLogout(context.WithoutCancel(ctx), m.ID); err != nil {
		p.log.ErrorContext(ctx, "back-channel logout: delete delivered message", "jti", m.ID, "err", err)
	}
}

// logoutBackoff is the wait after the n-th failed attempt: the base,
// doubling, at most an hour.
func (p *Provider) logoutBackoff(n int) time.Duration {
	d := p.cfg.LogoutRetryBackoff
	for i := 1; i < n && d < time.Hour; i++ {
		d *= 2
	}
	return min(d, time.Hour)
}

// postLogout POSTs the logout token (Back-Channel Logout 1.0 §2.5) through
// the SSRF-safe client: http(s) only, no private targets unless allowed,
// no redirects followed. 200 and 204 are success (§2.8).
func (p *Provider) postLogout(ctx context.Context, c *storage.Client, m *storage.LogoutMessage) error {
	token, err := p.logoutToken(c, m)
	if err != nil {
		return err
	}
	// An attempt ends well before its lease lapses, so no other node can
	// take the message while this one may still deliver it.
	ctx, cancel := context.WithTimeout(ctx, p.attemptTimeout())
	defer cancel()
	resp, err := p.logoutHTTP.PostForm(ctx, c.BackchannelLogoutURI, url.Values{"logout_token": {token}})
	if err != nil {
		return err
	}
	p.logoutHTTP.Discard(resp)
	switch resp.StatusCode {
	case http.StatusOK, http.StatusNoContent:
		return nil
	}
	return fmt.Errorf("op: back-channel logout endpoint answered %d", resp.StatusCode)
}

// attemptTimeout bounds one delivery: a third of the lease, at most 10s.
func (p *Provider) attemptTimeout() time.Duration {
	return min(10*time.Second, p.cfg.LogoutLease/3)
}

// redactURL drops the query of a URL for logs.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	u.RawQuery = ""
	u.User = nil
	return u.String()
}
