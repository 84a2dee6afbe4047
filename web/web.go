package web

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"slices"
	"strings"
	"sync"

	"golang.org/x/text/language"
)

//go:embed templates/*.html templates/console/*.html
var embedded embed.FS

//go:embed static/oidcd.css
var builtinCSS []byte

// Options configures a Renderer. The zero value renders the built-in pages
// in every built-in language, English by default, unbranded.
type Options struct {
	// Templates overlays the embedded templates: a file named like an
	// embedded one (login.html, base.html...) replaces it, and a file of a
	// new name (a host's own page) is added.
	Templates fs.FS
	// Translations adds languages and rewords messages: each <tag>.po file
	// (gettext, named by a BCP 47 tag: es.po, pt-BR.po) is read before the
	// built-in catalog of that language, which it may leave incomplete.
	Translations fs.FS
	// Languages restricts the offered languages to these BCP 47 tags, each
	// of which needs a catalog. Defaults to every catalog.
	Languages []string
	// DefaultLanguage is the language of pages whose request prefers none
	// that is offered. Defaults to "en".
	DefaultLanguage string
	// Branding puts a site's name, logo, colour and links on every page.
	Branding Branding
	// BasePath is the path under which the host serves ServeAsset (the
	// issuer's path: "/openid" serves "/openid/assets/oidcd.css"). Defaults
	// to "".
	BasePath string
	// OnMissing, when set, is called for every message that a page shows
	// without a translation in the page's language (the English text is
	// shown). Tests set it to fail on a missing translation.
	OnMissing func(lang, msgid string)
}

// Renderer renders named pages in the offered languages. Each page is a
// standalone template file; base.html supplies the shared layout ("header"
// and "footer" blocks). The web console's pages ("console/clients.html",
// ...) also get console/layout.html: the navigation and the messages.
type Renderer struct {
	// sources holds every page's source, read once by NewRenderer; a page
	// is parsed for a language the first time it is rendered in it, so a
	// server keeps only the pages and languages it serves (all of them
	// would be every page four times over, most never shown).
	sources   pageSources
	mu        sync.Mutex
	pages     map[pageKey]*template.Template
	cats      map[string]*catalog
	langs     []string // offered, default first
	matcher   language.Matcher
	onMissing func(lang, msgid string)
	site      Site
	assets    map[string]asset
}

// New parses the embedded templates, each replaced by a file of the same name
// in overlay when overlay (may be nil) has one: NewRenderer with only
// Options.Templates.
func New(overlay fs.FS) (*Renderer, error) {
	return NewRenderer(Options{Templates: overlay})
}

// NewRenderer loads the catalogs and branding of o and parses every page
// once per offered language.
func NewRenderer(o Options) (*Renderer, error) {
	r := &Renderer{onMissing: o.OnMissing, assets: map[string]asset{}}
	var err error
	if r.cats, err = loadCatalogs(o.Translations); err != nil {
		return nil, err
	}
	if err := r.setLanguages(o.Languages, o.DefaultLanguage); err != nil {
		return nil, err
	}
	if err := r.setBranding(o.Branding, strings.TrimSuffix(o.BasePath, "/")); err != nil {
		return nil, err
	}
	if r.sources, err = readSources(o.Templates); err != nil {
		return nil, err
	}
	r.pages = map[pageKey]*template.Template{}
	// A template that does not parse is an error now, not at its first
	// request. The embedded ones are checked by the tests; an overlay's
	// are checked here, each page once (parsing does not depend on the
	// language), and the result is not kept.
	if o.Templates != nil {
		for _, name := range r.sources.names {
			if _, err := r.sources.parse(name, r.funcs(r.langs[0])); err != nil {
				return nil, err
			}
		}
	}
	return r, nil
}

type pageKey struct{ lang, name string }

// pageSources are the pages' template sources, the overlay's where it has
// them.
type pageSources struct {
	names        []string // sorted
	base, layout string
	page         map[string]string
}

func readSources(overlay fs.FS) (pageSources, error) {
	var ps pageSources
	names, err := pageNames(overlay)
	if err != nil {
		return ps, err
	}
	read := func(name string) (string, error) {
		if overlay != nil {
			if b, err := fs.ReadFile(overlay, name); err == nil {
				return string(b), nil
			}
		}
		b, err := embedded.ReadFile("templates/" + name)
		if err != nil {
			return "", fmt.Errorf("web: %w", err)
		}
		return string(b), nil
	}
	if ps.base, err = read("base.html"); err != nil {
		return ps, err
	}
	if ps.layout, err = read("console/layout.html"); err != nil {
		return ps, err
	}
	ps.names, ps.page = names, map[string]string{}
	for _, name := range names {
		if ps.page[name], err = read(name); err != nil {
			return ps, err
		}
	}
	return ps, nil
}

// parse parses page name (with base.html, and console/layout.html for the
// console's pages) with funcs.
func (ps *pageSources) parse(name string, funcs template.FuncMap) (*template.Template, error) {
	src, ok := ps.page[name]
	if !ok {
		return nil, fmt.Errorf("web: no template %s", name)
	}
	t, err := template.New(path.Base(name)).Funcs(funcs).Parse(ps.base)
	if err == nil && path.Dir(name) == "console" {
		_, err = t.Parse(ps.layout)
	}
	if err == nil {
		_, err = t.Parse(src)
	}
	if err != nil {
		return nil, fmt.Errorf("web: template %s: %w", name, err)
	}
	return t, nil
}

