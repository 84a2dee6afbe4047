package op

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/oidcd/oidcd/storage"
)

// Logout names a browser session to end (Provider.EndSession).
type Logout struct {
	UserID string
	// SessionID is the session's id, the "sid" of its ID tokens. Required.
	SessionID string
}

// LoggedOut is what ending a session leaves for the browser to do.
type LoggedOut struct {
	// FrontChannelURIs are the front-channel logout URIs of the clients of
	// the session, with iss and sid where the client asked for them: render
	// each in an iframe (Front-Channel Logout 1.0 §3), e.g. with
	// Provider.RenderSignedOut.
	FrontChannelURIs []string
}

// EndSession ends a browser session on the provider's side: it revokes the
// grants made in it (their access and refresh tokens stop working), queues
// a back-channel logout token for every client of the session that
// registered a backchannel_logout_uri (delivered by Provider.Run, durably,
// by whichever node gets to it) and returns the front-channel logout URIs.
//
// The end-session endpoint calls it; a host application whose own logout
// page signs users out calls it too, with the session it ends. Calling it
// again for the same session notifies no client twice.
func (p *Provider) EndSession(ctx context.Context, l Logout) (*LoggedOut, error) {
	if l.SessionID == "" {
		return nil, errors.New("op: EndSession needs a session id")
	}
	now := p.now()
	// Tokens issued in the session end with it (SECURITY D8).
	if err := p.store.RevokeSessionGrants(ctx, l.SessionID, now); err != nil {
		return nil, fmt.Errorf("op: end session: %w", err)
	}
	scs, err := p.store.TakeSessionClients(ctx, l.SessionID, now)
	if err != nil {
		return nil, fmt.Errorf("op: end session: %w", err)
	}
	out := &LoggedOut{}
	var msgs []*storage.LogoutMessage
	for _, sc := range scs {
		c, err := p.client(ctx, sc.ClientID)
		if errors.Is(err, storage.ErrNotFound) {
			continue // deleted since
		} else if err != nil {
			return nil, fmt.Errorf("op: end session: %w", err)
		}
		if c.FrontchannelLogoutURI != "" {
			out.FrontChannelURIs = append(out.FrontChannelURIs, p.frontChannelURI(c, l.SessionID))
		}
		if c.BackchannelLogoutURI != "" {
			userID := sc.UserID
			if userID == "" {
				userID = l.UserID
			}
			sub, err := p.subject(ctx, userID, c)
			if err != nil {
				return nil, fmt.Errorf("op: end session: subject: %w", err)
			}
			// Back-Channel Logout 1.0 §2.4: sub and sid are both sent, which
			// also satisfies backchannel_logout_session_required.
			msgs = append(msgs, &storage.LogoutMessage{
				ID: newID(), ClientID: c.ID, URI: c.BackchannelLogoutURI,
				Subject: sub, SessionID: l.SessionID,
				NextAttemptAt: now, CreatedAt: now, ExpiresAt: now.Add(p.cfg.LogoutRetryFor),
			})
		}
	}
	if err := p.store.EnqueueLogouts(ctx, msgs...); err != nil {
		return nil, fmt.Errorf("op: end session: queue logout tokens: %w", err)
	}
	if len(msgs) > 0 {
		p.wakeDelivery()
	}
	p.log.InfoContext(ctx, "session ended", "user", l.UserID, "sid", l.SessionID,
		"clients", len(scs), "backchannel", len(msgs), "frontchannel", len(out.FrontChannelURIs))
	return out, nil
}

// frontChannelURI adds iss and sid when the client requires them
// (Front-Channel Logout 1.0 §2, §3).
func (p *Provider) frontChannelURI(c *storage.Client, sid string) string {
	if !c.FrontchannelLogoutSessionRequired {
		return c.FrontchannelLogoutURI
	}
	u, err := url.Parse(c.FrontchannelLogoutURI)
	if err != nil {
		return c.FrontchannelLogoutURI
	}
	q := u.Query()
	q.Set("iss", p.cfg.Issuer)
	q.Set("sid", sid)
	u.RawQuery = q.Encode()
	return u.String()
}

// rememberSessionClient records that the client was given a code or tokens
// in the user's session, so that its logout reaches the client
// (Back-Channel Logout 1.0 §2.3). Hosts without session ids record nothing.
func (p *Provider) rememberSessionClient(ctx context.Context, c *storage.Client, user *User) error {
	if user.SessionID == "" {
		return nil
	}
	now := p.now()
	return p.store.AddSessionClient(ctx, &storage.SessionClient{
		SessionID: user.SessionID, ClientID: c.ID, UserID: user.ID,
		CreatedAt: now, ExpiresAt: now.Add(max(p.cfg.RefreshTokenExpire, p.cfg.IDTokenExpire)),
	})
}
