package web

import (
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
)

// The consent page shows the logo the provider serves itself, never the
// client's own logo URL, and the page policy loads images from the
// provider only (docs/security.md "Browser pages").
func TestLogoFromProviderOnly(t *testing.T) {
	r, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	data := map[string]any{"Client": map[string]any{"Name": "RP", "LogoURL": "https://rp.example/logo.png"},
		"Action": "/authorize", "Logo": "/logo/abc"}
	if err := r.Render(w, 200, "authorize.html", data, ""); err != nil {
		t.Fatal(err)
	}
	body := w.Body.String()
	if !strings.Contains(body, `<img src="/logo/abc"`) || strings.Contains(body, "rp.example/logo.png") {
		t.Fatalf("consent page:\n%s", body)
	}
	csp := w.Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "img-src 'self';") || strings.Contains(csp, "https:") || strings.Contains(csp, "data:") {
		t.Fatalf("Content-Security-Policy %q", csp)
	}
	// Without a served logo there is no image at all.
	w = httptest.NewRecorder()
	delete(data, "Logo")
	if err := r.Render(w, 200, "authorize.html", data, ""); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(w.Body.String(), "<img") {
		t.Fatalf("an image without a served logo:\n%s", w.Body.String())
	}
}

// Pages are parsed when first rendered, once per language, and kept; an
// overlay's template that does not parse fails New, not a request.
func TestPagesParsedOnFirstUse(t *testing.T) {
	r, err := NewRenderer(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.pages) != 0 {
		t.Fatalf("%d pages parsed before any was rendered", len(r.pages))
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for _, lang := range []string{"es", "fr", "es"} {
				w := httptest.NewRecorder()
				if err := r.RenderLang(w, lang, 200, "error.html", map[string]any{"Title": "x"}, ""); err != nil {
					t.Error(err)
					return
				}
				if got := w.Header().Get("Content-Language"); got != lang {
					t.Errorf("Content-Language %q, want %q", got, lang)
				}
			}
		})
	}
	wg.Wait()
	if len(r.pages) != 2 {
		t.Fatalf("%d parsed pages after rendering one page in two languages, want 2", len(r.pages))
	}
	if err := r.Render(httptest.NewRecorder(), 200, "no-such.html", nil, ""); err == nil {
		t.Fatal("an unknown page rendered")
	}

	_, err = NewRenderer(Options{Templates: fstest.MapFS{"login.html": {Data: []byte(`{{define "x"}}{{if}}`)}}})
	if err == nil || !strings.Contains(err.Error(), "login.html") {
		t.Fatalf("a broken overlay template: %v", err)
	}
	r, err = NewRenderer(Options{Templates: fstest.MapFS{"mine.html": {Data: []byte(`{{template "header" .}}<p>{{T "Sign in"}}</p>{{template "footer" .}}`)}}})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	if err := r.RenderLang(w, "fr", 200, "mine.html", map[string]any{}, ""); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(w.Body.String(), "<p>Se connecter</p>") {
		t.Fatalf("the overlay's own page in French:\n%s", w.Body.String())
	}
}
