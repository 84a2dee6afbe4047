package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/oidcd/oidcd/web"
)

// pageSettings reads the languages and branding settings: the files they
// name are read once, at start.
func pageSettings(s *Settings) (web.Options, error) {
	o := web.Options{
		DefaultLanguage: s.DefaultLanguage,
		Languages:       splitList(s.Languages),
		Branding: web.Branding{
			SiteName: s.SiteName, PrimaryColor: s.PrimaryColor,
			PrivacyURL: s.PrivacyURL, TermsURL: s.TermsURL, HelpURL: s.HelpURL,
		},
	}
	if s.Translations != "" {
		if fi, err := os.Stat(s.Translations); err != nil || !fi.IsDir() {
			return o, fmt.Errorf("OIDCD_TRANSLATIONS: %q is not a directory", s.Translations)
		}
		o.Translations = os.DirFS(s.Translations)
	}
	read := func(env, path string) ([]byte, error) {
		if path == "" {
			return nil, nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", env, err)
		}
		return b, nil
	}
	var err error
	if o.Branding.Logo, err = read("OIDCD_SITE_LOGO", s.SiteLogo); err != nil {
		return o, err
	}
	if o.Branding.Stylesheet, err = read("OIDCD_STYLESHEET", s.Stylesheet); err != nil {
		return o, err
	}
	// Check now, with the settings' names, rather than deep inside the
	// provider's start.
	if _, err := web.NewRenderer(o); err != nil {
		return o, fmt.Errorf("page settings (OIDCD_LANGUAGES, OIDCD_DEFAULT_LANGUAGE, OIDCD_TRANSLATIONS, OIDCD_SITE_LOGO, OIDCD_PRIMARY_COLOR, OIDCD_*_URL): %w", err)
	}
	return o, nil
}

// splitList splits a setting's list at commas and spaces.
func splitList(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' })
}
