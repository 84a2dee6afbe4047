package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"flag"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The console's commands end to end through the binary, on a SQLite file:
// every change goes through the service layer and leaves its audit record.
func TestConsoleCommands(t *testing.T) {
	dir := t.TempDir()
	ok(t, dir, "migrate")

	// clients create: require_consent and reuse_consent on by default.
	var created clientJSON
	json.Unmarshal([]byte(ok(t, dir, "clients", "create", "--name", "App", "--redirect-uri", "https://app.example/cb",
		"--scope", "openid profile", "--json")), &created)
	if !created.RequireConsent || !created.ReuseConsent {
		t.Fatalf("clients create defaults: require_consent %v, reuse_consent %v", created.RequireConsent, created.ReuseConsent)
	}
	var off clientJSON
	json.Unmarshal([]byte(ok(t, dir, "clients", "create", "--name", "Trusted", "--redirect-uri", "https://t.example/cb",
		"--require-consent=false", "--json")), &off)
	if off.RequireConsent || !off.ReuseConsent {
		t.Fatalf("--require-consent=false: %+v", off)
	}
	id := created.ClientID

	// clients update changes only the flags given.
	var upd clientJSON
	json.Unmarshal([]byte(ok(t, dir, "clients", "update", id, "--redirect-uri", "https://app.example/cb",
		"--redirect-uri", "https://app.example/cb2", "--website", "https://app.example/", "--json")), &upd)
	if strings.Join(upd.RedirectURIs, " ") != "https://app.example/cb https://app.example/cb2" || upd.ClientURI != "https://app.example/" ||
		upd.ClientName != "App" || upd.Scope != "openid profile" || !upd.RequireConsent || upd.ClientSecret != "" {
		t.Fatalf("after update: %+v", upd)
	}
	ok(t, dir, "clients", "update", "--id", id, "--reuse-consent=false", "--name", "App 2")
	var shown clientJSON
	json.Unmarshal([]byte(ok(t, dir, "clients", "show", id, "--json")), &shown)
	if shown.ReuseConsent || !shown.RequireConsent || shown.ClientName != "App 2" || len(shown.RedirectURIs) != 2 {
		t.Fatalf("after second update: %+v", shown)
	}
	fails(t, dir, nil, "must not contain a fragment", "clients", "update", id, "--redirect-uri", "https://app.example/#x")
	fails(t, dir, nil, "no client with id", "clients", "update", "nope", "--name", "X")
	fails(t, dir, nil, "the client id is required", "clients", "update", "--name", "X")
	if out := ok(t, dir, "clients", "list", "--search", "TRUSTED"); !strings.Contains(out, off.ClientID) || strings.Contains(out, id) {
		t.Fatalf("clients list --search:\n%s", out)
	}

	// users update, lock, admin flag, reset-password, list with paging.
	ok(t, dir, "users", "create", "--username", "alice", "--password", "correct horse", "--email", "alice@example.com")
	ok(t, dir, "users", "create", "--username", "bob", "--password", "correct horse")
	var u userJSON
	json.Unmarshal([]byte(ok(t, dir, "users", "update", "--username", "alice", "--name", "Alice L", "--admin", "--locked", "--json")), &u)
	if u.Name != "Alice L" || u.Email != "alice@example.com" || !u.Admin || !u.Locked {
		t.Fatalf("users update: %+v", u)
	}
	fails(t, dir, nil, "not an email address", "users", "update", "--username", "alice", "--email", "nope")
	fails(t, dir, nil, `no user named "zed"`, "users", "update", "--username", "zed", "--name", "Z")
	json.Unmarshal([]byte(ok(t, dir, "users", "update", "--username", "alice", "--locked=false", "--admin=false", "--json")), &u)
	if u.Admin || u.Locked || u.Name != "Alice L" {
		t.Fatalf("users update back: %+v", u)
	}
	var page []userJSON
	json.Unmarshal([]byte(ok(t, dir, "users", "list", "--search", "ALI", "--json")), &page)
	if len(page) != 1 || page[0].Username != "alice" {
		t.Fatalf("users list --search: %+v", page)
	}
	json.Unmarshal([]byte(ok(t, dir, "users", "list", "--offset", "1", "--limit", "1", "--json")), &page)
	if len(page) != 1 || page[0].Username != "bob" {
		t.Fatalf("users list --offset 1 --limit 1: %+v", page)
	}
	var reset map[string]string
	json.Unmarshal([]byte(ok(t, dir, "users", "reset-password", "--username", "bob", "--json")), &reset)
	if len(reset["password"]) < 16 {
		t.Fatalf("reset-password: %v", reset)
	}

	// keys: create, import (creatersakey's PKCS #1), rotate, retire, delete.
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	pemFile := filepath.Join(dir, "django.pem")
	os.WriteFile(pemFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rk)}), 0o600)
	var imported struct{ Created keyJSON }
	json.Unmarshal([]byte(ok(t, dir, "keys", "create", "--pem", pemFile, "--json")), &imported)
	if imported.Created.Alg != "RS256" || imported.Created.State != "active" {
		t.Fatalf("keys create --pem: %+v", imported)
	}
	fails(t, dir, nil, "only RS256 key", "keys", "retire", "--", imported.Created.KID)
	var rotated struct {
		Created keyJSON
		Retired []keyJSON
	}
	json.Unmarshal([]byte(ok(t, dir, "keys", "rotate", "--json")), &rotated)
	if rotated.Created.State != "next" || len(rotated.Retired) != 1 || rotated.Retired[0].KID != imported.Created.KID {
		t.Fatalf("keys rotate: %+v", rotated)
	}
	fails(t, dir, nil, "retire it first", "keys", "delete", "--", imported.Created.KID)
	fails(t, dir, nil, "already retired", "keys", "retire", "--", imported.Created.KID)
	var es struct{ Created keyJSON }
	json.Unmarshal([]byte(ok(t, dir, "keys", "create", "--alg", "ES256", "--json")), &es)
	var es2 struct{ Created keyJSON }
	json.Unmarshal([]byte(ok(t, dir, "keys", "create", "--alg", "ES256", "--json")), &es2)
	var retired keyJSON
	json.Unmarshal([]byte(ok(t, dir, "keys", "retire", "--", es.Created.KID, "--json")), &retired)
	if retired.RetiredAt == nil || es2.Created.ActivatesAt == nil || !retired.RetiredAt.Equal(*es2.Created.ActivatesAt) {
		t.Fatalf("keys retire with a next key: %+v (next activates %v)", retired, es2.Created.ActivatesAt)
	}
	fails(t, dir, nil, "retire it first", "keys", "delete", "--", es.Created.KID)
	fails(t, dir, nil, "no key with kid", "keys", "delete", "nope")
	// A key retired before it ever signed can go at once.
	var es3 struct{ Created keyJSON }
	json.Unmarshal([]byte(ok(t, dir, "keys", "create", "--alg", "ES256", "--json")), &es3)
	ok(t, dir, "keys", "retire", "--", es3.Created.KID)
	ok(t, dir, "keys", "delete", "--", es3.Created.KID)
	if out := ok(t, dir, "keys", "list"); strings.Contains(out, es3.Created.KID) || !strings.Contains(out, "deletable from") {
		t.Fatalf("keys list:\n%s", out)
	}

	// consents and sessions: nothing to list yet; bad usage is refused.
	ok(t, dir, "consents", "list", "--username", "alice")
	ok(t, dir, "sessions", "list", "--username", "alice")
	fails(t, dir, nil, "give --username", "consents", "list")
	fails(t, dir, nil, "no consent or grant", "consents", "revoke", "--username", "alice", "--client", id)
	fails(t, dir, nil, "no live session", "sessions", "revoke", "sid-nope")

	// clients delete says what went with it.
	if out := ok(t, dir, "clients", "delete", off.ClientID); !strings.Contains(out, "0 live grants") {
		t.Fatalf("clients delete:\n%s", out)
	}

	// oidcd audit: every change above, newest first, by the CLI's user.
	var recs []auditJSON
	json.Unmarshal([]byte(ok(t, dir, "audit", "--limit", "1000", "--json")), &recs)
	seen := map[string]int{}
	for _, r := range recs {
		seen[r.Action]++
		if !strings.HasPrefix(r.Actor, "cli:") || r.At.IsZero() || r.Target == "" {
			t.Errorf("audit record %+v", r)
		}
	}
	for action, n := range map[string]int{
		"admin.client_created": 2, "admin.client_updated": 2, "admin.client_deleted": 1,
		"admin.user_created": 2, "admin.user_updated": 1, "admin.user_admin_granted": 1, "admin.user_admin_removed": 1,
		"admin.user_locked": 1, "admin.user_unlocked": 1, "admin.password_changed": 1,
		"admin.key_imported": 1, "admin.key_rotated": 1, "admin.key_created": 3, "admin.key_retired": 2, "admin.key_deleted": 1,
	} {
		if seen[action] != n {
			t.Errorf("audit: %d records of %s, want %d", seen[action], action, n)
		}
	}
	if len(recs) < 2 || recs[0].Action != "admin.client_deleted" || recs[0].Target != "client:"+off.ClientID {
		t.Errorf("newest record: %+v", recs[0])
	}
	if out := ok(t, dir, "audit", "--target", "client:"+id); strings.Count(out, "\n") != 4 {
		t.Errorf("audit --target:\n%s", out)
	}
}

