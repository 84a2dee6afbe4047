package op_test

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage"
)

// testPNG is a small valid PNG.
func testPNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	img.Set(1, 1, color.RGBA{200, 0, 0, 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestLogoServedLocally: the consent page shows the logo oidcd serves
// itself and loads nothing from the client's host; its policy allows
// images from oidcd only (docs/security.md "Browser pages").
func TestLogoServedLocally(t *testing.T) {
	env := newTestEnv(t, nil)
	logo := testPNG(t)
	withLogo, _ := env.client(storage.Client{RequireConsent: true, LogoURL: "https://tracker.example/logo.png", LogoImage: logo})
	external, _ := env.client(storage.Client{Name: "External", RequireConsent: true, LogoURL: "https://tracker.example/logo.png"})
	imported, _ := env.client(storage.Client{Name: "Imported", RequireConsent: true,
		LogoURL: "data:image/png;base64," + base64.StdEncoding.EncodeToString(logo)})
	b := env.browser()
	page := func(id string) *page {
		return b.get(authURL(env, map[string]string{"client_id": id, "redirect_uri": rpCallback, "response_type": "code", "scope": "openid", "state": "s"}))
	}
	for _, tc := range []struct {
		id      string
		hasLogo bool
	}{{withLogo, true}, {external, false}, {imported, true}} {
		pg := page(tc.id)
		if strings.Contains(pg.body, "tracker.example") || strings.Contains(pg.body, "data:image") {
			t.Fatalf("the consent page refers to another host's image:\n%s", pg.body)
		}
		csp := pg.header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "img-src 'self';") || strings.Contains(csp, "https:") {
			t.Fatalf("consent page policy %q", csp)
		}
		want := `<img src="/logo/` + tc.id + `"`
		if strings.Contains(pg.body, want) != tc.hasLogo {
			t.Fatalf("client %s: logo shown = %v, want %v:\n%s", tc.id, !tc.hasLogo, tc.hasLogo, pg.body)
		}
		if !tc.hasLogo {
			continue
		}
		resp, err := http.Get(env.srv.URL + "/logo/" + tc.id)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Equal(got, logo) || resp.Header.Get("Content-Type") != "image/png" ||
			resp.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "sandbox") {
			t.Fatalf("GET /logo/%s: %d %v", tc.id, resp.StatusCode, resp.Header)
		}
	}
	for _, id := range []string{external, "nobody"} {
		resp, err := http.Get(env.srv.URL + "/logo/" + id)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("GET /logo/%s: %d, want 404", id, resp.StatusCode)
		}
	}
	// Only raster images of bounded size are accepted.
	for name, bad := range map[string][]byte{
		"svg":       []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`),
		"html":      []byte("<html><body>hi</body></html>"),
		"truncated": logo[:20],
		"huge":      append(bytes.Clone(logo), make([]byte, op.MaxLogoBytes)...),
	} {
		if _, err := op.CheckLogo(bad); err == nil {
			t.Errorf("%s accepted as a logo", name)
		}
		if _, _, err := op.NewClient(storage.Client{Name: "x", RedirectURIs: []string{rpCallback}, LogoImage: bad}, env.sealer, env.clock.Now(), nil); err == nil {
			t.Errorf("a client with a %s logo registered", name)
		}
	}
}

// TestRegisteredLogoFetchedOnce: a logo_uri given at /register is fetched
// once, through the SSRF-safe client, and served by the provider.
func TestRegisteredLogoFetchedOnce(t *testing.T) {
	logo := testPNG(t)
	fetches := 0
	img := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches++
		w.Write(logo)
	}))
	defer img.Close()
	for _, allow := range []bool{false, true} {
		env := newTestEnv(t, func(c *op.Config) {
			c.Registration.Enabled, c.Registration.Open = true, true
			c.InsecureAllowPrivateTargets = allow
		})
		md := webClient()
		md["logo_uri"] = img.URL + "/logo.png"
		md["client_name"] = "Logo App"
		before := fetches
		resp, body := regRequest(t, "POST", env.srv.URL+"/register", "", md)
		if resp.StatusCode != http.StatusCreated || body["logo_uri"] != img.URL+"/logo.png" {
			t.Fatalf("register: %d %v", resp.StatusCode, body)
		}
		id := body["client_id"].(string)
		r, err := http.Get(env.srv.URL + "/logo/" + id)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if !allow {
			// A loopback logo_uri is a forbidden target (SECURITY K1).
			if fetches != before || r.StatusCode != http.StatusNotFound {
				t.Fatalf("loopback logo_uri: fetched %d times, GET /logo %d", fetches-before, r.StatusCode)
			}
			continue
		}
		if fetches != before+1 || r.StatusCode != 200 || !bytes.Equal(got, logo) {
			t.Fatalf("registered logo: fetched %d times, GET /logo %d", fetches-before, r.StatusCode)
		}
	}
}
