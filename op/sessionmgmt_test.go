package op_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/oidcd/oidcd/keys"
	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage"
)

func discovery(t *testing.T, env *testEnv) map[string]any {
	t.Helper()
	resp, err := http.Get(env.srv.URL + op.PathDiscovery)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc map[string]any
	json.NewDecoder(resp.Body).Decode(&doc)
	return doc
}

// Discovery lists what is served: end_session_endpoint (RP-Initiated
// Logout 1.0 §2.1), the front- and back-channel flags, and the
// check_session_iframe only when session management is on.
func TestLogoutDiscovery(t *testing.T) {
	env := newTestEnv(t, nil)
	doc := discovery(t, env)
	if doc["end_session_endpoint"] != env.srv.URL+"/end-session" {
		t.Fatalf("end_session_endpoint %v", doc["end_session_endpoint"])
	}
	for _, k := range []string{"frontchannel_logout_supported", "frontchannel_logout_session_supported", "backchannel_logout_supported", "backchannel_logout_session_supported"} {
		if doc[k] != true {
			t.Errorf("%s = %v", k, doc[k])
		}
	}
	if _, ok := doc["check_session_iframe"]; ok {
		t.Error("check_session_iframe listed while session management is off")
	}
	if resp, _ := http.Get(env.srv.URL + op.PathCheckSession); resp.StatusCode != http.StatusNotFound {
		t.Errorf("check-session-iframe served while off: %d", resp.StatusCode)
	}
	on := newTestEnv(t, func(c *op.Config) { c.SessionManagement = true })
	if doc := discovery(t, on); doc["check_session_iframe"] != on.srv.URL+"/check-session-iframe" {
		t.Fatalf("check_session_iframe %v", doc["check_session_iframe"])
	}
}

// sessionStateFor recomputes a session_state (Session Management 1.0 §3.2)
// as the iframe does: from client_id, the RP's origin, the browser state
// and the salt.
func sessionStateFor(clientID, origin, browserState, ss string) string {
	salt := ss[strings.LastIndex(ss, ".")+1:]
	sum := sha256.Sum256([]byte(clientID + " " + origin + " " + browserState + " " + salt))
	return hex.EncodeToString(sum[:]) + "." + salt
}

func browserStateCookie(t *testing.T, env *testEnv, b *browser) string {
	t.Helper()
	u, _ := url.Parse(env.srv.URL)
	for _, c := range b.http.Jar.Cookies(u) {
		if c.Name == op.BrowserStateCookie {
			return c.Value
		}
	}
	return ""
}

// Session Management 1.0 §2, §3.2: every successful authorization response
// carries session_state, computed from the browser-state cookie the iframe
// reads; the value changes when the session ends.
func TestSessionManagement(t *testing.T) {
	env := newTestEnv(t, func(c *op.Config) { c.SessionManagement = true })
	id, secret := env.client(storage.Client{ResponseTypes: []string{"code", "id_token", "code id_token token"}})
	relying := env.rp(id, secret)
	b := env.browser()
	var states []string
	for _, rt := range []string{"code", "id_token", "code id_token token"} {
		got := b.authorize(relying.oauth.AuthCodeURL("s", oidc.Nonce("n"), oauth2.SetAuthURLParam("response_type", rt)))
		ss := got.Get("session_state")
		if ss == "" || strings.Contains(ss, " ") {
			t.Fatalf("%s: session_state %q", rt, ss)
		}
		states = append(states, ss)
	}
	bs := browserStateCookie(t, env, b)
	if bs == "" {
		t.Fatal("no browser-state cookie")
	}
	for _, ss := range states {
		if sessionStateFor(id, "https://rp.example", bs, ss) != ss {
			t.Fatalf("session_state %s does not match the browser state", ss)
		}
		if sessionStateFor(id, "https://evil.example", bs, ss) == ss {
			t.Fatal("session_state does not depend on the origin")
		}
	}
	// The cookie is readable by the iframe's script: not HttpOnly.
	resp, err := b.http.Get(relying.oauth.AuthCodeURL("s", oauth2.SetAuthURLParam("prompt", "none")))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, sc := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(sc, op.BrowserStateCookie+"=") && strings.Contains(sc, "HttpOnly") {
			t.Fatalf("browser-state cookie is HttpOnly: %s", sc)
		}
	}
	logoutAll(t, env, b)
	after := browserStateCookie(t, env, b)
	if after == "" || after == bs {
		t.Fatalf("browser state after logout: %q (was %q)", after, bs)
	}
	if sessionStateFor(id, "https://rp.example", after, states[0]) == states[0] {
		t.Fatal("the old session_state still matches after logout")
	}

	// The check_session_iframe is the one framable page (SECURITY F2).
	pg := b.get(env.srv.URL + op.PathCheckSession)
	csp := pg.header.Get("Content-Security-Policy")
	if pg.status != 200 || pg.header.Get("X-Frame-Options") != "" || !strings.Contains(csp, "frame-ancestors *") ||
		!strings.Contains(csp, "script-src 'nonce-") || !strings.Contains(pg.body, `data-unauthenticated="`+after+`"`) {
		t.Fatalf("check session iframe: %d %v\n%s", pg.status, pg.header, pg.body)
	}
	if pg := b.get(env.srv.URL + op.PathEndSession); pg.header.Get("X-Frame-Options") != "DENY" {
		t.Fatal("end-session page is framable")
	}
}

// OIDCD_UNAUTHENTICATED_SESSION_MANAGEMENT_KEY: nodes with the same key
// compute the same signed-out browser state; without it the state derives
// from the system key, the same on nodes that share it.
func TestUnauthenticatedSessionKey(t *testing.T) {
	signedOutState := func(mutate func(*op.Config)) string {
		env := newTestEnv(t, mutate)
		pg := env.browser().get(env.srv.URL + op.PathCheckSession)
		i := strings.Index(pg.body, `data-unauthenticated="`)
		return pg.body[i : i+70]
	}
	otherSealer, _ := keys.NewSealer([]byte("another system secret of at least 32 bytes"))
	withKey := func(sealer keys.Sealer) func(*op.Config) {
		return func(c *op.Config) {
			c.SessionManagement = true
			c.UnauthenticatedSessionKey = "fixed key"
			if sealer != nil {
				c.Sealer = sealer
			}
		}
	}
	if a, b := signedOutState(withKey(nil)), signedOutState(withKey(otherSealer)); a != b {
		t.Fatalf("same key, different states: %s %s", a, b)
	}
	on := func(c *op.Config) { c.SessionManagement = true }
	if a, b := signedOutState(on), signedOutState(on); a != b {
		t.Fatalf("same system key, different states: %s %s", a, b)
	}
	if a, b := signedOutState(on), signedOutState(withKey(nil)); a == b {
		t.Fatal("the key changes nothing")
	}
}
