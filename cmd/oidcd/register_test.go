package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func postRegistration(t *testing.T, url, bearer string, body map[string]any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, url, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// TestRegistrationTokensCommand: tokens made by the CLI open /register of a
// running server, as many times as --uses says and until --expires.
func TestRegistrationTokensCommand(t *testing.T) {
	dir := t.TempDir()
	ok(t, dir, "migrate")
	fails(t, dir, nil, "--uses must be 0 or more", "registration-tokens", "create", "--uses", "-1")
	fails(t, dir, nil, "--expires must be positive", "registration-tokens", "create", "--expires", "0s")
	var two, short struct {
		Token     string    `json:"token"`
		Uses      int       `json:"uses"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	json.Unmarshal([]byte(ok(t, dir, "registration-tokens", "create", "--uses", "2", "--json")), &two)
	json.Unmarshal([]byte(ok(t, dir, "registration-tokens", "create", "--expires", "2s", "--json")), &short)
	if len(two.Token) < 40 || two.Uses != 2 || time.Until(two.ExpiresAt) < 23*time.Hour || short.Uses != 1 {
		t.Fatalf("tokens: %+v %+v", two, short)
	}
	if out := ok(t, dir, "registration-tokens", "create"); !strings.Contains(out, "token: ") {
		t.Fatalf("text output: %s", out)
	}
	srv := serve(t, dir, []string{"OIDCD_ADMIN_PASSWORD=correct horse battery"})
	var doc map[string]any
	getJSON(t, srv.url+"/.well-known/oauth-authorization-server", &doc)
	if doc["registration_endpoint"] != doc["issuer"].(string)+"/register" {
		t.Fatalf("registration_endpoint: %v", doc["registration_endpoint"])
	}
	meta := map[string]any{"client_name": "CLI-made", "redirect_uris": []string{"https://rp.example/cb"}, "grant_types": []string{"authorization_code", "refresh_token"}}
	if status, body := postRegistration(t, srv.url+"/register", "", meta); status != 401 {
		t.Fatalf("without a token: %d %v", status, body)
	}
	time.Sleep(2 * time.Second) // the short token expires
	if status, body := postRegistration(t, srv.url+"/register", short.Token, meta); status != 401 {
		t.Fatalf("expired token: %d %v", status, body)
	}
	var id string
	for i := range 2 {
		status, body := postRegistration(t, srv.url+"/register", two.Token, meta)
		if status != 201 {
			t.Fatalf("use %d: %d %v", i+1, status, body)
		}
		id = body["client_id"].(string)
	}
	if status, _ := postRegistration(t, srv.url+"/register", two.Token, meta); status != 401 {
		t.Fatalf("third use: %d", status)
	}
	// The registered client is an ordinary client of the CLI, shown with its
	// registration metadata.
	var shown clientJSON
	json.Unmarshal([]byte(ok(t, dir, "clients", "show", id, "--json")), &shown)
	if shown.ClientName != "CLI-made" || strings.Join(shown.GrantTypes, " ") != "authorization_code refresh_token" {
		t.Fatalf("show: %+v", shown)
	}
	if out := ok(t, dir, "clients", "show", id); !strings.Contains(out, "through /register") {
		t.Fatalf("show text: %s", out)
	}
}

// TestServeOpenRegistration: OIDCD_REGISTRATION_OPEN=true lets anyone register.
func TestServeOpenRegistration(t *testing.T) {
	dir := t.TempDir()
	srv := serve(t, dir, []string{"OIDCD_ADMIN_PASSWORD=correct horse battery", "OIDCD_REGISTRATION_OPEN=true"})
	status, body := postRegistration(t, srv.url+"/register", "", map[string]any{
		"client_name": "Agent", "redirect_uris": []string{"http://127.0.0.1/callback"}, "token_endpoint_auth_method": "none",
	})
	if status != 201 || body["client_secret"] != nil {
		t.Fatalf("open registration: %d %v", status, body)
	}
}

// TestClientsCreateRegistrationFlags: the CLI takes registration metadata
// as flags and validates it as /register does.
func TestClientsCreateRegistrationFlags(t *testing.T) {
	dir := t.TempDir()
	ok(t, dir, "migrate")
	jwks := filepath.Join(dir, "jwks.json")
	os.WriteFile(jwks, []byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","kid":"k1"}]}`), 0o600)
	var c clientJSON
	json.Unmarshal([]byte(ok(t, dir, "clients", "create", "--name", "Svc", "--redirect-uri", "https://svc.example/cb",
		"--token-endpoint-auth-method", "client_secret_post", "--grant-type", "authorization_code", "--grant-type", "client_credentials",
		"--jwks", jwks, "--software-id", "svc", "--json")), &c)
	if c.TokenEndpointAuthMethod != "client_secret_post" || len(c.GrantTypes) != 2 || !strings.Contains(string(c.JWKS), `"k1"`) || c.SoftwareID != "svc" {
		t.Fatalf("created: %+v", c)
	}
	var pub clientJSON
	json.Unmarshal([]byte(ok(t, dir, "clients", "create", "--name", "Native", "--redirect-uri", "http://127.0.0.1/cb",
		"--token-endpoint-auth-method", "none", "--json")), &pub)
	if pub.Type != "public" || pub.ClientSecret != "" {
		t.Fatalf("none makes a public client: %+v", pub)
	}
	fails(t, dir, nil, "token_endpoint_auth_method", "clients", "create", "--name", "X", "--redirect-uri", "https://x.example/cb", "--token-endpoint-auth-method", "magic")
	fails(t, dir, nil, "jwks and jwks_uri", "clients", "create", "--name", "X", "--redirect-uri", "https://x.example/cb", "--jwks", jwks, "--jwks-uri", "https://x.example/jwks")
	fails(t, dir, nil, "needs grant type implicit", "clients", "create", "--name", "X", "--redirect-uri", "https://x.example/cb", "--response-type", "id_token", "--grant-type", "authorization_code")
	fails(t, dir, nil, `scheme "javascript"`, "clients", "create", "--name", "X", "--redirect-uri", "javascript:alert(1)")
	// Pairwise subjects (OIDC Core §8.1) and request objects.
	var pw clientJSON
	json.Unmarshal([]byte(ok(t, dir, "clients", "create", "--name", "PW", "--redirect-uri", "https://a.example/cb", "--subject-type", "pairwise",
		"--request-uri", "https://a.example/r.jwt", "--request-object-signing-alg", "ES256", "--json")), &pw)
	if pw.SubjectType != "pairwise" || len(pw.RequestURIs) != 1 || pw.RequestObjectSigningAlg != "ES256" {
		t.Fatalf("pairwise client: %+v", pw)
	}
	fails(t, dir, nil, "sector_identifier_uri", "clients", "create", "--name", "X", "--redirect-uri", "https://a.example/cb", "--redirect-uri", "https://b.example/cb", "--subject-type", "pairwise")
	fails(t, dir, nil, "sector_identifier_uri could not be fetched", "clients", "create", "--name", "X", "--redirect-uri", "https://a.example/cb", "--subject-type", "pairwise", "--sector-identifier-uri", "https://127.0.0.1:1/sector.json")
	fails(t, dir, nil, "subject_type", "clients", "create", "--name", "X", "--redirect-uri", "https://a.example/cb", "--subject-type", "secret")
	fails(t, dir, nil, "request_object_signing_alg", "clients", "create", "--name", "X", "--redirect-uri", "https://a.example/cb", "--request-object-signing-alg", "HS1")
}