// A rotated secret's old value keeps working at the real token endpoint
// during the overlap (--overlap), and not after it; the new one works from
// the rotation on (within the client cache lifetime, 5 s).
func TestRotateSecretOverlap(t *testing.T) {
	dir := t.TempDir()
	s := serve(t, dir, []string{"OIDCD_ADMIN_PASSWORD=hunter2hunter2"})
	var c clientJSON
	json.Unmarshal([]byte(ok(t, dir, "clients", "create", "--name", "Svc", "--grant-type", "client_credentials", "--scope", "api", "--json")), &c)
	token := func(secret string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, s.url+"/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(c.ClientID, secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := token(c.ClientSecret); got != http.StatusOK {
		t.Fatalf("the first secret: %d", got)
	}
	const overlap = 10 * time.Second
	var rotated struct {
		clientJSON
		PreviousSecretExpiresAt time.Time `json:"previous_secret_expires_at"`
	}
	json.Unmarshal([]byte(ok(t, dir, "clients", "rotate-secret", c.ClientID, "--overlap", overlap.String(), "--json")), &rotated)
	if rotated.ClientSecret == "" || rotated.PreviousSecretExpiresAt.IsZero() {
		t.Fatalf("rotate-secret: %+v", rotated)
	}
	if got := token(c.ClientSecret); got != http.StatusOK {
		t.Errorf("the old secret right after the rotation: %d", got)
	}
	// The server reuses a client it read for 5 s (OIDCD's client cache):
	// the new secret works from then on. (No polling: failed attempts
	// would trip the client authentication throttle.)
	time.Sleep(5*time.Second + 500*time.Millisecond)
	if got := token(rotated.ClientSecret); got != http.StatusOK {
		t.Fatalf("the new secret 5.5 s after the rotation: %d", got)
	}
	if time.Until(rotated.PreviousSecretExpiresAt) < time.Second {
		t.Fatal("the overlap ended before the test could use it")
	}
	if got := token(c.ClientSecret); got != http.StatusOK {
		t.Errorf("the old secret during the overlap: %d", got)
	}
	time.Sleep(time.Until(rotated.PreviousSecretExpiresAt) + 100*time.Millisecond)
	if got := token(c.ClientSecret); got != http.StatusUnauthorized {
		t.Errorf("the old secret after the overlap: %d, want 401", got)
	}
	if got := token(rotated.ClientSecret); got != http.StatusOK {
		t.Errorf("the new secret after the overlap: %d", got)
	}
	if out := ok(t, dir, "audit", "--action", "admin.client_secret_rotated"); !strings.Contains(out, "works until") {
		t.Errorf("audit:\n%s", out)
	}
}

