package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"image"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/oidcd/oidcd/internal/pgtest"
	"github.com/oidcd/oidcd/keys"
	"github.com/oidcd/oidcd/storage/sqlstore"
)

// unsealAll opens every sealed value of the database with secret.
func unsealAll(t *testing.T, dsn string, secret []byte) error {
	t.Helper()
	store, err := sqlstore.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	seal, err := keys.NewSealer(secret)
	if err != nil {
		t.Fatal(err)
	}
	return verifySealed(t.Context(), store, seal)
}

func readSecretFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestLostSecretFile: a database backed up without its .secret file. oidcd
// says what is wrong and how to fix it, and never makes a new secret that
// would seal part of the data under a second one (docs/security.md
// "System secret").
func TestLostSecretFile(t *testing.T) {
	dir := t.TempDir()
	ok(t, dir, "keys", "create", "--create")
	ok(t, dir, "clients", "create", "--name", "App", "--redirect-uri", "https://app.example/cb")
	secretPath := filepath.Join(dir, "oidcd.db.secret")
	saved, err := os.ReadFile(secretPath)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(secretPath)
	for _, args := range [][]string{
		{"keys", "create"},
		{"keys", "rotate"},
		{"clients", "create", "--name", "App2", "--redirect-uri", "https://app.example/cb"},
		{"secret", "rotate"},
		{"serve", "--addr", "127.0.0.1:0"},
	} {
		fails(t, dir, nil, "the system secret file oidcd.db.secret is missing", args...)
		if _, err := os.Stat(secretPath); err == nil {
			t.Fatalf("oidcd %v made a new secret file for a database with sealed data", args)
		}
	}
	// The message says how to fix it; restoring the file does.
	r := oidcd(t, dir, nil, "keys", "create")
	if !strings.Contains(r.stderr, "Restore oidcd.db.secret from the backup") {
		t.Fatalf("no remedy in:\n%s", r.stderr)
	}
	if err := os.WriteFile(secretPath, saved, 0o600); err != nil {
		t.Fatal(err)
	}
	ok(t, dir, "keys", "create")
	// A new, different secret file is refused before anything is written.
	os.WriteFile(secretPath, []byte(strings.Repeat("cd", 32)+"\n"), 0o600)
	fails(t, dir, nil, "is not the system secret the database", "clients", "create", "--name", "App3", "--redirect-uri", "https://app.example/cb")
	os.WriteFile(secretPath, saved, 0o600)
	if out := ok(t, dir, "clients", "list"); strings.Contains(out, "App3") {
		t.Fatalf("a client was created under the wrong secret:\n%s", out)
	}
	// A database without sealed data gets a secret file as before.
	fresh := t.TempDir()
	ok(t, fresh, "migrate")
	ok(t, fresh, "keys", "create")
	if _, err := os.Stat(filepath.Join(fresh, "oidcd.db.secret")); err != nil {
		t.Fatal(err)
	}
}

// TestSecretRotateSQLite: every sealed value is re-sealed under a new
// secret file; the old secret no longer opens the database.
func TestSecretRotateSQLite(t *testing.T) {
	dir := t.TempDir()
	ok(t, dir, "keys", "create", "--create", "--alg", "ES256")
	ok(t, dir, "clients", "create", "--name", "HS", "--redirect-uri", "https://app.example/cb", "--jwt-alg", "HS256")
	secretPath := filepath.Join(dir, "oidcd.db.secret")
	dsn := "sqlite:" + filepath.Join(dir, "oidcd.db")
	old := readSecretFile(t, secretPath)
	var out struct {
		Resealed   int    `json:"resealed"`
		SecretFile string `json:"secret_file"`
	}
	if err := json.Unmarshal([]byte(ok(t, dir, "secret", "rotate", "--json")), &out); err != nil {
		t.Fatal(err)
	}
	// The key and the client's secret.
	if out.Resealed != 2 || out.SecretFile != "oidcd.db.secret" {
		t.Fatalf("rotate: %+v", out)
	}
	if _, err := os.Stat(secretPath + ".new"); err == nil {
		t.Fatal("rotate left the .new file")
	}
	nw := readSecretFile(t, secretPath)
	if hex.EncodeToString(nw) == hex.EncodeToString(old) {
		t.Fatal("the secret file did not change")
	}
	if err := unsealAll(t, dsn, nw); err != nil {
		t.Fatalf("the new secret does not open the data: %v", err)
	}
	if err := unsealAll(t, dsn, old); err == nil {
		t.Fatal("the old secret still opens the data")
	}
	ok(t, dir, "keys", "list")
	fails(t, dir, []string{"OIDCD_SECRET=" + hex.EncodeToString(old)}, "is not the system secret", "keys", "create")
	s := serve(t, dir, nil)
	s.stop(t)
}

