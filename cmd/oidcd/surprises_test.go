package main

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/oidcd/oidcd/internal/buildinfo"
)

// The command line never surprises an operator (issue "Running oidcd in
// production"): each test below failed before its fix.

// oidcd --version and oidcd version name the module version, the commit and
// the Go version.
func TestVersion(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{{"--version"}, {"version"}} {
		out := ok(t, dir, args...)
		if !strings.HasPrefix(out, "oidcd ") || !strings.Contains(out, runtime.Version()) || !strings.Contains(out, runtime.GOOS+"/"+runtime.GOARCH) {
			t.Fatalf("oidcd %v:\n%s", args, out)
		}
	}
	var bi buildinfo.Info
	if err := json.Unmarshal([]byte(ok(t, dir, "version", "--json")), &bi); err != nil || bi.GoVersion != runtime.Version() || bi.Version == "" {
		t.Fatalf("version --json: %+v %v", bi, err)
	}

	// What the binary says is what the toolchain embedded: build it with
	// version-control stamping and compare with "go version -m".
	vbin := filepath.Join(t.TempDir(), "oidcd")
	build := exec.Command("go", "build", "-buildvcs=auto", "-o", vbin, ".")
	build.Env = append(os.Environ(), "GOFLAGS=")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	meta, err := exec.Command("go", "version", "-m", vbin).Output()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(vbin, "version", "--json").Output()
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(out, &bi); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(meta), "\tmod\tgithub.com/oidcd/oidcd\t"+bi.Version+"\t") {
		t.Errorf("version %q is not the module version embedded:\n%s", bi.Version, meta)
	}
	if m := regexp.MustCompile(`vcs.revision=([0-9a-f]+)`).FindSubmatch(meta); m != nil {
		if bi.Commit != string(m[1]) {
			t.Errorf("commit %q, embedded %s", bi.Commit, m[1])
		}
	} else {
		// Go does not stamp builds in git worktrees (.git is a file there).
		t.Logf("this checkout gives no vcs stamp; commit not compared")
	}
}

// serve binds its address before any first-start work: when the port is
// taken, no database is created and no admin password is printed (it would
// never be shown again).
func TestServeBindsFirst(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := t.TempDir()
	r := oidcd(t, dir, nil, "serve", "--addr", ln.Addr().String())
	if r.code == 0 || !strings.Contains(r.stderr, "address already in use") {
		t.Fatalf("serve on a taken port: exit %d\n%s", r.code, r.stderr)
	}
	if strings.Contains(r.stdout, "password") {
		t.Fatalf("printed a password that will never be used:\n%s", r.stdout)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Fatalf("a failed bind left %d files (%s)", len(entries), entries[0].Name())
	}
}

// serve warns when a loopback issuer's port is not the one it listens on.
func TestServeIssuerPortWarning(t *testing.T) {
	dir := t.TempDir()
	s := serve(t, dir, []string{"OIDCD_ADMIN_PASSWORD=hunter2hunter2"}) // issuer http://localhost:8000, random port
	s.stop(t)
	if !strings.Contains(s.logs(), "issuer's port differs from the listen port") {
		t.Fatalf("no warning:\n%s", s.logs())
	}
	s = serve(t, dir, nil, "--issuer", "https://id.example.com") // behind a proxy: no warning
	s.stop(t)
	if strings.Contains(s.logs(), "port differs") {
		t.Fatalf("warned for a public issuer:\n%s", s.logs())
	}
}

// Unknown OIDCD_ variables are errors, all listed at once with the nearest
// valid name; variables of test harnesses (OIDCD_TEST_*, OIDCD_E2E_*) are
// not settings and never errors.
func TestUnknownEnvironmentVariables(t *testing.T) {
	dir := t.TempDir()
	r := oidcd(t, dir, []string{"OIDCD_TOKENEXPIRE=5", "OIDCD_DATABSE=sqlite:x.db", "OIDCD_FROBNICATE_EVERYTHING=1"}, "serve", "--addr", "127.0.0.1:0")
	for _, want := range []string{
		"unknown environment variable OIDCD_TOKENEXPIRE (did you mean OIDCD_TOKEN_EXPIRE?)",
		"unknown environment variable OIDCD_DATABSE (did you mean OIDCD_DATABASE?)",
		"unknown environment variable OIDCD_FROBNICATE_EVERYTHING\n",
	} {
		if r.code == 0 || !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q (exit %d):\n%s", want, r.code, r.stderr)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("refused start left files behind")
	}
	fails(t, dir, []string{"OIDCD_LOG_LEVL=debug"}, "did you mean OIDCD_LOG_LEVEL?", "users", "list", "--create")
	r = oidcd(t, dir, []string{"OIDCD_TEST_POSTGRES=postgres://x", "OIDCD_E2E_BIN=/bin/true"}, "users", "list", "--create")
	if r.code != 0 {
		t.Fatalf("harness variables refused: %s", r.stderr)
	}
}

