package main

import (
	"bytes"
	"encoding/hex"
	"flag"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"
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
	if s.Addr != ":8000" || s.Server.Provider.Issuer != "http://localhost:8000" || s.Database != "sqlite:oidcd.db" ||
		s.Server.Provider.CodeExpire != 10*time.Minute || s.Server.Provider.IDTokenExpire != 10*time.Minute || s.Server.Provider.TokenExpire != time.Hour ||
		s.Server.Provider.SkipConsentExpire != 90*24*time.Hour || s.Server.Provider.InsecureIntrospectionAnyAudience || s.Server.Provider.PasswordGrant ||
		s.Server.LoginMaxFailures != 10 || s.Server.LoginFailureWindow != 5*time.Minute || s.LogLevel != "info" || s.LogFormat != "text" {
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
	if p := s.Server.Provider; s.Addr != ":6000" || p.Issuer != "http://file" || p.CodeExpire != 10*time.Second ||
		p.TokenExpire != 2*time.Minute || p.SkipConsentExpire != 7*24*time.Hour {
		t.Fatalf("settings = %+v", s)
	}
	if s.Server.Provider.IDTokenIncludeClaims || !s.Server.Provider.PasswordGrant || !s.Server.Provider.SessionManagement || s.LogFormat != "json" || s.Server.LoginMaxFailures != 3 {
		t.Fatalf("booleans/others = %+v", s)
	}
	if len(s.Server.TrustedProxies) != 2 || s.Server.TrustedProxies[1] != netip.MustParsePrefix("192.168.1.1/32") {
		t.Fatalf("trusted proxies = %v", s.Server.TrustedProxies)
	}
	// --config beats OIDCD_CONFIG.
	other := filepath.Join(dir, "o.json")
	os.WriteFile(other, []byte(`{"issuer": "http://other"}`), 0o600)
	if s, err := load(t, map[string]string{"OIDCD_CONFIG": file}, "--config", other); err != nil || s.Server.Provider.Issuer != "http://other" {
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
	// A duration that may be 0 (the feature off) is still never negative.
	if s, err := load(t, map[string]string{"OIDCD_TOKEN_CACHE_TTL": "0"}); err != nil || s.TokenCacheTTL != 0 {
		t.Errorf("OIDCD_TOKEN_CACHE_TTL=0: %v, %v", s, err)
	}
	if s, err := load(t, nil); err != nil || s.TokenCacheTTL != time.Second {
		t.Errorf("token_cache_ttl's default: %v, %v", s, err)
	}
	if _, err := load(t, map[string]string{"OIDCD_TOKEN_CACHE_TTL": "-1s"}); err == nil || !strings.Contains(err.Error(), "must not be negative") {
		t.Errorf("OIDCD_TOKEN_CACHE_TTL=-1s: %v", err)
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

// Every setting is written straight into its own field of Settings (the
// server's and the engine's configuration included), so that no setting
// depends on a copy that may forget it; only site_url aliases issuer.
func TestSettingsTargets(t *testing.T) {
	base := defaultSettings()
	start, size := uintptr(unsafe.Pointer(base)), unsafe.Sizeof(*base)
	owner := map[uintptr]string{}
	for _, st := range settingsTable {
		p := reflect.ValueOf(st.target(base)).Pointer()
		if p < start || p >= start+size {
			t.Errorf("%s: the target is not a field of Settings", st.name)
		}
		if other, ok := owner[p]; ok && !(other == "site_url" && st.name == "issuer") {
			t.Errorf("%s and %s write the same field", other, st.name)
		}
		owner[p] = st.name

		v := map[kind]string{kString: "http://changed.example", kSeconds: "12345", kDays: "12345", kInt: "12345",
			kPrefixes: "10.9.8.0/24", kBool: strconv.FormatBool(st.def != "true")}[st.kind]
		if st.kind == kChoice {
			v = st.choices[slices.IndexFunc(st.choices, func(c string) bool { return c != st.def })]
		}
		changed := defaultSettings()
		if err := st.set(changed, v); err != nil {
			t.Fatalf("%s=%s: %v", st.name, v, err)
		}
		if reflect.DeepEqual(changed, base) {
			t.Errorf("%s=%s changes nothing", st.name, v)
		}
	}
	// A negated setting keeps django-oidc-provider's sense.
	s := defaultSettings()
	if s.Server.Provider.InsecureIntrospectionAnyAudience {
		t.Error("the audience check is off by default")
	}
	st, _ := lookupSetting("introspection_validate_audience_scope")
	if st.set(s, "false"); !s.Server.Provider.InsecureIntrospectionAnyAudience {
		t.Error("OIDCD_INTROSPECTION_VALIDATE_AUDIENCE_SCOPE=false leaves the audience check on")
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