// TestSecretRotatePostgres: the same with OIDCD_SECRET on PostgreSQL; the
// new secret comes from standard input.
func TestSecretRotatePostgres(t *testing.T) {
	dsn := pgtest.NewDatabase(t, pgtest.URL())
	dir := t.TempDir()
	old, nw := strings.Repeat("0a", 32), strings.Repeat("1b", 32)
	env := func(secret string) []string { return []string{"OIDCD_DATABASE=" + dsn, "OIDCD_SECRET=" + secret} }
	run := func(secret string, args ...string) result { return oidcd(t, dir, env(secret), args...) }
	for _, args := range [][]string{{"migrate"}, {"keys", "create"}, {"clients", "create", "--name", "HS", "--redirect-uri", "https://app.example/cb", "--jwt-alg", "HS256"}} {
		if r := run(old, args...); r.code != 0 {
			t.Fatalf("%v: %s", args, r.stderr)
		}
	}
	cmd := exec.Command(bin, "secret", "rotate", "--new-secret-stdin")
	cmd.Dir, cmd.Env, cmd.Stdin = dir, cleanEnv(env(old)...), strings.NewReader(nw+"\n")
	if b, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(b), "re-sealed 2 values") {
		t.Fatalf("secret rotate: %v\n%s", err, b)
	}
	newB, _ := hex.DecodeString(nw)
	oldB, _ := hex.DecodeString(old)
	if err := unsealAll(t, dsn, newB); err != nil {
		t.Fatalf("the new secret does not open the data: %v", err)
	}
	if err := unsealAll(t, dsn, oldB); err == nil {
		t.Fatal("the old secret still opens the data")
	}
	if r := run(old, "keys", "create"); r.code == 0 || !strings.Contains(r.stderr, "OIDCD_SECRET is not the system secret") {
		t.Fatalf("old secret after rotation: %d %s", r.code, r.stderr)
	}
	if r := run(nw, "keys", "list"); r.code != 0 {
		t.Fatalf("new secret: %s", r.stderr)
	}
	// Rotating to the current secret changes nothing.
	cmd = exec.Command(bin, "secret", "rotate", "--new-secret-stdin")
	cmd.Dir, cmd.Env, cmd.Stdin = dir, cleanEnv(env(nw)...), strings.NewReader(nw+"\n")
	if b, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(b), "is the current one") {
		t.Fatalf("rotate to the same secret: %v\n%s", err, b)
	}
}

// TestClientLogoCommands: --logo-file uploads a logo, --logo-url fetches
// one once through the SSRF-safe client (a loopback server needs
// OIDCD_ALLOW_PRIVATE_TARGETS); SVG is refused (docs/security.md "Browser
// pages").
func TestClientLogoCommands(t *testing.T) {
	dir := t.TempDir()
	ok(t, dir, "migrate")
	img := image.NewRGBA(image.Rect(0, 0, 2, 2))
	var buf bytes.Buffer
	png.Encode(&buf, img)
	logo := buf.Bytes()
	file := filepath.Join(dir, "logo.png")
	os.WriteFile(file, logo, 0o600)
	var c clientJSON
	json.Unmarshal([]byte(ok(t, dir, "clients", "create", "--name", "A", "--redirect-uri", "https://a.example/cb", "--logo-file", file, "--json")), &c)
	if out := ok(t, dir, "clients", "show", c.ClientID); !strings.Contains(out, "image/png, "+strconv.Itoa(len(logo))+" bytes, served by oidcd") {
		t.Fatalf("clients show:\n%s", out)
	}
	svg := filepath.Join(dir, "logo.svg")
	os.WriteFile(svg, []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), 0o600)
	fails(t, dir, nil, "must be a PNG, JPEG, GIF or WebP image", "clients", "create", "--name", "B", "--redirect-uri", "https://a.example/cb", "--logo-file", svg)

	fetched := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetched++
		w.Header().Set("Content-Type", "image/png")
		w.Write(logo)
	}))
	defer srv.Close()
	// A loopback address is refused by default: the client is made, without a logo.
	r := oidcd(t, dir, nil, "clients", "create", "--name", "C", "--redirect-uri", "https://a.example/cb", "--logo-url", srv.URL+"/logo.png", "--json")
	if r.code != 0 || !strings.Contains(r.stderr, "was not fetched") || fetched != 0 {
		t.Fatalf("loopback logo URL: %d fetched=%d\n%s", r.code, fetched, r.stderr)
	}
	r = oidcd(t, dir, []string{"OIDCD_ALLOW_PRIVATE_TARGETS=true"}, "clients", "create", "--name", "D", "--redirect-uri", "https://a.example/cb", "--logo-url", srv.URL+"/logo.png", "--json")
	json.Unmarshal([]byte(r.stdout), &c)
	if r.code != 0 || fetched != 1 {
		t.Fatalf("logo URL with private targets allowed: %d fetched=%d\n%s", r.code, fetched, r.stderr)
	}
	if out := ok(t, dir, "clients", "show", c.ClientID); !strings.Contains(out, "served by oidcd") {
		t.Fatalf("clients show after a fetched logo:\n%s", out)
	}
}
