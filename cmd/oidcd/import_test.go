package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// "oidcd import django" end to end: the binary, a fixture site made by
// django-oidc-provider, and the oidcd database it creates and migrates.
func TestImportDjangoCommand(t *testing.T) {
	dir := t.TempDir()
	fixture, err := filepath.Abs("../../testdata/django/v0.8.3.sqlite3")
	if err != nil {
		t.Fatal(err)
	}
	media, _ := filepath.Abs("../../testdata/django/media/v0.8.3")
	env := []string{"OIDCD_DATABASE=sqlite:oidcd.db"}

	// Like every command but serve and migrate, import needs --create to
	// start a new database.
	if r := oidcd(t, dir, env, "import", "django", "--from", fixture, "--dry-run"); r.code == 0 || !strings.Contains(r.stderr, "--create") {
		t.Fatalf("import into a missing database: %d %s", r.code, r.stderr)
	}
	r := oidcd(t, dir, env, "import", "django", "--from", fixture, "--dry-run", "--json", "--create")
	if r.code != 0 {
		t.Fatalf("dry run: %d\n%s", r.code, r.stderr)
	}
	var rep struct {
		Release string                    `json:"release"`
		DryRun  bool                      `json:"dry_run"`
		Counts  map[string]map[string]int `json:"counts"`
		Skipped []struct{ Kind, ID, Reason string }
		Reset   []string `json:"must_reset_password"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if !rep.DryRun || rep.Release != "0.8" || rep.Counts["clients"]["created"] != 5 {
		t.Fatalf("dry-run report: %s", r.stdout)
	}
	if r := oidcd(t, dir, env, "clients", "list", "--json"); r.code != 0 || strings.TrimSpace(r.stdout) != "[]" {
		t.Fatalf("a dry run wrote clients: %s %s", r.stdout, r.stderr)
	}

	r = oidcd(t, dir, env, "import", "django", "--from", "sqlite:"+fixture, "--media", media)
	if r.code != 0 || !strings.Contains(r.stdout, "clients       6        5") || !strings.Contains(r.stdout, "must reset their password: frank, grace") {
		t.Fatalf("import: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if r := oidcd(t, dir, env, "users", "list"); r.code != 0 || !strings.Contains(r.stdout, "alice") {
		t.Fatalf("users list: %s %s", r.stdout, r.stderr)
	}
	r = oidcd(t, dir, env, "import", "django", "--from", fixture, "--media", media, "--json")
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 0 {
		t.Fatalf("second run: %v %s", err, r.stderr)
	}
	for kind, c := range rep.Counts {
		if c["created"]+c["updated"] != 0 {
			t.Errorf("second run changed %s: %v", kind, c)
		}
	}

	bad := filepath.Join(dir, "corrupt.sqlite3")
	os.WriteFile(bad, []byte(strings.Repeat("not a database ", 500)), 0o600)
	if r := oidcd(t, dir, env, "import", "django", "--from", bad); r.code != 1 || !strings.Contains(r.stderr, "not a database") {
		t.Fatalf("corrupt source: %d %s", r.code, r.stderr)
	}
	if r := oidcd(t, dir, env, "import", "django"); r.code != 2 || !strings.Contains(r.stderr, "--from is required") {
		t.Fatalf("no --from: %d %s", r.code, r.stderr)
	}
	if r := oidcd(t, dir, env, "import", "django", "--from", fixture, "--sub", "email"); r.code != 2 {
		t.Fatalf("bad --sub: %d %s", r.code, r.stderr)
	}
}