// TestClientsCreateEncryptionFlags: ID token and userinfo encryption
// (OIDC Registration §2) from the CLI, validated as /register validates
// it: refusals first, then a client whose enc defaults to A128CBC-HS256.
func TestClientsCreateEncryptionFlags(t *testing.T) {
	dir := t.TempDir()
	ok(t, dir, "migrate")
	jwks := filepath.Join(dir, "jwks.json") // one EC P-256 key, no use: fit for ECDH-ES only
	os.WriteFile(jwks, []byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","kid":"k1"}]}`), 0o600)
	base := []string{"clients", "create", "--name", "X", "--redirect-uri", "https://x.example/cb"}
	with := func(extra ...string) []string { return append(append([]string{}, base...), extra...) }
	fails(t, dir, nil, `id_token_encrypted_response_alg "RSA1_5" is not supported`, with("--jwks", jwks, "--id-token-encrypted-response-alg", "RSA1_5")...)
	fails(t, dir, nil, `id_token_encrypted_response_enc "A999GCM" is not supported`, with("--jwks", jwks, "--id-token-encrypted-response-alg", "ECDH-ES", "--id-token-encrypted-response-enc", "A999GCM")...)
	fails(t, dir, nil, "id_token_encrypted_response_enc needs id_token_encrypted_response_alg", with("--jwks", jwks, "--id-token-encrypted-response-enc", "A256GCM")...)
	fails(t, dir, nil, "needs jwks or jwks_uri", with("--id-token-encrypted-response-alg", "ECDH-ES")...)
	fails(t, dir, nil, "jwks has no key to encrypt to", with("--jwks", jwks, "--userinfo-encrypted-response-alg", "RSA-OAEP-256")...)
	fails(t, dir, nil, `userinfo_signed_response_alg "none" is not supported`, with("--userinfo-signed-response-alg", "none")...)
	// SECURITY K1: a loopback jwks_uri is not fetched (no private targets).
	fails(t, dir, nil, "jwks_uri could not be fetched", with("--jwks-uri", "http://127.0.0.1:1/jwks", "--id-token-encrypted-response-alg", "ECDH-ES")...)
	var listed []clientJSON
	if err := json.Unmarshal([]byte(ok(t, dir, "clients", "list", "--json")), &listed); err != nil || len(listed) != 0 {
		t.Fatalf("refused clients were created: %v %+v", err, listed)
	}
	var c clientJSON
	json.Unmarshal([]byte(ok(t, dir, "clients", "create", "--name", "Enc", "--redirect-uri", "https://enc.example/cb", "--jwks", jwks,
		"--id-token-encrypted-response-alg", "ECDH-ES", "--userinfo-signed-response-alg", "ES256",
		"--userinfo-encrypted-response-alg", "ECDH-ES+A256KW", "--userinfo-encrypted-response-enc", "A256GCM", "--json")), &c)
	if c.IDTokenEncryptedResponseAlg != "ECDH-ES" || c.IDTokenEncryptedResponseEnc != "A128CBC-HS256" || c.UserinfoSignedResponseAlg != "ES256" ||
		c.UserinfoEncryptedResponseAlg != "ECDH-ES+A256KW" || c.UserinfoEncryptedResponseEnc != "A256GCM" {
		t.Fatalf("created: %+v", c.ClientMetadata)
	}
	out := ok(t, dir, "clients", "show", c.ClientID)
	for _, want := range []string{"id_token_encrypted_response_alg:  ECDH-ES", "id_token_encrypted_response_enc:  A128CBC-HS256", "userinfo_encrypted_response_enc:  A256GCM"} {
		if !strings.Contains(strings.Join(strings.Fields(out), " "), strings.Join(strings.Fields(want), " ")) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}
}
