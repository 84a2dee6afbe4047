package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"github.com/oidcd/oidcd/op"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// bin is the oidcd binary built once for every test.
var bin string

func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.fuzzworker"); f != nil && f.Value.String() == "true" {
		os.Exit(m.Run()) // fuzz workers run only FuzzConfigFile: no binary needed
	}
	dir, err := os.MkdirTemp("", "oidcd-test")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "oidcd")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build oidcd:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// cleanEnv is the test process's environment without OIDCD_ variables,
// plus extra.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OIDCD_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

type result struct {
	stdout, stderr string
	code           int
}

// oidcd runs the binary in dir with env and returns its output and status.
func oidcd(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	// A command that should fail but serves instead must not hang the suite.
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = cleanEnv(env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{out.String(), errb.String(), code}
}

// ok runs oidcd and fails the test unless it exits 0.
func ok(t *testing.T, dir string, args ...string) string {
	t.Helper()
	r := oidcd(t, dir, nil, args...)
	if r.code != 0 {
		t.Fatalf("oidcd %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// fails runs oidcd and checks it exits non-zero with msg on stderr.
func fails(t *testing.T, dir string, env []string, msg string, args ...string) {
	t.Helper()
	r := oidcd(t, dir, env, args...)
	if r.code == 0 {
		t.Fatalf("oidcd %s: exit 0, want failure\n%s", strings.Join(args, " "), r.stdout)
	}
	if !strings.Contains(r.stderr, msg) {
		t.Fatalf("oidcd %s: stderr lacks %q:\n%s", strings.Join(args, " "), msg, r.stderr)
	}
}

// inactiveWithin polls introspect until it reports the token inactive,
// failing after bound (plus half a second for a loaded machine). A
// revocation through the command line (another process) reaches a running
// server once its caches let go of what they hold: the token cache
// (OIDCD_TOKEN_CACHE_TTL, 1 s by default) for a stored token, the client
// cache (5 s) for a whole client's stateless tokens.
func inactiveWithin(t *testing.T, bound time.Duration, introspect func() map[string]any, what string) {
	t.Helper()
	deadline := time.Now().Add(bound + 500*time.Millisecond)
	for {
		m := introspect()
		if m["active"] == false {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still active after %v: %v", what, bound, m)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// running is a started "oidcd serve".
type running struct {
	cmd    *exec.Cmd
	url    string
	stdout *bytes.Buffer
	mu     sync.Mutex
	stderr bytes.Buffer
	done   chan struct{}
}

var listeningRE = regexp.MustCompile(`(?:msg=listening addr=|"msg":"listening","addr":")([^\s"]+)`)

// serve starts "oidcd serve" on a free port and waits until it listens and
// /readyz answers 200 (on a first start the signing key is made while the
// server already answers).
func serve(t *testing.T, dir string, env []string, args ...string) *running {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	cmd.Dir = dir
	cmd.Env = cleanEnv(env...)
	s := &running{cmd: cmd, stdout: &bytes.Buffer{}, done: make(chan struct{})}
	cmd.Stdout = s.stdout
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.stderr.WriteString(line + "\n")
			s.mu.Unlock()
			if m := listeningRE.FindStringSubmatch(line); m != nil {
				addr <- m[1]
			}
		}
	}()
	t.Cleanup(func() { s.stop(t) })
	select {
	case a := <-addr:
		s.url = "http://" + a
	case <-s.done:
		cmd.Wait()
		t.Fatalf("oidcd serve exited early:\n%s%s", s.stdout, s.logs())
	case <-time.After(20 * time.Second):
		t.Fatalf("oidcd serve did not start:\n%s", s.logs())
	}
	listening := time.Since(start)
	probe := &http.Client{Timeout: time.Second}
	readyz := s.url + "/readyz"
	if strings.Contains(s.logs(), "tls=true") { // the test holds the certificate; readiness is all that is asked
		readyz = strings.Replace(readyz, "http://", "https://", 1)
		probe.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		resp, err := probe.Get(readyz)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("oidcd serve listens but /readyz is not 200 (%v, %v):\n%s", resp, err, s.logs())
		}
	}
	t.Logf("oidcd serve listening after %v, ready after %v", listening, time.Since(start))
	return s
}

func (s *running) logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stderr.String()
}

// stop sends SIGTERM and waits for a clean exit.
func (s *running) stop(t *testing.T) {
	t.Helper()
	if s.cmd.ProcessState != nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	<-s.done
	if err := s.cmd.Wait(); err != nil {
		t.Errorf("oidcd serve: %v\n%s", err, s.logs())
	}
	if !strings.Contains(s.logs(), "msg=stopped") && !strings.Contains(s.logs(), `"msg":"stopped"`) {
		t.Errorf("no graceful shutdown:\n%s", s.logs())
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v\n%s", url, err, b)
	}
}

var adminRE = regexp.MustCompile(`created admin user "admin" with password: (\S+)`)

func TestServe(t *testing.T) {
	dir := t.TempDir()
	s := serve(t, dir, nil)
	var disc struct {
		Issuer        string `json:"issuer"`
		TokenEndpoint string `json:"token_endpoint"`
	}
	getJSON(t, s.url+"/.well-known/openid-configuration", &disc)
	if disc.Issuer != "http://localhost:8000" || disc.TokenEndpoint != "http://localhost:8000/token" {
		t.Fatalf("discovery = %+v", disc)
	}
	var health struct{ Status string }
	getJSON(t, s.url+"/healthz", &health)
	if health.Status != "ok" {
		t.Fatalf("healthz = %+v", health)
	}
	resp, err := http.Get(s.url + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /login: %d", resp.StatusCode)
	}
	s.stop(t)
	if n := len(adminRE.FindAllString(s.stdout.String(), -1)); n != 1 {
		t.Fatalf("admin password printed %d times:\n%s", n, s.stdout)
	}
	for _, f := range []string{"oidcd.db", "oidcd.db.secret"} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", f, fi.Mode().Perm())
		}
	}
	pw := adminRE.FindStringSubmatch(s.stdout.String())[1]
	if len(pw) < 20 {
		t.Errorf("generated admin password %q is short", pw)
	}

	// A second start on the same database prints no password and keeps the
	// signing key.
	s2 := serve(t, dir, nil)
	s2.stop(t)
	if strings.Contains(s2.stdout.String(), "password") {
		t.Fatalf("second start printed:\n%s", s2.stdout)
	}
	if out := ok(t, dir, "keys", "list"); strings.Count(out, "RS256") != 1 {
		t.Fatalf("keys after two starts:\n%s", out)
	}
	if out := ok(t, dir, "users", "list"); !strings.Contains(out, "admin") || !strings.Contains(out, "true") {
		t.Fatalf("users list:\n%s", out)
	}
}

func TestServeAdminPasswordFromEnv(t *testing.T) {
	dir := t.TempDir()
	s := serve(t, dir, []string{"OIDCD_ADMIN_PASSWORD=hunter2hunter2", "OIDCD_DATABASE=sqlite:" + filepath.Join(dir, "x.db")})
	s.stop(t)
	if strings.Contains(s.stdout.String(), "hunter2") || adminRE.MatchString(s.stdout.String()) {
		t.Fatalf("stdout:\n%s", s.stdout)
	}
	if _, err := os.Stat(filepath.Join(dir, "x.db.secret")); err != nil {
		t.Fatal("OIDCD_DATABASE ignored:", err)
	}
}

func TestServePrecedence(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "oidcd.json")
	os.WriteFile(cfg, []byte(`{"issuer": "http://file.example", "code_expire": "5m", "token_expire": 60, "log_level": "debug"}`), 0o600)
	issuer := func(env []string, args ...string) string {
		s := serve(t, dir, env, args...)
		var disc struct{ Issuer string }
		getJSON(t, s.url+"/.well-known/openid-configuration", &disc)
		s.stop(t)
		return disc.Issuer
	}
	if got := issuer(nil, "--config", cfg); got != "http://file.example" {
		t.Errorf("file: issuer %q", got)
	}
	env := []string{"OIDCD_CONFIG=" + cfg, "OIDCD_ISSUER=http://env.example"}
	if got := issuer(env); got != "http://env.example" {
		t.Errorf("env over file: issuer %q", got)
	}
	if got := issuer(env, "--issuer", "http://flag.example"); got != "http://flag.example" {
		t.Errorf("flag over env: issuer %q", got)
	}
	if got := issuer([]string{"OIDCD_SITE_URL=http://site.example"}); got != "http://site.example" {
		t.Errorf("OIDCD_SITE_URL: issuer %q", got)
	}
}

