package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os/exec"
	"strings"
	"testing"
)

// grants revoke --token-stdin revokes by a token's value: a stateless
// client_credentials token (OIDCD_STATELESS_CLIENT_CREDENTIALS), which has
// no grant to revoke by id, and a stored token's whole grant; the running
// server refuses either at once, and the audit log records it.
func TestGrantsRevokeByToken(t *testing.T) {
	dir := t.TempDir()
	ok(t, dir, "migrate")
	var cl clientJSON
	if err := json.Unmarshal([]byte(ok(t, dir, "clients", "create", "--name", "svc", "--scope", "read token_introspection",
		"--redirect-uri", "https://x.example/cb", "--grant-type", "client_credentials", "--json")), &cl); err != nil {
		t.Fatal(err)
	}
	post := func(base, path string, form url.Values) map[string]any {
		t.Helper()
		m := clientPost(t, cl, base, path, form)
		if t.Failed() {
			t.FailNow()
		}
		return m
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
		inactiveWithinTokenCache(t, func() map[string]any { return post(s.url, "/introspect", url.Values{"token": {tok}}) },
			fmt.Sprintf("after the revocation (stateless %v)", stateless))
		s.stop(t)
	}
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
	if !strings.Contains(got, "admin.token_revoked client:"+cl.ClientID) || !strings.Contains(got, "admin.grant_revoked grant:") {
		t.Fatalf("audit records:\n%s", got)
	}
}
