package web

import (
	"embed"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/leonelquinteros/gotext"
	"golang.org/x/text/language"
)

// The built-in catalogs: one gettext .po file per language, named by its
// BCP 47 tag (es.po, pt-BR.po). The message ids are the English texts, as
// gettext does; en.po translates them to themselves, so that a site may
// reword the English pages too, and is the reference every other catalog
// must cover (TestCatalogsComplete).
//
//go:embed locales/*.po
var embeddedLocales embed.FS

// catalog is one language's messages: the operator's file (Options.Translations)
// first, then the built-in one. gotext parses the files; the translated
// messages are then kept in plain maps, read without locks.
type catalog struct {
	tag   language.Tag
	files []*poFile
}

// poFile is one .po file's translated messages. A built-in file is parsed
// when its language is first used: parsing the four built-in catalogs took
// 12 ms, a sixth of a restart, and most servers use one or two languages.
// An operator's file is parsed at start, so that a broken one is an error
// then (the built-in ones are checked by the tests).
type poFile struct {
	once sync.Once
	src  []byte
	m    map[string]string
}

func (f *poFile) messages() map[string]string {
	f.once.Do(func() { f.m, f.src = parsePo(f.src), nil })
	return f.m
}

func (c *catalog) lookup(msgid string) (string, bool) {
	for _, f := range c.files {
		if s, ok := f.messages()[msgid]; ok {
			return s, true
		}
	}
	return "", false
}

// msgids lists every translated message id of the catalog, sorted.
func (c *catalog) msgids() []string {
	seen := map[string]bool{}
	for _, f := range c.files {
		for id := range f.messages() {
			seen[id] = true
		}
	}
	out := make([]string, 0, len(seen))
	for id := range seen {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// parsePo reads a gettext catalog: its translated messages by id (the
// header, whose id is empty, and untranslated entries left out).
func parsePo(b []byte) map[string]string {
	po := gotext.NewPo()
	po.Parse(b)
	m := map[string]string{}
	for id, tr := range po.GetDomain().GetTranslations() {
		if id != "" && tr.IsTranslated() {
			m[id] = tr.Get()
		}
	}
	return m
}

// loadCatalogs reads every *.po of the built-in catalogs and of overlay
// (may be nil), by language tag.
func loadCatalogs(overlay fs.FS) (map[string]*catalog, error) {
	cats := map[string]*catalog{}
	add := func(fsys fs.FS, dir string, operator bool) error {
		names, err := fs.Glob(fsys, path.Join(dir, "*.po"))
		if err != nil {
			return err
		}
		for _, n := range names {
			base := strings.TrimSuffix(path.Base(n), ".po")
			tag, err := language.Parse(base)
			if err != nil {
				return fmt.Errorf("web: translation file %s: not named after a BCP 47 language tag (es.po, pt-BR.po): %w", n, err)
			}
			b, err := fs.ReadFile(fsys, n)
			if err != nil {
				return fmt.Errorf("web: %w", err)
			}
			po := &poFile{src: b}
			if operator && len(po.messages()) == 0 {
				return fmt.Errorf("web: translation file %s holds no translated message", n)
			}
			key := tag.String()
			c := cats[key]
			if c == nil {
				c = &catalog{tag: tag}
				cats[key] = c
			}
			if operator {
				c.files = append([]*poFile{po}, c.files...)
			} else {
				c.files = append(c.files, po)
			}
		}
		return nil
	}
	if err := add(embeddedLocales, "locales", false); err != nil {
		return nil, err
	}
	if overlay != nil {
		if err := add(overlay, ".", true); err != nil {
			return nil, err
		}
	}
	return cats, nil
}

// Languages returns the languages the pages are offered in, the default
// first (discovery's ui_locales_supported).
func (r *Renderer) Languages() []string {
	return slices.Clone(r.langs)
}

// DefaultLanguage is the language of a page when nothing in the request
// picks another one.
func (r *Renderer) DefaultLanguage() string { return r.langs[0] }

// Language picks the language of a page: the first of preferences that
// names an offered language, then the request's Accept-Language header,
// then the default. Each preference is a space-separated list of BCP 47
// tags in order of preference: the ui_locales parameter (OIDC Core
// §3.1.2.1), then the user's locale claim. A tag matches an offered
// language of the same base language ("es-MX" picks "es"); unknown or
// malformed tags are skipped.
func (r *Renderer) Language(req *http.Request, preferences ...string) string {
	for _, p := range preferences {
		if lang, ok := r.match(parseTags(p)); ok {
			return lang
		}
	}
	if req != nil {
		if h := req.Header.Get("Accept-Language"); h != "" && len(h) <= 1024 {
			if tags, _, err := language.ParseAcceptLanguage(h); err == nil {
				if lang, ok := r.match(tags); ok {
					return lang
				}
			}
		}
	}
	return r.langs[0]
}

// Match returns the offered language that a space-separated list of BCP
// 47 tags (ui_locales, a locale claim) prefers, if any.
func (r *Renderer) Match(preference string) (string, bool) {
	return r.match(parseTags(preference))
}

// maxTags bounds how many tags of one preference are considered.
const maxTags = 16

func parseTags(s string) []language.Tag {
	var tags []language.Tag
	for _, f := range strings.Fields(s) {
		if len(tags) == maxTags {
			break
		}
		if len(f) > 64 {
			continue
		}
		if t, err := language.Parse(f); err == nil {
			tags = append(tags, t)
		}
	}
	return tags
}

func (r *Renderer) match(tags []language.Tag) (string, bool) {
	if len(tags) == 0 {
		return "", false
	}
	if len(tags) > maxTags {
		tags = tags[:maxTags]
	}
	_, i, conf := r.matcher.Match(tags...)
	if conf == language.No {
		return "", false
	}
	return r.langs[i], true
}

// T translates msgid into lang, formatting args into it as fmt.Sprintf
// does. A message without a translation in lang is reported to
// Options.OnMissing and shown in English.
func (r *Renderer) T(lang, msgid string, args ...any) string {
	s, ok := "", false
	if c := r.cats[lang]; c != nil {
		s, ok = c.lookup(msgid)
	}
	if !ok {
		if r.onMissing != nil {
			r.onMissing(lang, msgid)
		}
		s = msgid
	}
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}

// Translated reports whether lang's catalog translates msgid.
func (r *Renderer) Translated(lang, msgid string) bool {
	c := r.cats[lang]
	if c == nil {
		return false
	}
	_, ok := c.lookup(msgid)
	return ok
}

// Messages lists the message ids of lang's catalog, sorted.
func (r *Renderer) Messages(lang string) []string {
	c := r.cats[lang]
	if c == nil {
		return nil
	}
	return c.msgids()
}

// rtl are the base languages written right to left.
var rtl = map[string]bool{"ar": true, "fa": true, "he": true, "ur": true, "ps": true, "yi": true, "dv": true, "ckb": true}

func direction(lang string) string {
	base, _ := language.Make(lang).Base()
	if rtl[base.String()] {
		return "rtl"
	}
	return "ltr"
}
