package web

import (
	"bytes"
	"encoding/base64"
	"net/http/httptest"
	"strings"
	"testing"
)

// A 1×1 PNG.
var pngLogo, _ = base64.StdEncoding.DecodeString("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")

func TestBrandingAssets(t *testing.T) {
	r, err := NewRenderer(Options{BasePath: "/openid", Branding: Branding{
		SiteName: "Example ID", PrimaryColor: "#6B21A8", Logo: pngLogo, Stylesheet: []byte(".site-name{color:red}"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	site := r.site
	if site.Logo == "" || !strings.HasPrefix(site.Logo, "/openid/assets/logo?v=") || len(site.Stylesheets) != 2 {
		t.Fatalf("site %+v", site)
	}
	for _, c := range []struct{ name, ctype, contains string }{
		{"oidcd.css", "text/css; charset=utf-8", "--primary:#6b21a8"},
		{"site.css", "text/css; charset=utf-8", ".site-name{color:red}"},
		{"logo", "image/png", "PNG"},
	} {
		w := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/openid/assets/"+c.name, nil)
		req.SetPathValue("name", c.name)
		r.ServeAsset(w, req)
		if w.Code != 200 || w.Header().Get("Content-Type") != c.ctype || !strings.Contains(w.Body.String(), c.contains) ||
			w.Header().Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(w.Header().Get("Cache-Control"), "max-age") {
			t.Errorf("%s: %d %v %.80q", c.name, w.Code, w.Header(), w.Body.String())
		}
	}
	w := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/openid/assets/../../etc/passwd", nil)
	req.SetPathValue("name", "../../etc/passwd")
	r.ServeAsset(w, req)
	if w.Code != 404 {
		t.Fatalf("unknown asset: %d", w.Code)
	}
	// The page links them, and the policy allows stylesheets and images
	// from the provider only.
	w = httptest.NewRecorder()
	if err := r.Render(w, 200, "login.html", map[string]any{"Action": "/login"}, ""); err != nil {
		t.Fatal(err)
	}
	body := w.Body.String()
	for _, want := range []string{`<link rel="stylesheet" href="/openid/assets/oidcd.css?v=`, `<link rel="stylesheet" href="/openid/assets/site.css?v=`,
		`<img src="/openid/assets/logo?v=`, `alt="Example ID"`, `<title>Sign in – Example ID</title>`} {
		if !strings.Contains(body, want) {
			t.Errorf("no %q in\n%s", want, body)
		}
	}
	csp := w.Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "style-src 'self';") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "img-src 'self';") {
		t.Errorf("policy %q", csp)
	}
	// No branding: no header, no footer, the default colour.
	r, err = NewRenderer(Options{})
	if err != nil {
		t.Fatal(err)
	}
	w = httptest.NewRecorder()
	r.Render(w, 200, "login.html", map[string]any{"Action": "/login"}, "")
	if body := w.Body.String(); strings.Contains(body, "<header") || strings.Contains(body, "<footer") {
		t.Fatalf("unbranded page:\n%s", body)
	}
	if !bytes.Contains(r.assets["oidcd.css"].body, []byte(DefaultPrimaryColor)) {
		t.Fatal("default colour missing")
	}
}

// Colours that fail WCAG 2.1 AA with white text, bad links and logos that
// are not images are refused when the renderer is made.
func TestBrandingRefused(t *testing.T) {
	for name, b := range map[string]Branding{
		"light colour":   {PrimaryColor: "#ffcc00"},
		"mid grey":       {PrimaryColor: "#959595"},
		"not a colour":   {PrimaryColor: "blue"},
		"bad hex":        {PrimaryColor: "#12345g"},
		"script link":    {PrivacyURL: "javascript:alert(1)"},
		"relative link":  {HelpURL: "/help"},
		"not an image":   {Logo: []byte("hello, world")},
		"logo too large": {Logo: append(bytes.Clone(pngLogo), make([]byte, maxLogo)...)},
	} {
		if _, err := NewRenderer(Options{Branding: b}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	for _, ok := range []string{"#0b57d0", "#000", "#767676", "#6B21A8"} {
		if _, err := NewRenderer(Options{Branding: Branding{PrimaryColor: ok}}); err != nil {
			t.Errorf("%s refused: %v", ok, err)
		}
	}
}

// The WCAG 2.1 contrast formula, checked against known ratios.
func TestContrast(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want float64
	}{
		{"#000000", "#ffffff", 21}, {"#ffffff", "#ffffff", 1}, {"#767676", "#ffffff", 4.54}, {"#0b57d0", "#ffffff", 6.4},
		{"#1f2328", "#ffffff", 15.8}, {"#57606a", "#ffffff", 6.4}, {"#b3261e", "#ffffff", 6.5},
	} {
		got, err := Contrast(c.a, c.b)
		if err != nil || got < c.want-0.1 || got > c.want+0.1 {
			t.Errorf("contrast(%s, %s) = %.2f, %v; want %.2f", c.a, c.b, got, err, c.want)
		}
	}
}
