package djangoimport

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oidcd/oidcd/keys"
	"github.com/oidcd/oidcd/storage/sqlstore"
)

// releases are the fixture sites, each made by that django-oidc-provider
// release (testdata/django/make_fixtures.sh).
var releases = []string{"v0.8.3", "v0.6.2", "v0.5.3"}

const fixtures = "../../testdata/django"

// manifest is what a fixture's JSON keeps beside its database.
type manifest struct {
	Release string `json:"release"`
	Issuer  string `json:"issuer"`
	Kids    []string
	Users   map[string]struct {
		ID       int64  `json:"id"`
		Password string `json:"password"`
		Hasher   string `json:"hasher"`
		Encoded  string `json:"encoded"`
		IsActive bool   `json:"is_active"`
	} `json:"users"`
	Clients map[string]struct {
		ClientID      string   `json:"client_id"`
		ClientSecret  string   `json:"client_secret"`
		ResponseTypes []string `json:"response_types"`
	} `json:"clients"`
	Tokens map[string]map[string]string `json:"tokens"`
	Counts map[string]int               `json:"counts"`
}

func loadManifest(t *testing.T, release string) *manifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, release+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	// expires_in is a number in the token responses: keep strings only.
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	toks := map[string]map[string]any{}
	if err := json.Unmarshal(raw["tokens"], &toks); err != nil {
		t.Fatal(err)
	}
	delete(raw, "tokens")
	b, _ = json.Marshal(raw)
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	m.Tokens = map[string]map[string]string{}
	for k, v := range toks {
		m.Tokens[k] = map[string]string{}
		for f, x := range v {
			if s, ok := x.(string); ok {
				m.Tokens[k][f] = s
			}
		}
	}
	return &m
}

// madeAt is when the fixture was made: the iat of the ID token the release
// issued to alice.
func (m *manifest) madeAt(t *testing.T) time.Time {
	t.Helper()
	parts := strings.Split(m.Tokens["alice_web"]["id_token"], ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Iat int64 `json:"iat"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return time.Unix(c.Iat, 0).UTC()
}

// fixtureDB copies a fixture database into t's temporary folder (the
// import only reads it, the copy guards the committed file anyway).
func fixtureDB(t *testing.T, release string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, release+".sqlite3"))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), release+".sqlite3")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

var testSecret = bytes.Repeat([]byte("s"), 32)

func testSealer(t *testing.T) keys.Sealer {
	t.Helper()
	s, err := keys.NewSealer(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newTarget is an empty, migrated oidcd database on a SQLite file.
func newTarget(t *testing.T) (*sqlstore.Store, string) {
	t.Helper()
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "oidcd.db")
	s, err := sqlstore.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s, dsn
}

// options imports release at a time two days after the fixture was made:
// the tokens and codes made with the release's default lifetimes have
// expired, the long-lived ones have not.
func options(t *testing.T, m *manifest, from string) Options {
	return Options{
		From:      from,
		Sealer:    testSealer(t),
		Now:       func() time.Time { return m.madeAt(t).Add(48 * time.Hour) },
		MediaDir:  filepath.Join(fixtures, "media", m.Release),
		ClaimsSQL: "SELECT user_id, phone AS phone_number, locale, 1 AS email_verified FROM site_profile",
	}
}
