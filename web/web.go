package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed templates/*.html templates/console/*.html
var embedded embed.FS

// Renderer renders named pages. Each page is a standalone template file;
// base.html supplies the shared layout ("header" and "footer" blocks). The
// web console's pages ("console/clients.html", ...) also get
// console/layout.html: its styles (the "head" block of base.html), the
// navigation and the messages.
type Renderer struct {
	pages map[string]*template.Template
}

// New parses the embedded templates, each replaced by a file of the same name
// in overlay when overlay (may be nil) has one.
func New(overlay fs.FS) (*Renderer, error) {
	names, err := fs.Glob(embedded, "templates/*.html")
	if err != nil {
		return nil, err
	}
	read := func(name string) ([]byte, error) {
		if overlay != nil {
			if b, err := fs.ReadFile(overlay, name); err == nil {
				return b, nil
			}
		}
		return embedded.ReadFile("templates/" + name)
	}
	base, err := read("base.html")
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	consoleNames, err := fs.Glob(embedded, "templates/console/*.html")
	if err != nil {
		return nil, err
	}
	layout, err := read("console/layout.html")
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	r := &Renderer{pages: map[string]*template.Template{}}
	for _, n := range append(names, consoleNames...) {
		name := strings.TrimPrefix(n, "templates/")
		if name == "base.html" || name == "console/layout.html" {
			continue
		}
		src, err := read(name)
		if err != nil {
			return nil, fmt.Errorf("web: %w", err)
		}
		t, err := template.New(path.Base(name)).Parse(string(base))
		if err == nil && path.Dir(name) == "console" {
			_, err = t.Parse(string(layout))
		}
		if err == nil {
			_, err = t.Parse(string(src))
		}
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", name, err)
		}
		r.pages[name] = t
	}
	return r, nil
}

// DefaultCSP is the Content-Security-Policy of every page that does not set
// its own: nothing but inline styles and images from the provider itself
// (client logos are served by it: docs/security.md "Browser pages"), never
// framed.
const DefaultCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'"

// Render writes page name with data and the given status. Every page gets
// headers that forbid framing and referrers (SECURITY F2, F3); csp, when not
// empty, replaces the default Content-Security-Policy.
func (r *Renderer) Render(w http.ResponseWriter, status int, name string, data any, csp string) error {
	return r.render(w, status, name, data, csp, false)
}

// RenderFramable renders a page that other sites may frame: the
// check-session iframe, the one exception to SECURITY F2. csp is required
// and sets its own frame-ancestors; no X-Frame-Options is sent.
func (r *Renderer) RenderFramable(w http.ResponseWriter, status int, name string, data any, csp string) error {
	if csp == "" {
		return fmt.Errorf("web: %s: a framable page needs its own Content-Security-Policy", name)
	}
	return r.render(w, status, name, data, csp, true)
}

func (r *Renderer) render(w http.ResponseWriter, status int, name string, data any, csp string, framable bool) error {
	t, ok := r.pages[name]
	if !ok {
		return fmt.Errorf("web: no template %s", name)
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
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}
