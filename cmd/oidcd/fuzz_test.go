package main

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzConfigFile feeds arbitrary bytes to the settings file reader: it
// returns settings or an error, never panics, and an accepted file leaves
// settings that validate or report why not.
func FuzzConfigFile(f *testing.F) {
	for _, seed := range []string{
		`{"token_expire": 3600, "issuer": "https://id.example.com"}`,
		`{"token_expire": "10m", "grant_type_password_enable": true, "trusted_proxies": "10.0.0.0/8"}`,
		`{"token_expire": -1}`, `{"nope": 1}`, `[]`, `null`, `{"log_level": {"x": []}}`,
		`{"token_expire": 1e400}`, `{"addr": ":0", "addr": ":1"}`, "\xff\xfe",
	} {
		f.Add([]byte(seed))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, content []byte) {
		path := filepath.Join(dir, "config.json")
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		s := defaultSettings()
		_ = applyFile(s, path) // an error is a fine answer; a panic is not
	})
}