// Booleans are exactly true or false, as documented.
func TestBooleansExact(t *testing.T) {
	dir := t.TempDir()
	for _, v := range []string{"yes", "1", "on", "TRUE", "no", "0"} {
		fails(t, dir, []string{"OIDCD_IDTOKEN_INCLUDE_CLAIMS=" + v}, `OIDCD_IDTOKEN_INCLUDE_CLAIMS: invalid boolean "`+v+`": use true or false`, "serve", "--addr", "127.0.0.1:0")
	}
	fails(t, dir, nil, "invalid boolean", "serve", "--addr", "127.0.0.1:0", "--idtoken-include-claims=1")
	cfg := filepath.Join(dir, "c.json")
	os.WriteFile(cfg, []byte(`{"grant_type_password_enable": "yes"}`), 0o600)
	fails(t, dir, nil, "invalid boolean", "serve", "--addr", "127.0.0.1:0", "--config", cfg)
	s := serve(t, dir, []string{"OIDCD_IDTOKEN_INCLUDE_CLAIMS=true", "OIDCD_GRANT_TYPE_PASSWORD_ENABLE=false"}, "--disable-query-token")
	s.stop(t)
}

// A typo in --database is not a new, empty database: commands other than
// serve and migrate refuse a missing SQLite file unless --create.
func TestMissingDatabaseRefused(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"users", "list"},
		{"clients", "list"},
		{"keys", "list", "--json"},
		{"clients", "create", "--name", "X", "--redirect-uri", "https://x.example/cb"},
		{"keys", "create"},
		{"users", "create", "--username", "u", "--password", "long enough"},
	} {
		fails(t, dir, nil, "database oidcd.db does not exist", append(args, "--database", "oidcd.db")...)
		fails(t, dir, []string{"OIDCD_DATABASE=sqlite:typo.db"}, "database typo.db does not exist", args...)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("refused commands created %s", entries[0].Name())
	}
	ok(t, dir, "users", "list", "--create")
	if _, err := os.Stat(filepath.Join(dir, "oidcd.db")); err != nil {
		t.Fatal("--create did not create the database")
	}
	ok(t, dir, "users", "list") // exists now
	ok(t, dir, "migrate", "--database", "other.db")
	ok(t, dir, "users", "list", "--database", "other.db")
}

// Input is validated at the command line as at the API: password length
// (OIDCD_PASSWORD_MIN_LENGTH), email syntax, birthdate format, redirect URI
// schemes.
func TestCLIValidation(t *testing.T) {
	dir := t.TempDir()
	ok(t, dir, "migrate")
	user := func(extra ...string) []string {
		return append([]string{"users", "create", "--username", "u" + strings.Join(extra, "")[0:0] + "x"}, extra...)
	}
	fails(t, dir, nil, "password shorter than 8 characters", user("--password", "x")...)
	fails(t, dir, nil, "password shorter than 8 characters", user("--password", "1234567")...)
	fails(t, dir, []string{"OIDCD_PASSWORD_MIN_LENGTH=12"}, "password shorter than 12 characters", user("--password", "eleven-char")...)
	fails(t, dir, nil, `"notanemail" is not an email address`, user("--password", "long enough", "--email", "notanemail")...)
	fails(t, dir, nil, `"Alice <a@example.com>" is not an email address`, user("--password", "long enough", "--email", "Alice <a@example.com>")...)
	for _, b := range []string{"yesterday", "1990-02-30", "90-01-01", "1990/01/01", "19900101"} {
		fails(t, dir, nil, "use YYYY-MM-DD or YYYY", user("--password", "long enough", "--birthdate", b)...)
	}
	fails(t, dir, nil, "not an absolute http or https URL", user("--password", "long enough", "--website", "javascript:alert(1)")...)
	fails(t, dir, nil, "not a BCP 47 language tag", user("--password", "long enough", "--locale", "not a locale")...)
	if out := ok(t, dir, "users", "list"); strings.Contains(out, "ux") {
		t.Fatalf("a refused user was stored:\n%s", out)
	}
	for i, b := range []string{"1990-02-28", "1990", "0000-02-29"} {
		ok(t, dir, "users", "create", "--username", "b"+string(rune('a'+i)), "--password", "long enough", "--birthdate", b, "--email", "b@example.com", "--locale", "fr-FR")
	}
	if r := oidcd(t, dir, []string{"OIDCD_PASSWORD_MIN_LENGTH=4"}, "users", "create", "--username", "short", "--password", "abcd"); r.code != 0 {
		t.Fatalf("OIDCD_PASSWORD_MIN_LENGTH=4 ignored: %s", r.stderr)
	}
	fails(t, dir, nil, "password shorter than 8", "users", "set-password", "--username", "short", "--password", "abc")
	fails(t, dir, []string{"OIDCD_ADMIN_PASSWORD=short"}, "OIDCD_ADMIN_PASSWORD: password shorter than 8", "serve", "--addr", "127.0.0.1:0")

	// Redirect URIs: https, or http on loopback, or (native public clients)
	// a reverse-domain private-use scheme (RFC 8252 §7.1).
	client := func(typ, uri string) []string {
		return []string{"clients", "create", "--name", "X", "--type", typ, "--redirect-uri", uri}
	}
	fails(t, dir, nil, `scheme "ftp"`, client("confidential", "ftp://x/cb")...)
	fails(t, dir, nil, `scheme "ftp"`, client("public", "ftp://x/cb")...)
	fails(t, dir, nil, "private-use schemes are only for public", client("confidential", "com.example.app:/cb")...)
	fails(t, dir, nil, "reverse domain name", client("public", "myapp:/cb")...)
	ok(t, dir, client("public", "com.example.app:/cb")...)
	fails(t, dir, nil, "http is only allowed for loopback", client("confidential", "http://x.example/cb")...)
	ok(t, dir, append(client("confidential", "http://x.example/cb"), "--insecure-allow-http")...)
	fails(t, dir, nil, `contact email "nope" is not an email address`, append(client("confidential", "https://x.example/cb"), "--contact-email", "nope")...)
}

