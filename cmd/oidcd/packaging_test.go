package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// packaging/oidcd.env lists every setting, commented, as 'oidcd
// example-config' prints it from the settings table: regenerate it with
// 'go run ./cmd/oidcd example-config > packaging/oidcd.env'.
func TestExampleConfigComplete(t *testing.T) {
	committed, err := os.ReadFile(filepath.Join("..", "..", "packaging", "oidcd.env"))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	exampleConfig(&out)
	if !bytes.Equal(committed, out.Bytes()) {
		t.Fatal("packaging/oidcd.env is stale: run 'go run ./cmd/oidcd example-config > packaging/oidcd.env'")
	}
	for _, st := range settingsTable {
		if !strings.Contains(string(committed), "\n#"+st.env()+"=") {
			t.Errorf("packaging/oidcd.env lacks %s", st.env())
		}
	}
	if got := ok(t, t.TempDir(), "example-config"); got != out.String() {
		t.Error("the binary prints another example")
	}
}

// oidcd healthcheck is the image's HEALTHCHECK: exit 0 when the local
// server is ready (or alive, --live), non-zero otherwise.
func TestHealthcheckCommand(t *testing.T) {
	dir := t.TempDir()
	s := serve(t, dir, []string{"OIDCD_ADMIN_PASSWORD=hunter2hunter2"})
	addr := strings.TrimPrefix(s.url, "http://")
	if out := ok(t, dir, "healthcheck", "--url", s.url+"/readyz"); !strings.Contains(out, `"ready"`) {
		t.Fatalf("healthcheck --url: %s", out)
	}
	for _, args := range [][]string{{"healthcheck"}, {"healthcheck", "--live"}} {
		if r := oidcd(t, t.TempDir(), []string{"OIDCD_ADDR=" + addr}, args...); r.code != 0 {
			t.Fatalf("%v with OIDCD_ADDR: %d %s", args, r.code, r.stderr)
		}
	}
	s.stop(t)
	fails(t, dir, []string{"OIDCD_ADDR=" + addr}, "healthcheck:", "healthcheck")
}