// Settings reach the provider without a copy in between: the PAR settings,
// once left out of such a copy, are in force.
func TestServeSettingsReachProvider(t *testing.T) {
	s := serve(t, t.TempDir(), []string{"OIDCD_REQUIRE_PUSHED_AUTHORIZATION_REQUESTS=true"})
	var disc struct {
		RequirePAR bool `json:"require_pushed_authorization_requests"`
	}
	getJSON(t, s.url+"/.well-known/openid-configuration", &disc)
	if !disc.RequirePAR {
		t.Error("OIDCD_REQUIRE_PUSHED_AUTHORIZATION_REQUESTS=true: discovery does not require PAR")
	}
}

func TestServeBadSettings(t *testing.T) {
	dir := t.TempDir()
	// Every bad setting is reported as such, before the bind: with the
	// address taken, the error is still the setting's.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	serveFails := func(env []string, msg string, args ...string) {
		t.Helper()
		fails(t, dir, append([]string{"OIDCD_ADDR=" + busy.Addr().String()}, env...), msg, append([]string{"serve"}, args...)...)
	}
	serveFails([]string{"OIDCD_CODE_EXPIRE=abc"}, "OIDCD_CODE_EXPIRE: invalid duration")
	serveFails([]string{"OIDCD_IDTOKEN_INCLUDE_CLAIMS=maybe"}, "OIDCD_IDTOKEN_INCLUDE_CLAIMS: invalid boolean")
	serveFails(nil, "flag --token-expire: invalid duration", "--token-expire", "-5")
	cfg := filepath.Join(dir, "bad.json")
	os.WriteFile(cfg, []byte(`{"adrr": ":9000"}`), 0o600)
	serveFails(nil, `unknown setting "adrr"`, "--config", cfg)
	serveFails([]string{"OIDCD_DATABASE=postgres://u@localhost/db"}, "OIDCD_SECRET is required with PostgreSQL")
	serveFails([]string{"OIDCD_SECRET=short"}, "OIDCD_SECRET must be at least 32 bytes")
	// Good settings on a taken address: the bind's error, and nothing made.
	serveFails(nil, "address already in use")
	fails(t, dir, nil, "unknown command", "frobnicate")
	for _, f := range []string{"oidcd.db", "oidcd.db.secret"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("a failed start created %s", f)
		}
	}
}

