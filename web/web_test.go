package web

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// A client logo kept inline (data:image/png;base64,...) reaches the consent
// page; other data: and script URLs are still blocked by html/template.
func TestLogoImageSrc(t *testing.T) {
	r, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ logo, want string }{
		{"data:image/png;base64,iVBORw0KGgo=", `src="data:image/png;base64,iVBORw0KGgo="`},
		{"https://rp.example/logo.png", `src="https://rp.example/logo.png"`},
		{"data:image/svg+xml;base64,PHN2Zz4=", `src="#ZgotmplZ"`},
		{"data:text/html;base64,PGI+", `src="#ZgotmplZ"`},
		{"javascript:alert(1)", `src="#ZgotmplZ"`},
		{`data:image/png;base64,AAAA" onerror="alert(1)`, `src="#ZgotmplZ"`},
	} {
		w := httptest.NewRecorder()
		data := map[string]any{"Client": map[string]any{"Name": "RP", "LogoURL": tt.logo}, "Action": "/authorize"}
		if err := r.Render(w, 200, "authorize.html", data, ""); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(w.Body.String(), tt.want) {
			t.Errorf("logo %q: page lacks %s:\n%s", tt.logo, tt.want, w.Body.String())
		}
	}
}
