package console

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oidcd/oidcd/keys"
	"github.com/oidcd/oidcd/manage"
)

var keyRowRE = regexp.MustCompile(`(?s)<td data-label="Key ID \(kid\)"><code>([^<]+)</code></td>\s*<td data-label="Algorithm">([^<]+)</td>.*?<td data-label="State"><strong>([^<]+)</strong>`)

// keyStates reads the key table: kid → "alg state".
func keyStates(body string) map[string]string {
	out := map[string]string{}
	for _, m := range keyRowRE.FindAllStringSubmatch(body, -1) {
		out[m[1]] = m[2] + " " + m[3]
	}
	return out
}

// An admin creates, rotates, imports, retires and deletes signing keys;
// what the service refuses (retiring the only key of an algorithm,
// deleting a key whose tokens can still be valid) is refused with the
// reason, and the relying party keeps verifying tokens across a rotation.
func TestAdminKeys(t *testing.T) { testAdminKeys(t, newEnv(t, nil)) }

// TestAdminKeysPostgres is the same on PostgreSQL.
func TestAdminKeysPostgres(t *testing.T) { testAdminKeys(t, newEnvPostgres(t, nil)) }

func testAdminKeys(t *testing.T, e *env) {
	c := e.adminBrowser(t)
	e.addUser(t, "alice", "alice-password", false)
	ac := e.browser(t)
	e.login(t, ac, "alice", "alice-password")
	cl, secret := e.newClient(t, "App", false)
	p := e.newRP(t, cl.ID, secret, "http://127.0.0.1:9/cb")
	before := e.signIn(t, ac, p)

	r := e.get(t, c, "/admin/keys")
	wantStatus(t, "keys", r, http.StatusOK)
	states := keyStates(r.body)
	if len(states) != 1 {
		t.Fatalf("keys at start: %v", states)
	}
	var first string
	for kid := range states {
		first = kid
	}
	if states[first] != "RS256 active" {
		t.Fatalf("first key: %s", states[first])
	}

	// Retiring the only RS256 key is refused with the reason.
	r = e.post(t, c, "/admin/keys", "/admin/keys/"+first+"/retire", nil)
	wantStatus(t, "retire the only key", r, http.StatusBadRequest)
	if !strings.Contains(r.body, "only RS256 key") {
		t.Errorf("the refusal does not say why:\n%s", r.body)
	}

	// A first ES256 key signs at once.
	r = e.post(t, c, "/admin/keys", "/admin/keys/create", url.Values{"alg": {"ES256"}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/admin/keys?done=key-created" {
		t.Fatalf("create: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	wantStatus(t, "create with a bad alg", e.post(t, c, "/admin/keys", "/admin/keys/create", url.Values{"alg": {"HS256"}}), http.StatusBadRequest)

	// Rotate RS256: the new key is next, the old one retires when it activates.
	e.clock.Add(time.Second)
	wantStatus(t, "rotate", e.post(t, c, "/admin/keys", "/admin/keys/rotate", url.Values{"alg": {"RS256"}}), http.StatusSeeOther)
	r = e.get(t, c, "/admin/keys?done=key-created")
	states = keyStates(r.body)
	var next string
	for kid, st := range states {
		if st == "RS256 next" {
			next = kid
		}
	}
	if len(states) != 3 || next == "" || states[first] != "RS256 active" || !strings.Contains(r.body, "Signing key created.") {
		t.Fatalf("after rotating: %v", states)
	}
	jwks := e.get(t, c, "/jwks").body
	if !strings.Contains(jwks, next) || !strings.Contains(jwks, first) {
		t.Fatalf("JWKS during the rotation lacks a key: %s", jwks)
	}
	// Deleting the old key is refused while its tokens can be valid.
	r = e.post(t, c, "/admin/keys", "/admin/keys/"+first+"/delete", nil)
	wantStatus(t, "delete an active key", r, http.StatusBadRequest)

	// The new key activates; the old one is retired, still published.
	e.clock.Add(6 * time.Minute)
	e.login(t, c, "root", "root-password")
	if err := e.srv.Provider().ReloadKeys(t.Context()); err != nil {
		t.Fatal(err)
	}
	states = keyStates(e.get(t, c, "/admin/keys").body)
	if states[next] != "RS256 active" || states[first] != "RS256 retired" {
		t.Fatalf("after activation: %v", states)
	}
	after := e.signIn(t, ac, p)
	for name, tok := range map[string]string{"before": before.Extra("id_token").(string), "after": after.Extra("id_token").(string)} {
		if _, err := p.verifier.Verify(p.ctx, tok); err != nil {
			t.Errorf("the relying party cannot verify the ID token from %s the rotation: %v", name, err)
		}
	}
	if kidOf(t, after.Extra("id_token").(string)) != next {
		t.Errorf("the new ID token is not signed by the new key")
	}
	r = e.post(t, c, "/admin/keys", "/admin/keys/"+first+"/delete", nil)
	wantStatus(t, "delete before the tokens expired", r, http.StatusBadRequest)
	if !strings.Contains(r.body, "can be deleted then") {
		t.Errorf("the refusal does not say when:\n%s", r.body)
	}
	if strings.Contains(e.get(t, c, "/admin/keys").body, "/admin/keys/"+first+"/delete") {
		t.Error("a delete link before the key may be deleted")
	}

	// Once no token it signed can be valid, it can be deleted.
	e.clock.Add(61 * time.Minute)
	e.login(t, c, "root", "root-password")
	r = e.get(t, c, "/admin/keys")
	if !strings.Contains(r.body, `href="/admin/keys/`+first+`/delete"`) {
		t.Fatalf("no delete link for the expired key:\n%s", r.body)
	}
	r = e.get(t, c, "/admin/keys/"+first+"/delete")
	wantStatus(t, "delete confirmation", r, http.StatusOK)
	wantStatus(t, "delete", e.post(t, c, "/admin/keys/"+first+"/delete", "/admin/keys/"+first+"/delete", nil), http.StatusSeeOther)
	if _, ok := keyStates(e.get(t, c, "/admin/keys").body)[first]; ok {
		t.Fatal("the deleted key is still listed")
	}
	wantStatus(t, "delete an unknown key", e.get(t, c, "/admin/keys/no-such-kid/delete"), http.StatusNotFound)

	// Import django-oidc-provider's creatersakey output: PKCS #1 PEM.
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pemText := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rk)}))
	wantStatus(t, "import", e.post(t, c, "/admin/keys", "/admin/keys/import", url.Values{"pem": {pemText}}), http.StatusSeeOther)
	kid, err := keys.Thumbprint(rk)
	if err != nil {
		t.Fatal(err)
	}
	if st := keyStates(e.get(t, c, "/admin/keys").body)[kid]; !strings.HasPrefix(st, "RS256 ") {
		t.Fatalf("the imported key: %q", st)
	}
	r = e.post(t, c, "/admin/keys", "/admin/keys/import", url.Values{"pem": {"-----BEGIN NOTHING-----"}})
	wantStatus(t, "import garbage", r, http.StatusBadRequest)
	wantStatus(t, "import nothing", e.post(t, c, "/admin/keys", "/admin/keys/import", url.Values{"pem": {""}}), http.StatusBadRequest)

	// Refused changes record nothing; the rotation is recorded on the new key.
	if got := strings.Join(e.auditActions(t, "key:"+first), " "); got != manage.ActionKeyDeleted {
		t.Errorf("audit of the first key: %q", got)
	}
	if got := strings.Join(e.auditActions(t, "key:"+next), " "); got != manage.ActionKeyRotated {
		t.Errorf("audit of the rotated-in key: %q", got)
	}
	if got := strings.Join(e.auditActions(t, "key:"+kid), " "); got != manage.ActionKeyImported {
		t.Errorf("audit of the imported key: %q", got)
	}
}

// kidOf is the kid header of a JWS.
func kidOf(t *testing.T, jws string) string {
	t.Helper()
	h, _, _ := strings.Cut(jws, ".")
	b, err := base64URL(h)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`"kid":"([^"]+)"`).FindStringSubmatch(string(b))
	if m == nil {
		t.Fatalf("no kid in %s", b)
	}
	return m[1]
}