func TestHelp(t *testing.T) {
	out := ok(t, t.TempDir(), "help")
	for _, want := range []string{"oidcd serve", "OIDCD_CODE_EXPIRE", "OIDCD_SKIP_CONSENT_EXPIRE", "OIDCD_GRANT_TYPE_PASSWORD_ENABLE", "clients create",
		"OIDCD_SESSION_MANAGEMENT_ENABLE", "OIDCD_UNAUTHENTICATED_SESSION_MANAGEMENT_KEY", "OIDCD_ALLOW_PRIVATE_TARGETS",
		"OIDCD_BACKCHANNEL_LOGOUT_LEASE", "OIDCD_BACKCHANNEL_LOGOUT_RETRY_BACKOFF", "OIDCD_BACKCHANNEL_LOGOUT_RETRY_FOR", "OIDCD_BACKCHANNEL_LOGOUT_POLL_INTERVAL"} {
		if !strings.Contains(out, want) {
			t.Errorf("help lacks %s", want)
		}
	}
	r := oidcd(t, t.TempDir(), nil, "serve", "--help")
	if r.code != 0 || !strings.Contains(r.stdout, "--code-expire") || !strings.Contains(r.stdout, "OIDCD_TOKEN_EXPIRE") || r.stderr != "" {
		t.Fatalf("serve --help: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestClientsCommands(t *testing.T) {
	dir := t.TempDir()
	ok(t, dir, "migrate")
	out := ok(t, dir, "clients", "create", "--name", "My App", "--response-type", "code", "--response-type", "id_token token",
		"--redirect-uri", "https://app.example/cb", "--redirect-uri", "http://127.0.0.1:9000/cb",
		"--post-logout-redirect-uri", "https://app.example/bye", "--scope", "read write", "--scope", "admin",
		"--jwt-alg", "ES256", "--require-consent", "--website", "https://app.example", "--json")
	var created clientJSON
	if err := json.Unmarshal([]byte(out), &created); err != nil {
		t.Fatalf("create --json: %v\n%s", err, out)
	}
	if created.ClientID == "" || len(created.ClientSecret) < 40 || created.Type != "confidential" ||
		len(created.ResponseTypes) != 2 || created.IDTokenSignedResponseAlg != "ES256" || !created.RequireConsent ||
		created.Scope != "read write admin" || created.ClientName != "My App" || created.ClientURI != "https://app.example" ||
		created.TokenEndpointAuthMethod != "client_secret_basic" {
		t.Fatalf("created = %+v", created)
	}
	id := created.ClientID

	var list []clientJSON
	json.Unmarshal([]byte(ok(t, dir, "clients", "list", "--json")), &list)
	if len(list) != 1 || list[0].ClientID != id || list[0].ClientSecret != "" {
		t.Fatalf("list = %+v", list)
	}
	if out := ok(t, dir, "clients", "list"); !strings.Contains(out, id) || !strings.Contains(out, "My App") {
		t.Fatalf("list:\n%s", out)
	}
	// The id as an argument before or after the flags, or as --id.
	for _, args := range [][]string{{"show", id, "--json"}, {"show", "--json", id}, {"show", "--id", id, "--json"}} {
		var shown clientJSON
		out := ok(t, dir, append([]string{"clients"}, args...)...)
		if err := json.Unmarshal([]byte(out), &shown); err != nil || shown.ClientID != id || shown.ClientName != "My App" || shown.ClientSecret != "" {
			t.Fatalf("clients %v: %v\n%s", args, err, out)
		}
	}
	var rotated clientJSON
	json.Unmarshal([]byte(ok(t, dir, "clients", "rotate-secret", id, "--json")), &rotated)
	if rotated.ClientSecret == "" || rotated.ClientSecret == created.ClientSecret {
		t.Fatalf("rotate-secret = %+v", rotated)
	}

	// policy_uri: linked from the consent page, so an absolute http(s) URL.
	var withPolicy clientJSON
	json.Unmarshal([]byte(ok(t, dir, "clients", "create", "--name", "Policy", "--redirect-uri", "https://app.example/cb",
		"--policy-uri", "https://app.example/privacy", "--json")), &withPolicy)
	if withPolicy.PolicyURI != "https://app.example/privacy" {
		t.Fatalf("--policy-uri: %+v", withPolicy)
	}
	fails(t, dir, nil, "policy_uri", "clients", "create", "--name", "Bad", "--redirect-uri", "https://app.example/cb", "--policy-uri", "javascript:alert(1)")
	pub := ok(t, dir, "clients", "create", "--name", "SPA", "--type", "public", "--redirect-uri", "https://spa.example/cb", "--json")
	var spa clientJSON
	json.Unmarshal([]byte(pub), &spa)
	if spa.Type != "public" || spa.ClientSecret != "" || strings.Contains(pub, "client_secret") {
		t.Fatalf("public client:\n%s", pub)
	}
	fails(t, dir, nil, "is public", "clients", "rotate-secret", spa.ClientID)
	// The password grant: per client, confidential unless the operator
	// allows a public one (docs/security.md "Password grant").
	fails(t, dir, nil, "the password grant is for confidential clients", "clients", "create", "--name", "P", "--type", "public",
		"--redirect-uri", "https://spa.example/cb", "--grant-type", "authorization_code", "--grant-type", "password")
	var pwc clientJSON
	json.Unmarshal([]byte(ok(t, dir, "clients", "create", "--name", "P", "--type", "public", "--redirect-uri", "https://spa.example/cb",
		"--grant-type", "authorization_code", "--grant-type", "password", "--allow-public-password-grant", "--json")), &pwc)
	if strings.Join(pwc.GrantTypes, " ") != "authorization_code password" || !pwc.PublicPasswordGrant {
		t.Fatalf("public client allowed the password grant: %+v", pwc)
	}
	if out := ok(t, dir, "clients", "show", pwc.ClientID); !strings.Contains(out, "grant_types:") || !strings.Contains(out, "public_password_grant:") {
		t.Fatalf("clients show:\n%s", out)
	}
	fails(t, dir, nil, "unsupported grant type", "clients", "create", "--name", "X", "--redirect-uri", "https://x.example/cb", "--grant-type", "magic")

	// A device-only client (RFC 8628) needs no redirect URI.
	var tv clientJSON
	json.Unmarshal([]byte(ok(t, dir, "clients", "create", "--name", "TV", "--type", "public", "--grant-type", "device_code", "--json")), &tv)
	if len(tv.GrantTypes) != 1 || tv.GrantTypes[0] != op.GrantTypeDeviceCode || len(tv.ResponseTypes) != 0 {
		t.Fatalf("device client: %+v", tv)
	}
	var svc clientJSON
	json.Unmarshal([]byte(ok(t, dir, "clients", "create", "--name", "Gateway", "--grant-type", "client_credentials", "--grant-type", "token_exchange", "--json")), &svc)
	if len(svc.GrantTypes) != 2 || svc.GrantTypes[1] != op.GrantTypeTokenExchange {
		t.Fatalf("token exchange client: %+v", svc)
	}
	if out := ok(t, dir, "clients", "create", "--name", "Bound", "--grant-type", "client_credentials", "--dpop-bound-access-tokens", "--json"); !strings.Contains(out, `"dpop_bound_access_tokens": true`) && !strings.Contains(out, `"dpop_bound_access_tokens":true`) {
		t.Fatalf("DPoP-bound client:\n%s", out)
	}
	fails(t, dir, nil, `unsupported grant type "magic"`, "clients", "create", "--name", "X", "--redirect-uri", "https://x.example/cb", "--grant-type", "magic")
	// Resource indicators (RFC 8707) and JWT access tokens (RFC 9068):
	// negative cases first, then the metadata names in the JSON.
	fails(t, dir, nil, "fragment", "clients", "create", "--name", "X", "--grant-type", "client_credentials", "--resource", "https://api.example/#f")
	fails(t, dir, nil, "absolute URI", "clients", "create", "--name", "X", "--grant-type", "client_credentials", "--resource", "/api")
	fails(t, dir, nil, "access_token_signed_response_alg", "clients", "create", "--name", "X", "--grant-type", "client_credentials", "--access-token-signed-response-alg", "HS256")
	var jwtClient map[string]any
	json.Unmarshal([]byte(ok(t, dir, "clients", "create", "--name", "API client", "--grant-type", "client_credentials",
		"--resource", "https://api.example/", "--resource", "urn:example:api", "--access-token-signed-response-alg", "ES256", "--json")), &jwtClient)
	if fmt.Sprint(jwtClient["resources"]) != "[https://api.example/ urn:example:api]" || jwtClient["access_token_signed_response_alg"] != "ES256" {
		t.Fatalf("resources and JWT access tokens: %v", jwtClient)
	}

	ok(t, dir, "clients", "delete", id)
	fails(t, dir, nil, "no client with id", "clients", "show", id)
	fails(t, dir, nil, "no client with id", "clients", "delete", "nope")
	// The logout properties, shown under their registration metadata names.
	out = ok(t, dir, "clients", "create", "--name", "Logout", "--redirect-uri", "https://lo.example/cb",
		"--frontchannel-logout-uri", "https://lo.example/fc", "--frontchannel-logout-session-required",
		"--backchannel-logout-uri", "https://lo.example/bc", "--backchannel-logout-session-required", "--json")
	var lo clientJSON
	json.Unmarshal([]byte(out), &lo)
	var shown map[string]any
	json.Unmarshal([]byte(ok(t, dir, "clients", "show", lo.ClientID, "--json")), &shown)
	if shown["frontchannel_logout_uri"] != "https://lo.example/fc" || shown["frontchannel_logout_session_required"] != true ||
		shown["backchannel_logout_uri"] != "https://lo.example/bc" || shown["backchannel_logout_session_required"] != true {
		t.Fatalf("clients show --json: %v", shown)
	}
	if text := ok(t, dir, "clients", "show", lo.ClientID); !strings.Contains(text, "backchannel_logout_uri:") || !strings.Contains(text, "https://lo.example/bc") {
		t.Fatalf("clients show:\n%s", text)
	}
	fails(t, dir, nil, "frontchannel_logout_uri", "clients", "create", "--name", "X", "--redirect-uri", "https://x.example/cb", "--frontchannel-logout-uri", "https://other.example/fc")
	fails(t, dir, nil, "backchannel_logout_uri", "clients", "create", "--name", "X", "--redirect-uri", "https://x.example/cb", "--backchannel-logout-uri", "https://x.example/bc#f")
	fails(t, dir, nil, "backchannel_logout_session_required needs", "clients", "create", "--name", "X", "--redirect-uri", "https://x.example/cb", "--backchannel-logout-session-required")
	fails(t, dir, nil, `redirect URI "http://evil.example/cb"`, "clients", "create", "--name", "X", "--redirect-uri", "http://evil.example/cb")
	fails(t, dir, nil, "must not contain a fragment", "clients", "create", "--name", "X", "--redirect-uri", "https://x.example/cb#frag")
	fails(t, dir, nil, "unsupported response type", "clients", "create", "--name", "X", "--redirect-uri", "https://x.example/cb", "--response-type", "magic")
	fails(t, dir, nil, "--name is required", "clients", "create", "--redirect-uri", "https://x.example/cb")
	fails(t, dir, nil, "the client id is required", "clients", "show")
	fails(t, dir, nil, "unknown subcommand", "clients", "frob")
	// The dev switch lets http through.
	ok(t, dir, "clients", "create", "--name", "Dev", "--redirect-uri", "http://dev.example/cb", "--insecure-allow-http")
	if r := oidcd(t, dir, []string{"OIDCD_INSECURE_ALLOW_HTTP_REDIRECTS=true"}, "clients", "create", "--name", "Dev2", "--redirect-uri", "http://dev.example/cb"); r.code != 0 {
		t.Fatalf("OIDCD_INSECURE_ALLOW_HTTP_REDIRECTS ignored: %s", r.stderr)
	}
}

func TestUsersCommands(t *testing.T) {
	dir := t.TempDir()
	out := ok(t, dir, "users", "create", "--create", "--username", "alice", "--password", "password-1", "--email", "alice@example.com",
		"--email-verified", "--name", "Alice Liddell", "--given-name", "Alice", "--family-name", "Liddell",
		"--phone-number", "+44 1", "--address-country", "UK", "--json")
	var u userJSON
	if err := json.Unmarshal([]byte(out), &u); err != nil || u.Username != "alice" || !u.EmailVerified || u.Address.Country != "UK" {
		t.Fatalf("create: %v\n%s", err, out)
	}
	if strings.Contains(out, "argon2") {
		t.Fatal("password hash printed")
	}
	ok(t, dir, "users", "create", "--username", "bob", "--password", "password-2", "--admin")
	out = ok(t, dir, "users", "list")
	if !strings.Contains(out, "alice") || !strings.Contains(out, "alice@example.com") || !strings.Contains(out, "bob") {
		t.Fatalf("list:\n%s", out)
	}
	var list []userJSON
	json.Unmarshal([]byte(ok(t, dir, "users", "list", "--json")), &list)
	if len(list) != 2 || list[0].Username != "alice" || !list[1].Admin {
		t.Fatalf("list --json = %+v", list)
	}
	fails(t, dir, nil, "is taken", "users", "create", "--username", "alice", "--password", "password-3")
	fails(t, dir, nil, "--password (or --password-stdin) is required", "users", "create", "--username", "carol")
	fails(t, dir, nil, "spaces", "users", "create", "--username", "c d", "--password", "password-4")
	cmd := exec.Command(bin, "users", "set-password", "--username", "alice", "--password-stdin")
	cmd.Dir, cmd.Env, cmd.Stdin = dir, cleanEnv(), strings.NewReader("new secret\n")
	if b, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(b), "revoked") {
		t.Fatalf("set-password: %v\n%s", err, b)
	}
	fails(t, dir, nil, `no user named "zed"`, "users", "set-password", "--username", "zed", "--password", "password-5")
	ok(t, dir, "users", "delete", "--username", "bob")
	// Compare usernames, not text: a random user id may contain "bob".
	list = nil
	json.Unmarshal([]byte(ok(t, dir, "users", "list", "--json")), &list)
	if len(list) != 1 || list[0].Username != "alice" {
		t.Fatalf("after deleting bob: %+v", list)
	}
	fails(t, dir, nil, `no user named "bob"`, "users", "delete", "--username", "bob")

	// Claims in other languages (OIDC Core §5.2), checked like the server's.
	out = ok(t, dir, "users", "create", "--username", "yamada", "--password", "password-6", "--name", "Yamada Taro",
		"--localized-claim", "name#ja-Kana-JP=ヤマダタロウ", "--localized-claim", "family_name#ja-Hani-JP=山田", "--json")
	var y userJSON
	if err := json.Unmarshal([]byte(out), &y); err != nil || y.Localized["name#ja-Kana-JP"] != "ヤマダタロウ" || y.Localized["family_name#ja-Hani-JP"] != "山田" {
		t.Fatalf("localized claims: %v\n%s", err, out)
	}
	fails(t, dir, nil, "CLAIM#TAG=VALUE", "users", "create", "--username", "u1", "--password", "password-7", "--localized-claim", "name#fr")
	fails(t, dir, nil, "email#fr", "users", "create", "--username", "u2", "--password", "password-7", "--localized-claim", "email#fr=x@example.com")
	fails(t, dir, nil, "canonical BCP 47", "users", "create", "--username", "u3", "--password", "password-7", "--localized-claim", "name#not a tag=x")
	// users update replaces them all; "" removes them.
	y = userJSON{}
	json.Unmarshal([]byte(ok(t, dir, "users", "update", "--username", "yamada", "--localized-claim", "name#fr=Taro Yamada", "--json")), &y)
	if len(y.Localized) != 1 || y.Localized["name#fr"] != "Taro Yamada" || y.Name != "Yamada Taro" {
		t.Fatalf("update --localized-claim: %+v", y)
	}
	y = userJSON{}
	json.Unmarshal([]byte(ok(t, dir, "users", "update", "--username", "yamada", "--localized-claim", "", "--json")), &y)
	if len(y.Localized) != 0 || y.Name != "Yamada Taro" {
		t.Fatalf("update --localized-claim '': %+v", y)
	}
}

func TestKeysCommands(t *testing.T) {
	dir := t.TempDir()
	out := ok(t, dir, "keys", "create", "--create", "--alg", "ES256")
	if !strings.Contains(out, "created ES256 key") {
		t.Fatalf("create:\n%s", out)
	}
	// Import a PEM key.
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	pemFile := filepath.Join(dir, "key.pem")
	os.WriteFile(pemFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	var imported struct{ Created keyJSON }
	json.Unmarshal([]byte(ok(t, dir, "keys", "create", "--pem", pemFile, "--json")), &imported)
	if imported.Created.Alg != "ES256" || imported.Created.KID == "" {
		t.Fatalf("import = %+v", imported)
	}
	var rot struct {
		Created keyJSON
		Retired []keyJSON
	}
	json.Unmarshal([]byte(ok(t, dir, "keys", "rotate", "--alg", "ES256", "--json")), &rot)
	if rot.Created.Alg != "ES256" || len(rot.Retired) != 2 {
		t.Fatalf("rotate = %+v", rot)
	}
	ok(t, dir, "keys", "create", "--alg", "EdDSA")
	var list []keyJSON
	json.Unmarshal([]byte(ok(t, dir, "keys", "list", "--json")), &list)
	active := map[string]int{}
	for _, k := range list {
		if k.State == "active" {
			active[k.Alg]++
		}
	}
	if len(list) != 4 || active["ES256"] != 1 || active["EdDSA"] != 1 {
		t.Fatalf("keys = %+v", list)
	}
	// The rotated-in key is "next" (published, not signing) for key refresh
	// + JWKS cache lifetime; the key it replaces signs until then.
	if rot.Created.State != "next" || rot.Created.ActivatesAt == nil || rot.Retired[0].RetiredAt == nil ||
		!rot.Retired[0].RetiredAt.Equal(*rot.Created.ActivatesAt) || rot.Created.ActivatesAt.Sub(rot.Created.CreatedAt) != 330*time.Second {
		t.Fatalf("rotate states = %+v", rot)
	}
	if out := ok(t, dir, "keys", "list"); !strings.Contains(out, "next (signs from") || !strings.Contains(out, "(retires") || !strings.Contains(out, "KID") {
		t.Fatalf("list:\n%s", out)
	}
	fails(t, dir, nil, "--alg must be", "keys", "create", "--alg", "HS256")
	fails(t, dir, nil, "no PEM block", "keys", "create", "--pem", filepath.Join(dir, "oidcd.db.secret"))
	// Another secret than the database's: the server refuses to start, and
	// says why (docs/security.md "System secret").
	fails(t, dir, []string{"OIDCD_SECRET=" + strings.Repeat("ab", 32)}, "OIDCD_SECRET is not the system secret the database", "serve", "--addr", "127.0.0.1:0")
}

// OIDCD_TEMPLATES names a directory whose files replace the built-in pages
// by name (django-oidc-provider's OIDC_TEMPLATES); the others stay built in.
func TestServeTemplatesDirectory(t *testing.T) {
	dir := t.TempDir()
	tpl := filepath.Join(dir, "templates")
	if err := os.Mkdir(tpl, 0o755); err != nil {
		t.Fatal(err)
	}
	page := `{{template "header" .}}<h1>Welcome to ACME</h1><form method="post" action="{{.Action}}">` +
		`<input type="hidden" name="csrf_token" value="{{.CSRF}}"><input type="hidden" name="next" value="{{.Next}}">` +
		`<input name="username"><input name="password" type="password"></form>{{template "footer" .}}`
	if err := os.WriteFile(filepath.Join(tpl, "login.html"), []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	s := serve(t, dir, []string{"OIDCD_ADMIN_PASSWORD=hunter2hunter2", "OIDCD_TEMPLATES=" + tpl})
	get := func(path string) string {
		resp, err := http.Get(s.url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if body := get("/login"); !strings.Contains(body, "Welcome to ACME") || !strings.Contains(body, `name="csrf_token"`) {
		t.Fatalf("login page not replaced:\n%s", body)
	}
	if body := get("/authorize?client_id=nope"); !strings.Contains(body, "invalid_client") {
		t.Fatalf("built-in error page lost:\n%s", body)
	}
}

// mustClientPost is clientPost for the test's own goroutine: a failure
// ends the test.
func mustClientPost(t *testing.T, cl clientJSON, base, path string, form url.Values) map[string]any {
	t.Helper()
	m := clientPost(t, cl, base, path, form)
	if t.Failed() {
		t.FailNow()
	}
	return m
}

// clientPost POSTs form to base+path as client cl (client_secret_basic)
// and returns the JSON answer. A failed request or a status other than 200
// is a test error (t.Error: it may run in the test's goroutines) and the
// answer nil or what came.
func clientPost(t *testing.T, cl clientJSON, base, path string, form url.Values) map[string]any {
	t.Helper()
	req, _ := http.NewRequest("POST", base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(cl.ClientID, cl.ClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return nil
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("%s: %d %v", path, resp.StatusCode, m)
	}
	return m
}
