package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// grants revoke --token-stdin revokes by a token's value: a stateless
// client_credentials token (OIDCD_STATELESS_CLIENT_CREDENTIALS), which has
// no grant to revoke by id, and a stored token's whole grant; clients
// revoke-tokens revokes every token of a client, of either kind. The
// running server refuses them once its caches let go (within 1 s for a
// stored token, 5 s for a client), and the audit log records each.
func TestGrantsRevokeByToken(t *testing.T) {
	dir := t.TempDir()
	ok(t, dir, "migrate")
	var cl clientJSON
	if err := json.Unmarshal([]byte(ok(t, dir, "clients", "create", "--name", "svc", "--scope", "read token_introspection",
		"--redirect-uri", "https://x.example/cb", "--grant-type", "client_credentials", "--json")), &cl); err != nil {
		t.Fatal(err)
	}
	post := func(base, path string, form url.Values) map[string]any {
		return mustClientPost(t, cl, base, path, form)
	}
	revoke := func(token string) (string, error) {
		cmd := exec.Command(bin, "grants", "revoke", "--token-stdin")
		cmd.Dir, cmd.Env, cmd.Stdin = dir, cleanEnv(), strings.NewReader(token+"\n")
		b, err := cmd.CombinedOutput()
		return string(b), err
	}
	env := []string{"OIDCD_ADMIN_PASSWORD=hunter2hunter2", "OIDCD_INTROSPECTION_VALIDATE_AUDIENCE_SCOPE=false"}

	for _, stateless := range []bool{true, false} {
		e := env
		if stateless {
			e = append(e, "OIDCD_STATELESS_CLIENT_CREDENTIALS=true")
		}
		s := serve(t, dir, e)
		tok, _ := post(s.url, "/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}})["access_token"].(string)
		if strings.HasPrefix(tok, "cc1_") != stateless {
			t.Fatalf("token %q (stateless %v)", tok, stateless)
		}
		if m := post(s.url, "/introspect", url.Values{"token": {tok}}); m["active"] != true {
			t.Fatalf("before the revocation: %v", m)
		}
		want := "revoked the token's grant"
		if stateless {
			want = "revoked the stateless access token"
		}
		if out, err := revoke(tok); err != nil || !strings.Contains(out, want) {
			t.Fatalf("grants revoke --token-stdin: %v\n%s", err, out)
		}
		inactiveWithin(t, time.Second, func() map[string]any { return post(s.url, "/introspect", url.Values{"token": {tok}}) },
			fmt.Sprintf("after the revocation (stateless %v)", stateless))

		// Every token of the client, until now; a token asked for later works.
		tok = post(s.url, "/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}})["access_token"].(string)
		if m := post(s.url, "/introspect", url.Values{"token": {tok}}); m["active"] != true {
			t.Fatalf("before clients revoke-tokens: %v", m)
		}
		if out := ok(t, dir, "clients", "revoke-tokens", cl.ClientID); !strings.Contains(out, "revoked every token of client "+cl.ClientID) {
			t.Fatalf("clients revoke-tokens:\n%s", out)
		}
		bound := time.Second // the token cache
		if stateless {
			bound = 5 * time.Second // the client cache
		}
		inactiveWithin(t, bound, func() map[string]any { return post(s.url, "/introspect", url.Values{"token": {tok}}) },
			fmt.Sprintf("after clients revoke-tokens (stateless %v)", stateless))
		later := post(s.url, "/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}})["access_token"].(string)
		if m := post(s.url, "/introspect", url.Values{"token": {later}}); m["active"] != true {
			t.Fatalf("a token asked for after clients revoke-tokens (stateless %v): %v", stateless, m)
		}
		s.stop(t)
	}
	fails(t, dir, nil, `no client with id "nope"`, "clients", "revoke-tokens", "nope")
	if out, err := revoke("cc1_AAAA.AAAA"); err == nil || !strings.Contains(out, "unknown, expired or already revoked") {
		t.Fatalf("a forged token: %v\n%s", err, out)
	}
	fails(t, dir, nil, "not both", "grants", "revoke", "--token-stdin", "some-grant-id")
	var recs []struct{ Action, Target string }
	json.Unmarshal([]byte(ok(t, dir, "audit", "--limit", "1000", "--json")), &recs)
	var actions []string
	for _, r := range recs {
		actions = append(actions, r.Action+" "+r.Target)
	}
	got := strings.Join(actions, "\n")
	if !strings.Contains(got, "admin.token_revoked client:"+cl.ClientID) || !strings.Contains(got, "admin.grant_revoked grant:") ||
		strings.Count(got, "admin.client_tokens_revoked client:"+cl.ClientID) != 2 {
		t.Fatalf("audit records:\n%s", got)
	}
}
