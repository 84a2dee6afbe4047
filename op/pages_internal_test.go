package op

import (
	"testing"

	"github.com/oidcd/oidcd/web"
)

// Every text the provider puts on its pages from Go (scope titles and
// descriptions, claim names, device form errors, error page titles and
// messages) is translated in every built-in language.
func TestPageTextsTranslated(t *testing.T) {
	pages, err := web.NewRenderer(web.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, s := range standardScopes {
		texts = append(texts, s.Title, s.Description)
	}
	for _, c := range claimTitles {
		texts = append(texts, c)
	}
	texts = append(texts, msgDeviceBadCode, msgDeviceThrottled, msgDeviceBadCSRF, errTextInvalid.title, errTextInvalid.message)
	for _, e := range errorTexts {
		texts = append(texts, e.title, e.message)
	}
	for _, lang := range pages.Languages() {
		for _, s := range texts {
			if !pages.Translated(lang, s) {
				t.Errorf("%s: no translation of %q", lang, s)
			}
		}
	}
	// Every released claim has a name for people.
	for c := range releasable {
		if claimTitles[c] == "" {
			t.Errorf("claim %s has no title", c)
		}
	}
}