var oneDash = regexp.MustCompile(`\n\s+-[a-z]`)

// Help is output: on stdout, with the usual --flag spelling, for
// "oidcd help COMMAND" and "oidcd COMMAND --help" alike.
func TestHelpPerCommand(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"help", "serve"}, []string{"Usage: oidcd serve", "--code-expire", "--addr"}},
		{[]string{"serve", "--help"}, []string{"Usage: oidcd serve", "--code-expire"}},
		{[]string{"help", "users", "create"}, []string{"Usage: oidcd users create", "--username", "--password-stdin", "--create"}},
		{[]string{"users", "create", "--help"}, []string{"Usage: oidcd users create", "--username"}},
		{[]string{"users", "create", "-h"}, []string{"Usage: oidcd users create"}},
		{[]string{"help", "users"}, []string{"oidcd users create|update|list|set-password|reset-password|delete"}},
		{[]string{"clients", "--help"}, []string{"oidcd clients create|update|list"}},
		{[]string{"help", "clients", "update"}, []string{"Usage: oidcd clients update", "--redirect-uri", "--require-consent"}},
		{[]string{"help", "consents"}, []string{"oidcd consents list|revoke"}},
		{[]string{"help", "grants"}, []string{"oidcd grants list|revoke"}},
		{[]string{"help", "grants", "revoke"}, []string{"Usage: oidcd grants revoke [flags] GRANT_ID"}},
		{[]string{"help", "sessions", "revoke"}, []string{"Usage: oidcd sessions revoke", "--username"}},
		{[]string{"help", "keys", "retire"}, []string{"Usage: oidcd keys retire"}},
		{[]string{"help", "audit"}, []string{"Usage: oidcd audit", "--action", "--target"}},
		{[]string{"help", "clients", "create"}, []string{"--redirect-uri", "--insecure-allow-http"}},
		{[]string{"help", "version"}, []string{"Usage: oidcd version", "--json"}},
		{[]string{"help", "migrate"}, []string{"Usage: oidcd migrate", "--database"}},
		{[]string{"help"}, []string{"oidcd serve", "oidcd version", "OIDCD_CODE_EXPIRE"}},
	} {
		r := oidcd(t, dir, nil, c.args...)
		if r.code != 0 || r.stderr != "" {
			t.Errorf("oidcd %v: exit %d, stderr %q", c.args, r.code, r.stderr)
		}
		for _, w := range c.want {
			if !strings.Contains(r.stdout, w) {
				t.Errorf("oidcd %v: stdout lacks %q:\n%s", c.args, w, r.stdout)
			}
		}
		if oneDash.MatchString(r.stdout) {
			t.Errorf("oidcd %v: a flag spelled with one dash:\n%s", c.args, r.stdout)
		}
	}
	// "oidcd help serve" is serve's help, not the general one.
	if out := ok(t, dir, "help", "serve"); strings.Contains(out, "oidcd clients create") {
		t.Errorf("help serve printed the general help:\n%s", out)
	}
	fails(t, dir, nil, "unknown command", "help", "frobnicate")
	fails(t, dir, nil, "flag provided but not defined: --frob", "users", "list", "--frob")
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("help created %s", entries[0].Name())
	}
}
