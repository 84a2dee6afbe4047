package main

import (
	"bytes"
	"encoding/hex"
	"flag"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func envMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// load parses args as serve's flags and loads the settings with env.
func load(t *testing.T, env map[string]string, args ...string) (*Settings, error) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var sf settingFlags
	sf.register(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return loadSettings(&sf, envMap(env))
}

func TestSettingsDefaults(t *testing.T) {
	s, err := load(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Addr != ":8000" || s.Issuer != "http://localhost:8000" || s.Database != "sqlite:oidcd.db" ||
		s.CodeExpire != 10*time.Minute || s.IDTokenExpire != 10*time.Minute || s.TokenExpire != time.Hour ||
		s.SkipConsentExpire != 90*24*time.Hour || !s.IntrospectionValidateAudienceScope || s.GrantTypePasswordEnable ||
		s.LoginMaxFailures != 10 || s.LoginFailureWindow != 5*time.Minute || s.LogLevel != "info" || s.LogFormat != "text" {
		t.Fatalf("defaults = %+v", s)
	}
}

func TestSettingsSources(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "c.json")
	os.WriteFile(file, []byte(`{
		"addr": ":9000", "issuer": "http://file", "code_expire": "10s", "token_expire": 60,
		"skip_consent_expire": 7, "idtoken_include_claims": true, "grant_type_password_enable": "true",
		"trusted_proxies": ["10.0.0.0/8", "192.168.1.1"], "log_format": "json", "login_max_failures": 3
	}`), 0o600)
	s, err := load(t, map[string]string{
		"OIDCD_CONFIG":       file,
		"OIDCD_ADDR":         ":7000",
		"OIDCD_TOKEN_EXPIRE": "2m",
		"OIDCD_ISSUER":       "", // empty means unset
	}, "--addr", ":6000", "--idtoken-include-claims=false", "--session-management-enable")
	if err != nil {
		t.Fatal(err)
	}
	want := Settings{Addr: ":6000", Issuer: "http://file", CodeExpire: 10 * time.Second, TokenExpire: 2 * time.Minute,
		SkipConsentExpire: 7 * 24 * time.Hour}
	if s.Addr != want.Addr || s.Issuer != want.Issuer || s.CodeExpire != want.CodeExpire || s.TokenExpire != want.TokenExpire ||
		s.SkipConsentExpire != want.SkipConsentExpire {
		t.Fatalf("settings = %+v", s)
	}
	if s.IDTokenIncludeClaims || !s.GrantTypePasswordEnable || !s.SessionManagementEnable || s.LogFormat != "json" || s.LoginMaxFailures != 3 {
		t.Fatalf("booleans/others = %+v", s)
	}
	if len(s.TrustedProxies) != 2 || s.TrustedProxies[1] != netip.MustParsePrefix("192.168.1.1/32") {
		t.Fatalf("trusted proxies = %v", s.TrustedProxies)
	}
	// --config beats OIDCD_CONFIG.
	other := filepath.Join(dir, "o.json")
	os.WriteFile(other, []byte(`{"issuer": "http://other"}`), 0o600)
	if s, err := load(t, map[string]string{"OIDCD_CONFIG": file}, "--config", other); err != nil || s.Issuer != "http://other" {
		t.Fatalf("--config: %v %v", s, err)
	}
}

func TestSettingsErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"code_expire": true, "nope": 1, "addr": 9000, "trusted_proxies": ["x"]}`), 0o600)
	_, err := load(t, map[string]string{
		"OIDCD_CONFIG":              bad,
		"OIDCD_TOKEN_EXPIRE":        "1 hour",
		"OIDCD_SKIP_CONSENT_EXPIRE": "-3",
		"OIDCD_LOG_LEVEL":           "loud",
		"OIDCD_LOGIN_MAX_FAILURES":  "0",
	})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`"code_expire": want a number of seconds`, `unknown setting "nope"`, `"addr": want a string`,
		`invalid IP prefix "x"`, `OIDCD_TOKEN_EXPIRE: invalid duration "1 hour"`,
		`OIDCD_SKIP_CONSENT_EXPIRE: invalid duration "-3"`, `OIDCD_LOG_LEVEL: "loud" is not one of`,
		`OIDCD_LOGIN_MAX_FAILURES: invalid number`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if _, err := load(t, nil, "--code-expire", "soon"); err == nil || !strings.Contains(err.Error(), "invalid duration") {
		t.Errorf("bad flag: %v", err)
	}
	if _, err := load(t, map[string]string{"OIDCD_CONFIG": filepath.Join(dir, "missing.json")}); err == nil {
		t.Error("missing config file: no error")
	}
	os.WriteFile(bad, []byte(`[1,2]`), 0o600)
	if _, err := load(t, map[string]string{"OIDCD_CONFIG": bad}); err == nil || !strings.Contains(err.Error(), "not a JSON object") {
		t.Errorf("array config: %v", err)
	}
}

func TestSystemSecret(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "a.db")
	s := &Settings{Database: "sqlite:" + db}
	first, err := systemSecret(s)
	if err != nil || len(first) != 32 {
		t.Fatalf("%x %v", first, err)
	}
	fi, err := os.Stat(db + ".secret")
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secret file: %v %v", fi, err)
	}
	again, _ := systemSecret(&Settings{Database: db}) // bare path, same file
	if !bytes.Equal(first, again) {
		t.Fatal("secret file not reused")
	}

	hexSecret := strings.Repeat("0f", 32)
	if b, err := systemSecret(&Settings{Secret: hexSecret}); err != nil || hex.EncodeToString(b) != hexSecret {
		t.Fatalf("hex secret: %x %v", b, err)
	}
	raw := "this is a raw secret of more than 32 bytes"
	if b, err := systemSecret(&Settings{Secret: raw}); err != nil || string(b) != raw {
		t.Fatalf("raw secret: %q %v", b, err)
	}
	if _, err := systemSecret(&Settings{Secret: "short"}); err == nil {
		t.Fatal("short secret accepted")
	}
	if _, err := systemSecret(&Settings{Database: "postgres://localhost/x"}); err == nil || !strings.Contains(err.Error(), "OIDCD_SECRET is required") {
		t.Fatalf("postgres without secret: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "b.db.secret"), []byte("zz"), 0o600)
	if _, err := systemSecret(&Settings{Database: filepath.Join(dir, "b.db")}); err == nil {
		t.Fatal("corrupt secret file accepted")
	}
}

func TestSettingsTable(t *testing.T) {
	seen := map[string]bool{}
	for _, st := range settingsTable {
		if seen[st.name] {
			t.Errorf("setting %s listed twice", st.name)
		}
		seen[st.name] = true
		if st.name != strings.ToLower(st.name) || strings.ContainsAny(st.name, "- ") {
			t.Errorf("setting name %q: want lower_snake_case", st.name)
		}
		if st.help == "" {
			t.Errorf("setting %s has no help", st.name)
		}
	}
	// Every django-oidc-provider setting that is a value (not code) has its variable.
	for _, name := range []string{"CODE_EXPIRE", "TOKEN_EXPIRE", "IDTOKEN_EXPIRE", "SKIP_CONSENT_EXPIRE",
		"IDTOKEN_INCLUDE_CLAIMS", "GRANT_TYPE_PASSWORD_ENABLE", "SESSION_MANAGEMENT_ENABLE",
		"UNAUTHENTICATED_SESSION_MANAGEMENT_KEY", "INTROSPECTION_VALIDATE_AUDIENCE_SCOPE", "LOGIN_URL",
		"TEMPLATES", "SITE_URL", "SECRET", "ADMIN_PASSWORD", "LOG_LEVEL", "LOG_FORMAT",
		"REFRESH_TOKEN_EXPIRE", "INSECURE_ALLOW_HTTP_REDIRECTS"} {
		if !seen[strings.ToLower(name)] {
			t.Errorf("no setting OIDCD_%s", name)
		}
	}
}

func TestParsePositionalAnywhere(t *testing.T) {
	a := &app{stdout: io.Discard, stderr: io.Discard, lookupEnv: envMap(nil), now: time.Now}
	c := a.newCommand("clients show", " ID", true)
	pos, err := c.parse([]string{"--json", "abc", "--database", "x.db"}, 1, 1)
	if err != nil || len(pos) != 1 || pos[0] != "abc" || !c.json {
		t.Fatalf("pos %v json %v err %v", pos, c.json, err)
	}
	c = a.newCommand("clients show", " ID", true)
	if _, err := c.parse([]string{"a", "b"}, 1, 1); err == nil {
		t.Fatal("two ids accepted")
	}
}
