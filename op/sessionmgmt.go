package op

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
)

// BrowserStateCookie holds the OP browser state of Session Management 1.0
// §3.2: a value that changes whenever the browser's session at the provider
// does. The check_session_iframe's script reads it, so it is not HttpOnly;
// it reveals nothing but a MAC of the session id.
const BrowserStateCookie = "oidcd_browser_state"

// browserState is the OP browser state of a session key ("" for a browser
// without a session). Derived from the system key (or
// Config.UnauthenticatedSessionKey for the signed-out state), it is the
// same on every node.
func (p *Provider) browserState(sessionKey string) string {
	if sessionKey == "" {
		if k := p.cfg.UnauthenticatedSessionKey; k != "" {
			sum := sha256.Sum256([]byte("oidcd unauthenticated browser state\x00" + k))
			return base64.RawURLEncoding.EncodeToString(sum[:])
		}
		return base64.RawURLEncoding.EncodeToString(p.cfg.Sealer.MAC("browser-state-unauthenticated"))
	}
	return base64.RawURLEncoding.EncodeToString(p.cfg.Sealer.MAC("browser-state", sessionKey))
}

// SetBrowserState sets the browser-state cookie for the session sessionID
// ("" when the browser has just signed out). It does nothing unless
// Config.SessionManagement is on. The provider calls it in authorization
// responses and at the end-session endpoint; a host calls it when its own
// login or logout page changes the session, so that relying parties
// watching the check_session_iframe see "changed" at once.
func (p *Provider) SetBrowserState(w http.ResponseWriter, sessionID string) {
	if !p.cfg.SessionManagement {
		return
	}
	c := &http.Cookie{
		Name:   BrowserStateCookie,
		Value:  p.browserState(sessionID),
		Path:   "/",
		MaxAge: 400 * 24 * 3600,
		Secure: p.issuerURL.Scheme == "https",
	}
	// The iframe runs in the relying party's page: on https the cookie must
	// be readable there (SameSite=None needs Secure); plain http is for
	// development on one site, where Lax suffices.
	if c.Secure {
		c.SameSite = http.SameSiteNoneMode
	} else {
		c.SameSite = http.SameSiteLaxMode
	}
	http.SetCookie(w, c)
}

// sessionState computes the session_state of an authorization response
// (Session Management 1.0 §2, §3.2): the hex SHA-256 of client_id, the
// origin of the redirect URI, the browser state and a salt, joined by
// spaces, then "." and the salt. The check_session_iframe computes the same
// from the cookie and the message's origin.
func (p *Provider) sessionState(clientID, redirectURI, sessionKey string) string {
	saltB := make([]byte, 16)
	rand.Read(saltB)
	salt := hex.EncodeToString(saltB)
	sum := sha256.Sum256([]byte(clientID + " " + originOf(redirectURI) + " " + p.browserState(sessionKey) + " " + salt))
	return hex.EncodeToString(sum[:]) + "." + salt
}

// originOf is the serialised origin of a URL (scheme://host[:port]), as a
// browser reports it in MessageEvent.origin.
func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "null"
	}
	return u.Scheme + "://" + u.Host
}

// checkSessionPage is the context of check_session.html.
type checkSessionPage struct {
	Nonce string
	// Unauthenticated is the browser state when the cookie is absent.
	Unauthenticated string
	Cookie          string
}

// serveCheckSession is the check_session_iframe (Session Management 1.0
// §3.2). It is the only page that may be framed (SECURITY F2): relying
// parties load it in a hidden iframe and poll it with postMessage.
func (p *Provider) serveCheckSession(w http.ResponseWriter, r *http.Request) {
	nonce := newID()
	csp := "default-src 'none'; script-src 'nonce-" + nonce + "'; frame-ancestors *; base-uri 'none'"
	data := checkSessionPage{Nonce: nonce, Unauthenticated: p.browserState(""), Cookie: BrowserStateCookie}
	if err := p.pages.RenderFramable(w, http.StatusOK, "check_session.html", data, csp); err != nil {
		p.log.Error("render check session iframe", "err", err)
	}
}
