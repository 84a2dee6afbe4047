package main

import (
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oidcd/oidcd/storage"
	"github.com/oidcd/oidcd/storage/sqlstore"
)

// The settings for several nodes on one database: pool sizes, cleanup
// interval and key refresh, from defaults, the config file and the
// environment.
func TestSettingsCluster(t *testing.T) {
	s, err := load(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.DBMaxOpenConns != 20 || s.DBMaxIdleConns != 20 || s.Server.Provider.CleanupInterval != 5*time.Minute || s.Server.Provider.KeyRefresh != 30*time.Second {
		t.Fatalf("defaults: open %d idle %d cleanup %v keys %v", s.DBMaxOpenConns, s.DBMaxIdleConns, s.Server.Provider.CleanupInterval, s.Server.Provider.KeyRefresh)
	}
	file := filepath.Join(t.TempDir(), "c.json")
	os.WriteFile(file, []byte(`{"db_max_open_conns": 50, "db_max_idle_conns": 25, "cleanup_interval": "1m", "key_refresh": 10}`), 0o600)
	s, err = load(t, map[string]string{"OIDCD_CONFIG": file})
	if err != nil {
		t.Fatal(err)
	}
	if s.DBMaxOpenConns != 50 || s.DBMaxIdleConns != 25 || s.Server.Provider.CleanupInterval != time.Minute || s.Server.Provider.KeyRefresh != 10*time.Second {
		t.Fatalf("file: open %d idle %d cleanup %v keys %v", s.DBMaxOpenConns, s.DBMaxIdleConns, s.Server.Provider.CleanupInterval, s.Server.Provider.KeyRefresh)
	}
	s, err = load(t, map[string]string{"OIDCD_CONFIG": file, "OIDCD_DB_MAX_OPEN_CONNS": "8", "OIDCD_DB_MAX_IDLE_CONNS": "4",
		"OIDCD_CLEANUP_INTERVAL": "30", "OIDCD_KEY_REFRESH": "5s"})
	if err != nil {
		t.Fatal(err)
	}
	if s.DBMaxOpenConns != 8 || s.DBMaxIdleConns != 4 || s.Server.Provider.CleanupInterval != 30*time.Second || s.Server.Provider.KeyRefresh != 5*time.Second {
		t.Fatalf("env: open %d idle %d cleanup %v keys %v", s.DBMaxOpenConns, s.DBMaxIdleConns, s.Server.Provider.CleanupInterval, s.Server.Provider.KeyRefresh)
	}
	for env, msg := range map[string]string{
		"OIDCD_DB_MAX_OPEN_CONNS": "positive integer",
		"OIDCD_CLEANUP_INTERVAL":  "invalid duration",
		"OIDCD_KEY_REFRESH":       "invalid duration",
	} {
		if _, err := load(t, map[string]string{env: "-1"}); err == nil || !strings.Contains(err.Error(), env) || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s=-1: %v", env, err)
		}
	}
}

// TestServeCleanup: serve deletes expired rows every OIDCD_CLEANUP_INTERVAL
// and leaves live ones alone.
func TestServeCleanup(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "oidcd.db")
	ctx := t.Context()
	store, err := sqlstore.Open(ctx, "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := store.CreateClient(ctx, &storage.Client{ID: "rp", Name: "RP", Type: storage.Confidential, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	hash := func(b byte) []byte { h := make([]byte, 32); h[0] = b; return h }
	grant := func(id string, b byte, exp time.Time) {
		t.Helper()
		g := &storage.Grant{ID: id, ClientID: "rp", Scope: []string{"api"}, CreatedAt: now.Add(-2 * time.Hour), ExpiresAt: exp}
		tok := &storage.Token{Hash: hash(b), Kind: storage.AccessToken, GrantID: id, ClientID: "rp", Scope: []string{"api"},
			CreatedAt: now.Add(-2 * time.Hour), ExpiresAt: exp}
		if err := store.CreateGrant(ctx, g, tok); err != nil {
			t.Fatal(err)
		}
	}
	grant("expired", 1, now.Add(-time.Hour))
	grant("live", 2, now.Add(time.Hour))
	if err := store.CreateCode(ctx, &storage.AuthCode{Hash: hash(3), GrantID: "g3", ClientID: "rp", UserID: "u",
		Scope: []string{"openid"}, CreatedAt: now.Add(-time.Hour), ExpiresAt: now.Add(-50 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	count := func(q string) int {
		var n int
		if err := db.QueryRowContext(ctx, q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(`SELECT COUNT(*) FROM tokens`); n != 2 {
		t.Fatalf("tokens before cleanup: %d", n)
	}

	s := serve(t, dir, []string{"OIDCD_CLEANUP_INTERVAL=200ms", "OIDCD_LOG_LEVEL=debug", "OIDCD_ADMIN_PASSWORD=hunter2hunter2"})
	deadline := time.Now().Add(10 * time.Second)
	for {
		codes, grants, tokens := count(`SELECT COUNT(*) FROM codes`), count(`SELECT COUNT(*) FROM grants`), count(`SELECT COUNT(*) FROM tokens`)
		if codes == 0 && grants == 1 && tokens == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("expired rows not deleted: codes %d grants %d tokens %d\n%s", codes, grants, tokens, s.logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, _, err := store.Token(ctx, hash(2), time.Now()); err != nil {
		t.Fatalf("the live token was deleted: %v", err)
	}
	if _, err := store.Grant(ctx, "live"); err != nil {
		t.Fatalf("the live grant was deleted: %v", err)
	}
	s.stop(t)
	if !strings.Contains(s.logs(), "deleted expired rows") || strings.Contains(s.logs(), "delete expired rows") {
		t.Fatalf("cleanup log:\n%s", s.logs())
	}
}