// page returns page name parsed for lang, parsing it on first use.
func (r *Renderer) page(lang, name string) (*template.Template, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := pageKey{lang, name}
	if t, ok := r.pages[k]; ok {
		return t, nil
	}
	t, err := r.sources.parse(name, r.funcs(lang))
	if err != nil {
		return nil, err
	}
	r.pages[k] = t
	return t, nil
}

// pageNames lists the embedded pages and those only the overlay has.
func pageNames(overlay fs.FS) ([]string, error) {
	var names []string
	add := func(fsys fs.FS, pattern, dir string) error {
		found, err := fs.Glob(fsys, pattern)
		if err != nil {
			return err
		}
		for _, n := range found {
			name := strings.TrimPrefix(n, dir)
			if name != "base.html" && name != "console/layout.html" && !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
		return nil
	}
	for _, pattern := range []string{"templates/*.html", "templates/console/*.html"} {
		if err := add(embedded, pattern, "templates/"); err != nil {
			return nil, err
		}
	}
	if overlay != nil {
		for _, pattern := range []string{"*.html", "console/*.html"} {
			if err := add(overlay, pattern, ""); err != nil {
				return nil, err
			}
		}
	}
	slices.Sort(names)
	return names, nil
}

func (r *Renderer) setLanguages(offered []string, def string) error {
	if def == "" {
		def = "en"
	}
	if len(offered) == 0 {
		for tag := range r.cats {
			offered = append(offered, tag)
		}
		slices.Sort(offered)
	}
	var errs []error
	var langs []string
	add := func(s string) {
		t, err := language.Parse(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("web: language %q: %w", s, err))
			return
		}
		key := t.String()
		if r.cats[key] == nil {
			errs = append(errs, fmt.Errorf("web: language %q has no catalog (a %s.po file)", s, key))
			return
		}
		if !slices.Contains(langs, key) {
			langs = append(langs, key)
		}
	}
	add(def)
	for _, s := range offered {
		add(s)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	r.langs = langs
	tags := make([]language.Tag, len(langs))
	for i, l := range langs {
		tags[i] = r.cats[l].tag
	}
	r.matcher = language.NewMatcher(tags)
	return nil
}

// funcs are the template functions of pages in lang. Messages are
// translated where they are written:
//
//	{{T "Sign in"}}                        a message
//	{{T "Signed in as %s." .CurrentUser}}  with values, fmt.Sprintf-style
//	{{Tb "%s would like to:" .Client.Name}} the same, each value in <strong>
//	{{lang}} {{dir}}                       the page's language and direction
//	{{site}}                               the branding (type Site)
func (r *Renderer) funcs(lang string) template.FuncMap {
	dir := direction(lang)
	return template.FuncMap{
		"T": func(msgid string, args ...any) string { return r.T(lang, msgid, args...) },
		"Tb": func(msgid string, args ...any) template.HTML {
			s := template.HTMLEscapeString(r.T(lang, msgid))
			bold := make([]any, len(args))
			for i, a := range args {
				bold[i] = template.HTML("<strong>" + template.HTMLEscapeString(fmt.Sprint(a)) + "</strong>")
			}
			return template.HTML(fmt.Sprintf(s, bold...))
		},
		"lang": func() string { return lang },
		"dir":  func() string { return dir },
		"site": func() Site { return r.site },
	}
}

// DefaultCSP is the Content-Security-Policy of every page that does not set
// its own: stylesheets and images from the provider itself only (client
// logos are served by it: docs/security.md "Browser pages"), no script,
// never framed.
const DefaultCSP = "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'"

// Render writes page name in the default language with data and the given
// status. Every page gets headers that forbid framing and referrers
// (SECURITY F2, F3); csp, when not empty, replaces the default
// Content-Security-Policy.
func (r *Renderer) Render(w http.ResponseWriter, status int, name string, data any, csp string) error {
	return r.render(w, r.langs[0], status, name, data, csp, false)
}

// RenderLang is Render in lang (from Language); an unknown lang renders
// the default language.
func (r *Renderer) RenderLang(w http.ResponseWriter, lang string, status int, name string, data any, csp string) error {
	return r.render(w, lang, status, name, data, csp, false)
}

// RenderFramable renders a page that other sites may frame: the
// check-session iframe, the one exception to SECURITY F2. csp is required
// and sets its own frame-ancestors; no X-Frame-Options is sent.
func (r *Renderer) RenderFramable(w http.ResponseWriter, status int, name string, data any, csp string) error {
	if csp == "" {
		return fmt.Errorf("web: %s: a framable page needs its own Content-Security-Policy", name)
	}
	return r.render(w, r.langs[0], status, name, data, csp, true)
}

func (r *Renderer) render(w http.ResponseWriter, lang string, status int, name string, data any, csp string, framable bool) error {
	if !slices.Contains(r.langs, lang) {
		lang = r.langs[0]
	}
	t, err := r.page(lang, name)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return fmt.Errorf("web: render %s: %w", name, err)
	}
	h := w.Header()
	if csp == "" {
		// No form-action: Chromium applies it to the redirects that follow a
		// form POST, and the consent and login forms end in a redirect to the
		// relying party.
		csp = DefaultCSP
	}
	h.Set("Content-Security-Policy", csp)
	if !framable {
		h.Set("X-Frame-Options", "DENY")
	}
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Language", lang)
	h.Add("Vary", "Accept-Language")
	w.WriteHeader(status)
	_, err = w.Write(buf.Bytes())
	return err
}
