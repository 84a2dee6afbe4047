package op

import (
	"maps"
	"slices"
	"strings"

	"golang.org/x/text/language"

	"github.com/oidcd/oidcd/storage"
)

// maxClaimsLocales bounds the tags of claims_locales (SECURITY L6).
const maxClaimsLocales = 16

// normalizeLocales turns a claims_locales value into canonical BCP 47
// tags, space-separated, in order: malformed tags and those past
// maxClaimsLocales are ignored, like unknown values (OIDC Core §5.2).
func normalizeLocales(v string) string {
	var tags []string
	for _, f := range strings.Fields(v) {
		if len(tags) == maxClaimsLocales {
			break
		}
		if len(f) > 64 {
			continue
		}
		if t, err := language.Parse(f); err == nil && !slices.Contains(tags, t.String()) {
			tags = append(tags, t.String())
		}
	}
	return strings.Join(tags, " ")
}

// addLocalized adds to out, for each released human-readable claim the
// user has in other languages, the value in the language that locales
// (claims_locales) prefers among them, as "<claim>#<tag>" (OIDC Core §5.2).
// The unlabelled value stays: a client that does not read language tags
// still finds it.
func addLocalized(out map[string]any, localized map[string]string, locales string) {
	if locales == "" || len(localized) == 0 {
		return
	}
	want := strings.Fields(locales)
	for _, name := range storage.LocalizableClaims {
		if _, released := out[name]; !released {
			continue
		}
		var have []string // the tags this claim has a value in, sorted
		for _, k := range slices.Sorted(maps.Keys(localized)) {
			if claim, tag, ok := strings.Cut(k, "#"); ok && claim == name {
				have = append(have, tag)
			}
		}
		if tag, ok := bestLocale(want, have); ok {
			out[name+"#"+tag] = localized[name+"#"+tag]
		}
	}
}

// bestLocale picks, for the first tag of want that any of have serves,
// the tag of have that serves it best: the same tag, else one of the same
// language whose script and region are those want names (a want of "ja"
// takes "ja-Kana-JP"; "pt-BR" prefers "pt-BR" to "pt-PT").
func bestLocale(want, have []string) (string, bool) {
	for _, w := range want {
		wt, err := language.Parse(w)
		if err != nil {
			continue
		}
		wb, ws, wr := wt.Raw()
		best, bestScore := "", -1
		for _, h := range have {
			ht, err := language.Parse(h)
			if err != nil {
				continue
			}
			hb, hs, hr := ht.Raw()
			if hb != wb {
				continue
			}
			score := 0
			if ht == wt {
				score = 4
			} else {
				if ws.String() != "Zzzz" && hs == ws {
					score += 2
				}
				if wr.String() != "ZZ" && hr == wr {
					score++
				}
			}
			if score > bestScore {
				best, bestScore = h, score
			}
		}
		if bestScore >= 0 {
			return best, true
		}
	}
	return "", false
}
