package op_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oidcd/oidcd/keys"
	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage"
)

// jwtHeaderAndExp reads the kid and exp of a compact JWT (no verification:
// the relying party below checks the kid against its cached JWKS).
func jwtHeaderAndExp(t *testing.T, tok string) (kid string, exp time.Time) {
	t.Helper()
	parts := strings.Split(tok, ".")
	var h struct {
		Kid string `json:"kid"`
	}
	var p struct {
		Exp int64 `json:"exp"`
	}
	hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
	pb, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if json.Unmarshal(hb, &h) != nil || json.Unmarshal(pb, &p) != nil {
		t.Fatalf("bad JWT %q", tok)
	}
	return h.Kid, time.Unix(p.Exp, 0)
}

// TestKeyRotationNeverUnknownKid: two providers (nodes) on one database,
// each re-reading keys every refresh interval at its own moment, and a
// relying party that caches the JWKS of whichever node it reaches for the
// max-age it is sent. Through a rotation, no ID token either node issues
// ever carries a kid missing from the relying party's cached JWKS, for as
// long as the token lives; the new key signs in the end and the old one
// leaves the JWKS once its tokens have expired (docs/security.md "Signing
// keys"; SECURITY H3, M4).
func TestKeyRotationNeverUnknownKid(t *testing.T) {
	const (
		refresh = 30 * time.Second // each node's key refresh interval
		maxAge  = 5 * time.Minute  // the JWKS cache lifetime we send
		step    = 10 * time.Second
	)
	cfg := func(c *op.Config) {
		c.PasswordGrant = true
		c.KeyRefresh = 1000 * time.Hour // nodes reload below, on the schedule of the simulation
		c.JWKSMaxAge = maxAge
		c.IDTokenExpire = 10 * time.Minute
		c.TokenExpire = 20 * time.Minute
	}
	a := newSQLiteTestEnv(t, cfg)
	b := newTestEnvOn(t, a.store, func(c *op.Config) { cfg(c); c.Now = a.clock.Now })
	id, secret := a.client(storage.Client{ClientMetadata: storage.ClientMetadata{GrantTypes: []string{"authorization_code", "password"}}})
	nodes := []*testEnv{a, b}
	ctx := t.Context()

	type issued struct {
		kid string
		exp time.Time
	}
	var tokens []issued
	var cachedKids map[string]bool
	var cacheUntil time.Time
	fetches := 0
	fetchJWKS := func(n *testEnv) {
		resp, err := http.Get(n.srv.URL + "/jwks")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var doc struct {
			Keys []struct {
				Kid string `json:"kid"`
			} `json:"keys"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
			t.Fatal(err)
		}
		cc := resp.Header.Get("Cache-Control")
		age, err := strconv.Atoi(strings.TrimPrefix(cc, "public, max-age="))
		if err != nil || time.Duration(age)*time.Second != maxAge {
			t.Fatalf("JWKS Cache-Control %q, want max-age %v", cc, maxAge)
		}
		cachedKids = map[string]bool{}
		for _, k := range doc.Keys {
			cachedKids[k.Kid] = true
		}
		cacheUntil = a.clock.Now().Add(time.Duration(age) * time.Second)
		fetches++
	}
	fetchJWKS(b)
	initial, err := a.store.ListKeys(ctx)
	if err != nil || len(initial) != 1 {
		t.Fatalf("keys at start: %v %v", initial, err)
	}
	oldKid := initial[0].ID
	var newKid string
	var retiredAt time.Time
	start := a.clock.Now()
	publishFor := 20 * time.Minute
	end := start.Add(20*time.Second + refresh + maxAge + publishFor + 2*refresh)
	for now := start; now.Before(end); now = a.clock.Now() {
		elapsed := now.Sub(start)
		// Node A reloads on the interval, node B 10 s before A.
		if elapsed%refresh == 0 {
			if err := a.p.ReloadKeys(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if (elapsed+step)%refresh == 0 {
			if err := b.p.ReloadKeys(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if elapsed == 20*time.Second {
			// `oidcd keys rotate`, on neither node.
			rk, err := keys.Generate(keys.RS256)
			if err != nil {
				t.Fatal(err)
			}
			sk, retired, err := keys.AddKey(ctx, a.store, rk, a.sealer, now, refresh+maxAge, true)
			if err != nil || len(retired) != 1 || retired[0].ID != oldKid {
				t.Fatalf("rotate: %v %v", retired, err)
			}
			newKid, retiredAt = sk.ID, sk.ActivatesAt
		}
		// The relying party refreshes its cache from either node when it expires.
		if !now.Before(cacheUntil) {
			fetchJWKS(nodes[fetches%2])
		}
		for _, n := range nodes {
			st, body, _ := n.tokenRequest(id, secret, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"pw-alice"}, "scope": {"openid"}})
			if st != 200 {
				t.Fatalf("token at +%v: %d %v", elapsed, st, body)
			}
			kid, exp := jwtHeaderAndExp(t, body["id_token"].(string))
			tokens = append(tokens, issued{kid, exp})
		}
		for _, tok := range tokens {
			if tok.exp.After(now) && !cachedKids[tok.kid] {
				t.Fatalf("at +%v a live ID token has kid %s, unknown to the relying party's cached JWKS %v", elapsed, tok.kid, cachedKids)
			}
		}
		a.clock.Add(step)
	}
	if newKid == "" || tokens[len(tokens)-1].kid != newKid || tokens[len(tokens)-2].kid != newKid {
		t.Fatalf("the new key does not sign in the end (want %s): %v", newKid, tokens[len(tokens)-2:])
	}
	for _, tok := range tokens {
		if tok.kid == newKid && tok.exp.Add(-10*time.Minute).Before(retiredAt) {
			t.Fatalf("the new key signed before it was due (%v < %v)", tok.exp.Add(-10*time.Minute), retiredAt)
		}
	}
	for _, n := range nodes {
		if err := n.p.ReloadKeys(ctx); err != nil {
			t.Fatal(err)
		}
		fetchJWKS(n)
		if cachedKids[oldKid] || !cachedKids[newKid] {
			t.Fatalf("JWKS after the old key's tokens expired: %v (old %s, new %s)", cachedKids, oldKid, newKid)
		}
	}
}
