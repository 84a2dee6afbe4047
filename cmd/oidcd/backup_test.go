package main

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// A backup taken while token requests keep coming restores to a database
// on which every token issued before the backup still introspects active
// (and tokens issued after it are unknown: the copy is that moment's).
func TestBackupUnderLoad(t *testing.T) {
	dir := t.TempDir()
	env := []string{"OIDCD_ADMIN_PASSWORD=hunter2hunter2", "OIDCD_INTROSPECTION_VALIDATE_AUDIENCE_SCOPE=false"}
	ok(t, dir, "migrate")
	var cl clientJSON
	if err := json.Unmarshal([]byte(ok(t, dir, "clients", "create", "--name", "load", "--scope", "read token_introspection",
		"--redirect-uri", "https://x.example/cb", "--json")), &cl); err != nil {
		t.Fatal(err)
	}
	s := serve(t, dir, env)
	post := func(base, path string, form url.Values) map[string]any { return clientPost(t, cl, base, path, form) }
	type issued struct {
		token string
		at    time.Time // when the response had arrived
	}
	var (
		mu   sync.Mutex
		all  []issued
		stop = make(chan struct{})
		wg   sync.WaitGroup
	)
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				m := post(s.url, "/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}})
				tok, _ := m["access_token"].(string)
				if tok == "" {
					return
				}
				mu.Lock()
				all = append(all, issued{tok, time.Now()})
				mu.Unlock()
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	backupStart := time.Now()
	file := filepath.Join(t.TempDir(), "oidcd-backup.db")
	out := ok(t, dir, "backup", file)
	backupEnd := time.Now()
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()
	s.stop(t)
	if !strings.Contains(out, "copied the system secret to "+file+".secret") {
		t.Errorf("backup output:\n%s", out)
	}
	for _, f := range []string{file, file + ".secret"} {
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", f, fi, err)
		}
	}
	var before, after []string
	for _, i := range all {
		switch {
		case i.at.Before(backupStart):
			before = append(before, i.token)
		case i.at.After(backupEnd):
			after = append(after, i.token)
		}
	}
	t.Logf("%d tokens issued: %d before the backup (%v), %d after", len(all), len(before), backupEnd.Sub(backupStart), len(after))
	if len(before) < 20 || len(after) == 0 {
		t.Fatalf("load too light: %d before, %d after", len(before), len(after))
	}

	// Restore into a fresh directory and serve from it.
	dir2 := t.TempDir()
	if out := ok(t, dir2, "restore", file); !strings.Contains(out, "restored") {
		t.Fatalf("restore:\n%s", out)
	}
	s2 := serve(t, dir2, env)
	var inactive int
	for _, tok := range before {
		if m := post(s2.url, "/introspect", url.Values{"token": {tok}}); m["active"] != true {
			inactive++
		}
	}
	if inactive > 0 {
		t.Fatalf("%d of %d tokens issued before the backup are not active after the restore", inactive, len(before))
	}
	if m := post(s2.url, "/introspect", url.Values{"token": {after[len(after)-1]}}); m["active"] != false {
		t.Errorf("a token issued after the backup is active in it: %v", m)
	}
	s2.stop(t)

	// Restore never replaces a database unless told; it checks its input.
	fails(t, dir2, nil, "exists; stop every oidcd using it and give --force", "restore", file)
	ok(t, dir2, "restore", "--force", file)
	fails(t, dir2, nil, "not an intact SQLite database", "restore", "--database", "x.db", file+".secret")
	fails(t, dir2, nil, "a backup never overwrites", "backup", file)
	fails(t, dir2, []string{"OIDCD_DATABASE=postgres://u@127.0.0.1/x", "OIDCD_SECRET=" + strings.Repeat("ab", 32)}, "pg_dump", "backup", filepath.Join(dir2, "pg.db"))
}