// clients update takes every flag of clients create, and each one is
// wired to the property it sets: a flag added to create is an update flag
// at once (clientFlags.register), and this test fails if one is not.
func TestClientsUpdateHasEveryCreateFlag(t *testing.T) {
	a := &app{}
	create, update := a.newCommand("clients create", "", true), a.newCommand("clients update", " ID", true)
	var cf, uf clientFlags
	cf.register(create, false)
	uf.register(update, true)
	// Flags that are no client property: the command's own, and the
	// validation switch that applies to the change itself.
	notProperty := map[string]bool{"database": true, "config": true, "create": true, "json": true, "insecure-allow-http": true}
	n := 0
	create.fs.VisitAll(func(f *flag.Flag) {
		if notProperty[f.Name] {
			return
		}
		n++
		if update.fs.Lookup(f.Name) == nil {
			t.Errorf("clients update has no --%s", f.Name)
		}
		if uf.setters[f.Name] == nil {
			t.Errorf("clients update --%s changes nothing", f.Name)
		}
	})
	if n < 35 {
		t.Fatalf("only %d client flags", n)
	}
}

// clients update changes the newer properties too: resources, JWT access
// tokens, ID token and userinfo encryption; "" empties a list or a value.
func TestClientsUpdateNewerProperties(t *testing.T) {
	dir := t.TempDir()
	ok(t, dir, "migrate")
	jwks := filepath.Join(dir, "jwks.json") // one EC P-256 key: fit for ECDH-ES
	os.WriteFile(jwks, []byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","kid":"k1"}]}`), 0o600)
	var c clientJSON
	json.Unmarshal([]byte(ok(t, dir, "clients", "create", "--name", "App", "--redirect-uri", "https://app.example/cb", "--json")), &c)
	if strings.Join(c.ResponseTypes, " ") != "code" {
		t.Fatalf("lists not given take their defaults: %+v", c.ClientMetadata)
	}
	var u clientJSON
	json.Unmarshal([]byte(ok(t, dir, "clients", "update", c.ClientID, "--resource", "https://api.example/", "--resource", "https://mcp.example/",
		"--access-token-signed-response-alg", "ES256", "--jwks", jwks, "--id-token-encrypted-response-alg", "ECDH-ES",
		"--userinfo-signed-response-alg", "ES256", "--userinfo-encrypted-response-alg", "ECDH-ES+A256KW",
		"--userinfo-encrypted-response-enc", "A256GCM", "--dpop-bound-access-tokens", "--json")), &u)
	if strings.Join(u.Resources, " ") != "https://api.example/ https://mcp.example/" || u.AccessTokenSignedResponseAlg != "ES256" ||
		u.IDTokenEncryptedResponseAlg != "ECDH-ES" || u.IDTokenEncryptedResponseEnc != "A128CBC-HS256" || u.UserinfoSignedResponseAlg != "ES256" ||
		u.UserinfoEncryptedResponseAlg != "ECDH-ES+A256KW" || u.UserinfoEncryptedResponseEnc != "A256GCM" || !u.DPoPBoundAccessTokens ||
		u.JWKS == nil || u.ClientName != "App" || len(u.RedirectURIs) != 1 || strings.Join(u.ResponseTypes, " ") != "code" {
		t.Fatalf("after update: %+v", u)
	}
	out := ok(t, dir, "clients", "show", c.ClientID)
	for _, want := range []string{"resources: https://api.example/ https://mcp.example/", "access_token_signed_response_alg: ES256"} {
		if !strings.Contains(strings.Join(strings.Fields(out), " "), want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}
	// Checked as create checks: HS256 is no access token alg, a resource
	// has no fragment, encryption needs a key.
	fails(t, dir, nil, "access_token_signed_response_alg", "clients", "update", c.ClientID, "--access-token-signed-response-alg", "HS256")
	fails(t, dir, nil, "fragment", "clients", "update", c.ClientID, "--resource", "https://api.example/#f")
	fails(t, dir, nil, "needs jwks or jwks_uri", "clients", "update", c.ClientID, "--jwks", "")
	// Back to opaque tokens, every resource, no encryption.
	json.Unmarshal([]byte(ok(t, dir, "clients", "update", c.ClientID, "--resource", "", "--access-token-signed-response-alg", "",
		"--id-token-encrypted-response-alg", "", "--id-token-encrypted-response-enc", "", "--userinfo-encrypted-response-alg", "",
		"--userinfo-encrypted-response-enc", "", "--userinfo-signed-response-alg", "", "--jwks", "", "--json")), &u)
	u2 := clientJSON{}
	json.Unmarshal([]byte(ok(t, dir, "clients", "show", c.ClientID, "--json")), &u2)
	if len(u2.Resources) != 0 || u2.AccessTokenSignedResponseAlg != "" || u2.IDTokenEncryptedResponseAlg != "" ||
		u2.UserinfoEncryptedResponseAlg != "" || u2.UserinfoSignedResponseAlg != "" || u2.JWKS != nil || !u2.DPoPBoundAccessTokens {
		t.Fatalf("after clearing: %+v", u2.ClientMetadata)
	}
	// The audit log names what changed.
	if out := ok(t, dir, "audit", "--target", "client:"+c.ClientID); !strings.Contains(out, "access_token_signed_response_alg") || !strings.Contains(out, "resources") {
		t.Errorf("audit:\n%s", out)
	}
}

// OIDCD_AUDIT_EXPIRE: serve's cleanup deletes the audit records older than
// it, with the other expired rows; without it they stay.
func TestAuditExpire(t *testing.T) {
	dir := t.TempDir()
	ok(t, dir, "migrate")
	ok(t, dir, "clients", "create", "--name", "App", "--redirect-uri", "https://app.example/cb")
	records := func() []map[string]any {
		t.Helper()
		var recs []map[string]any
		if err := json.Unmarshal([]byte(ok(t, dir, "audit", "--json")), &recs); err != nil {
			t.Fatal(err)
		}
		return recs
	}
	if n := len(records()); n != 1 {
		t.Fatalf("%d audit records, want 1", n)
	}
	// Without a lifetime the cleanup keeps them.
	s := serve(t, dir, []string{"OIDCD_ADMIN_PASSWORD=correct horse battery", "OIDCD_CLEANUP_INTERVAL=1"})
	time.Sleep(2500 * time.Millisecond)
	s.stop(t)
	if n := len(records()); n != 1 {
		t.Fatalf("without OIDCD_AUDIT_EXPIRE: %d audit records, want 1", n)
	}
	fails(t, dir, []string{"OIDCD_AUDIT_EXPIRE=-1h"}, "OIDCD_AUDIT_EXPIRE", "audit")
	// With one, a record older than it goes at the next cleanup.
	time.Sleep(time.Second)
	s = serve(t, dir, []string{"OIDCD_AUDIT_EXPIRE=1s", "OIDCD_CLEANUP_INTERVAL=1"})
	deadline := time.Now().Add(10 * time.Second)
	for len(records()) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the audit record was not deleted:\n%s", s.logs())
		}
		time.Sleep(200 * time.Millisecond)
	}
	s.stop(t)
}

