package op_test

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage"
)

// TestConsentShowsRequestedClaims: with scope=openid and a claims parameter
// asking for email, name and phone number, the consent page lists all
// three; a remembered consent then covers exactly what was shown
// (docs/security.md "Consent").
func TestConsentShowsRequestedClaims(t *testing.T) {
	var events []op.ConsentEvent
	env := newTestEnv(t, func(c *op.Config) {
		c.Hooks.OnConsent = func(_ context.Context, e op.ConsentEvent) { events = append(events, e) }
	})
	id, secret := env.client(storage.Client{RequireConsent: true, ReuseConsent: true})
	b := env.browser()
	req := func(claims string, extra map[string]string) string {
		m := map[string]string{"client_id": id, "redirect_uri": rpCallback, "response_type": "code", "scope": "openid", "state": "s", "claims": claims}
		for k, v := range extra {
			m[k] = v
		}
		return authURL(env, m)
	}
	three := `{"userinfo":{"email":null,"name":{"essential":true}},"id_token":{"phone_number":null}}`
	pg := b.get(req(three, nil))
	for _, want := range []string{"Your identity", "Email address", "Full name", "Phone number"} {
		if !strings.Contains(pg.body, want) {
			t.Fatalf("consent page lacks %q:\n%s", want, pg.body)
		}
	}
	got := callback(t, b.consent(pg, true))
	if got.Get("code") == "" {
		t.Fatalf("consent: %v", got)
	}
	if len(events) != 1 || !slices.Equal(events[0].Claims, []string{"email", "name", "phone_number"}) {
		t.Fatalf("consent event: %+v", events)
	}
	// What was released is what was shown.
	st, body, _ := env.tokenRequest(id, secret, url.Values{"grant_type": {"authorization_code"}, "code": {got.Get("code")}, "redirect_uri": {rpCallback}})
	if st != 200 {
		t.Fatalf("exchange: %d %v", st, body)
	}
	info := env.userinfo(body["access_token"].(string))
	if info["email"] == nil || info["name"] == nil {
		t.Fatalf("userinfo: %v", info)
	}
	// The remembered consent covers those claims...
	if got := callback(t, b.get(req(`{"userinfo":{"email":null}}`, map[string]string{"prompt": "none"}))); got.Get("code") == "" {
		t.Fatalf("a request within the remembered consent: %v", got)
	}
	// ...and not one that was never shown.
	if got := callback(t, b.get(req(`{"userinfo":{"address":null}}`, map[string]string{"prompt": "none"}))); got.Get("error") != "consent_required" {
		t.Fatalf("a claim never shown passed on the remembered consent: %v", got)
	}
	if pg := b.get(req(`{"userinfo":{"address":null}}`, nil)); !strings.Contains(pg.body, "Postal address") {
		t.Fatalf("consent page for address:\n%s", pg.body)
	}
}

// userinfo fetches the claims of an access token.
func (env *testEnv) userinfo(token string) map[string]any {
	t := env.t.(*testing.T)
	t.Helper()
	resp, body := doReq(t, "GET", env.srv.URL+"/userinfo", nil, map[string]string{"Authorization": "Bearer " + token})
	if resp.StatusCode != 200 {
		t.Fatalf("userinfo: %d %v", resp.StatusCode, body)
	}
	return body
}
