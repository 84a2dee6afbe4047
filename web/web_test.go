package web

import (
	"net/http/httptest"
	"strings"
	"testing"
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