// grants list and grants revoke: one grant at a time, as the console's
// consents page revokes it; its tokens stop working at once.
func TestGrantsCommands(t *testing.T) {
	dir := t.TempDir()
	s := serve(t, dir, []string{"OIDCD_ADMIN_PASSWORD=hunter2hunter2", "OIDCD_INTROSPECTION_VALIDATE_AUDIENCE_SCOPE=false"})
	var c clientJSON
	json.Unmarshal([]byte(ok(t, dir, "clients", "create", "--name", "Svc", "--grant-type", "client_credentials",
		"--scope", "read token_introspection", "--json")), &c)
	post := func(path string, form url.Values) map[string]any { return mustClientPost(t, c, s.url, path, form) }
	tok, _ := post("/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}})["access_token"].(string)
	var grants []grantJSON
	json.Unmarshal([]byte(ok(t, dir, "grants", "list", "--client", c.ClientID, "--json")), &grants)
	if len(grants) != 1 || grants[0].ClientID != c.ClientID || grants[0].Scope != "read" || grants[0].ID == "" {
		t.Fatalf("grants list: %+v", grants)
	}
	if out := ok(t, dir, "grants", "list", "--client", c.ClientID); !strings.Contains(out, grants[0].ID) || !strings.Contains(out, "GRANT ID") {
		t.Fatalf("grants list:\n%s", out)
	}
	if m := post("/introspect", url.Values{"token": {tok}}); m["active"] != true {
		t.Fatalf("the token before the revocation: %v", m)
	}
	fails(t, dir, nil, "give --username, --client or both", "grants", "list")
	fails(t, dir, nil, "give the grant id", "grants", "revoke")
	fails(t, dir, nil, `no live grant with id "nope"`, "grants", "revoke", "nope")
	ok(t, dir, "grants", "revoke", grants[0].ID)
	inactiveWithin(t, time.Second, func() map[string]any { return post("/introspect", url.Values{"token": {tok}}) },
		"the token after grants revoke")
	if out := ok(t, dir, "grants", "list", "--client", c.ClientID, "--json"); strings.TrimSpace(out) != "[]" {
		t.Fatalf("grants list after the revocation:\n%s", out)
	}
	if out := ok(t, dir, "audit", "--action", "admin.grant_revoked"); !strings.Contains(out, "grant:"+grants[0].ID) {
		t.Errorf("audit:\n%s", out)
	}
}

// A key id that begins with "-" (base64url) is refused as an unknown flag
// with a hint, and taken after "--".
func TestKeyIDWithLeadingDash(t *testing.T) {
	dir := t.TempDir()
	ok(t, dir, "migrate")
	fails(t, dir, nil, `goes after "--"`, "keys", "retire", "-G2oVmn0wW9cylbmbv8kq3bRVaVVtD8HKyIAE0SQTh8")
	fails(t, dir, nil, "no key with kid", "keys", "retire", "--", "-G2oVmn0wW9cylbmbv8kq3bRVaVVtD8HKyIAE0SQTh8")
}
