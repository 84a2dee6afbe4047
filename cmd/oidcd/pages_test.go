package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/oidcd/oidcd/web"
)

func TestPageSettings(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "de.po"), []byte("msgid \"Sign in\"\nmsgstr \"Anmelden\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	css := filepath.Join(dir, "site.css")
	os.WriteFile(css, []byte("h1{letter-spacing:.01em}"), 0o600)
	o, err := pageSettings(&Settings{Translations: dir, Languages: "de, en pl", DefaultLanguage: "pl", PrimaryColor: "#0b57d0", Stylesheet: css, SiteName: "Example"})
	if err != nil {
		t.Fatal(err)
	}
	r, err := web.NewRenderer(o)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Languages(); !slices.Equal(got, []string{"pl", "de", "en"}) {
		t.Fatalf("languages %v", got)
	}
	if r.T("de", "Sign in") != "Anmelden" {
		t.Fatal("German catalog not read")
	}
	for name, s := range map[string]*Settings{
		"OIDCD_PRIMARY_COLOR":    {PrimaryColor: "#ffff00"},
		"OIDCD_TRANSLATIONS":     {PrimaryColor: "#000000", Translations: filepath.Join(dir, "nope")},
		"OIDCD_SITE_LOGO":        {PrimaryColor: "#000000", SiteLogo: filepath.Join(dir, "nope.png")},
		"OIDCD_DEFAULT_LANGUAGE": {PrimaryColor: "#000000", DefaultLanguage: "ja"},
	} {
		if _, err := pageSettings(s); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
