package op_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/oidcd/oidcd/keys"
	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage"
)

// SECURITY A4: registration refuses redirect URIs that could leak codes.
func TestClientRegistrationRules(t *testing.T) {
	sealer, _ := keys.NewSealer([]byte("0123456789abcdef0123456789abcdef"))
	now := time.Now()
	good := []string{
		"https://rp.example/cb",
		"https://rp.example/cb?tenant=1",
		"http://127.0.0.1:8080/cb",
		"http://[::1]/cb",
		"http://localhost:3000/cb",
	}
	for _, u := range good {
		if _, _, err := op.NewClient(storage.Client{Name: "x", RedirectURIs: []string{u}}, sealer, now, nil); err != nil {
			t.Errorf("%s refused: %v", u, err)
		}
	}
	// RFC 8252 §7.1: a native app (a public client) may use a private-use
	// scheme named after a domain it owns; nothing else may.
	native := storage.Client{Name: "app", Type: storage.Public, RedirectURIs: []string{"com.example.app:/oauth2redirect"}}
	if _, _, err := op.NewClient(native, sealer, now, nil); err != nil {
		t.Errorf("native app scheme refused: %v", err)
	}
	for _, u := range []string{"myapp:/cb", "ftp://x/cb"} {
		native.RedirectURIs = []string{u}
		if _, _, err := op.NewClient(native, sealer, now, nil); err == nil {
			t.Errorf("public client: %q accepted", u)
		}
	}
	bad := []string{
		"https://rp.example/cb#frag",
		"https://*.rp.example/cb",
		"javascript:alert(1)",
		"data:text/html,hi",
		"http://rp.example/cb",
		"https://user@rp.example/cb",
		"/relative/cb",
		"",
		"ftp://x/cb",
		"com.example.app:/oauth2redirect", // confidential clients are not native apps
	}
	for _, u := range bad {
		if _, _, err := op.NewClient(storage.Client{Name: "x", RedirectURIs: []string{u}}, sealer, now, nil); err == nil {
			t.Errorf("%q accepted", u)
		}
	}
	if _, _, err := op.NewClient(storage.Client{Name: "x", RedirectURIs: []string{"http://rp.example/cb"}}, sealer, now, &op.ClientOptions{InsecureAllowHTTP: true}); err != nil {
		t.Errorf("http with the explicit dev switch: %v", err)
	}
	// Public clients have no secret and cannot sign with one.
	c, secret, err := op.NewClient(storage.Client{Name: "spa", Type: storage.Public, RedirectURIs: []string{"https://rp.example/cb"}}, sealer, now, nil)
	if err != nil || secret != "" || len(c.SecretHash) != 0 || len(c.SecretSealed) != 0 {
		t.Fatalf("public client got a secret: %q %v", secret, err)
	}
	if _, _, err := op.NewClient(storage.Client{Name: "spa", Type: storage.Public, JWTAlg: "HS256", RedirectURIs: []string{"https://rp.example/cb"}}, sealer, now, nil); err == nil {
		t.Error("public client with HS256 accepted")
	}
	// Secrets: 256 bits, stored only as a digest and a sealed copy (SECURITY E2).
	c, secret, err = op.NewClient(storage.Client{Name: "web", RedirectURIs: []string{"https://rp.example/cb"}}, sealer, now, nil)
	if err != nil || len(secret) < 43 || strings.Contains(string(c.SecretSealed), secret) || strings.Contains(string(c.SecretHash), secret) {
		t.Fatalf("secret handling: len %d, %v", len(secret), err)
	}
	// Client ids: at least 128 bits, and letters and digits only, so that
	// no id reads as a flag on the command line or needs escaping.
	for range 200 {
		c, _, err := op.NewClient(storage.Client{Name: "web", RedirectURIs: []string{"https://rp.example/cb"}}, sealer, now, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(c.ID) < 26 || strings.Trim(c.ID, "abcdefghijklmnopqrstuvwxyz234567") != "" {
			t.Fatalf("client id %q", c.ID)
		}
	}
}

// SECURITY G2: the issuer and every URL the provider builds come from
// configuration; Host and X-Forwarded-* headers change nothing.
func TestIssuerIgnoresRequestHeaders(t *testing.T) {
	env := newTestEnv(t, nil)
	req, _ := http.NewRequestWithContext(t.Context(), "GET", env.srv.URL+"/.well-known/openid-configuration", nil)
	req.Host = "evil.example"
	req.Header.Set("X-Forwarded-Host", "evil.example")
	req.Header.Set("X-Forwarded-Proto", "https")
	req.Header.Set("Forwarded", "host=evil.example;proto=https")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		body.Write(buf[:n])
		if err != nil {
			break
		}
	}
	if strings.Contains(body.String(), "evil.example") {
		t.Fatalf("discovery follows request headers: %s", body.String())
	}
}

// SECURITY F2, F3: consent and error pages refuse framing and referrers.
func TestPagesRefuseFraming(t *testing.T) {
	env := newTestEnv(t, nil)
	id, _ := env.client(storage.Client{RequireConsent: true})
	b := env.browser()
	consent := b.get(authURL(env, map[string]string{"client_id": id, "redirect_uri": rpCallback, "response_type": "code", "scope": "openid"}))
	errPage := b.get(authURL(env, map[string]string{"client_id": "unknown"}))
	for name, pg := range map[string]*page{"consent": consent, "error": errPage} {
		h := pg.header
		if h.Get("X-Frame-Options") != "DENY" || !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") ||
			h.Get("Referrer-Policy") != "no-referrer" || h.Get("Cache-Control") != "no-store" {
			t.Errorf("%s page headers: %v", name, h)
		}
		if strings.Contains(h.Get("Content-Security-Policy"), "script-src") {
			t.Errorf("%s page allows scripts: %s", name, h.Get("Content-Security-Policy"))
		}
	}
}
