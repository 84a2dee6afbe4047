package op_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage"
)

// sectorServer serves a sector_identifier_uri document and counts fetches.
func sectorServer(t *testing.T, uris ...string) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		json.NewEncoder(w).Encode(uris)
	}))
	t.Cleanup(s.Close)
	return s, &n
}

// TestPairwiseSubjects: clients of different sectors see different subs for
// one user, clients of one sector the same; ID token and userinfo agree;
// public clients keep the plain sub.
func TestPairwiseSubjects(t *testing.T) {
	env := newTestEnv(t, func(c *op.Config) { c.InsecureAllowPrivateTargets = true })
	const a1, a2, b1 = "https://a.example/cb", "https://a.example/other", "https://b.example/cb"
	pa1, sa1 := env.client(storage.Client{RedirectURIs: []string{a1}, ClientMetadata: storage.ClientMetadata{SubjectType: "pairwise"}})
	pa2, sa2 := env.client(storage.Client{RedirectURIs: []string{a2}, ClientMetadata: storage.ClientMetadata{SubjectType: "pairwise"}})
	pb, sb := env.client(storage.Client{RedirectURIs: []string{b1}, ClientMetadata: storage.ClientMetadata{SubjectType: "pairwise"}})
	pub, spub := env.client(storage.Client{RedirectURIs: []string{b1}})
	subA1, uiA1 := env.pairwiseSubsAny(t, pa1, sa1, a1)
	subA2, _ := env.pairwiseSubsAny(t, pa2, sa2, a2)
	subB, _ := env.pairwiseSubsAny(t, pb, sb, b1)
	subPub, _ := env.pairwiseSubsAny(t, pub, spub, b1)
	if subA1 != uiA1 {
		t.Fatalf("ID token sub %q, userinfo sub %q", subA1, uiA1)
	}
	if subA1 != subA2 {
		t.Fatalf("one sector, two subs: %q %q", subA1, subA2)
	}
	if subA1 == subB || subA1 == "alice" || subB == "alice" {
		t.Fatalf("sectors a and b: %q %q", subA1, subB)
	}
	if subPub != "alice" {
		t.Fatalf("public client sub %q", subPub)
	}
	_, doc := doReq(t, "GET", env.srv.URL+"/.well-known/openid-configuration", nil, nil)
	if got, _ := json.Marshal(doc["subject_types_supported"]); string(got) != `["public","pairwise"]` {
		t.Fatalf("subject_types_supported %s", got)
	}
}

// pairwiseSubsAny is pairwiseSubs for any redirect URI.
func (env *testEnv) pairwiseSubsAny(t *testing.T, id, secret, redirect string) (string, string) {
	t.Helper()
	pg := env.browser().get(authURL(env, map[string]string{"client_id": id, "response_type": "code", "scope": "openid", "redirect_uri": redirect, "state": "s"}))
	if strings.Contains(pg.body, `name="allow"`) {
		pg = env.browser().consent(pg, true)
	}
	loc, err := url.Parse(pg.header.Get("Location"))
	if err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("no code for %s: %d %s %s", redirect, pg.status, pg.header.Get("Location"), pg.body)
	}
	status, tok, _ := env.tokenRequest(id, secret, url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")}, "redirect_uri": {redirect}})
	if status != 200 {
		t.Fatalf("exchange: %d %v", status, tok)
	}
	provider, err := oidc.NewProvider(t.Context(), env.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	idt, err := provider.Verifier(&oidc.Config{ClientID: id}).Verify(t.Context(), tok["id_token"].(string))
	if err != nil {
		t.Fatalf("go-oidc: %v", err)
	}
	req, _ := http.NewRequestWithContext(t.Context(), "GET", env.srv.URL+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+tok["access_token"].(string))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ui map[string]any
	json.NewDecoder(resp.Body).Decode(&ui)
	return idt.Subject, ui["sub"].(string)
}

// TestPairwiseRegistration: the rules of OIDC Core §8.1 at /register,
// negative cases first, SSRF included.
func TestPairwiseRegistration(t *testing.T) {
	good, fetches := sectorServer(t, "https://a.example/cb", "https://b.example/cb")
	bad, _ := sectorServer(t, "https://a.example/cb")
	for _, c := range []struct {
		name  string
		allow bool
		meta  map[string]any
		ok    bool
	}{
		{"several hosts without a sector", true, map[string]any{"redirect_uris": []string{"https://a.example/cb", "https://b.example/cb"}, "subject_type": "pairwise"}, false},
		{"sector not https", true, map[string]any{"redirect_uris": []string{"https://a.example/cb"}, "subject_type": "pairwise", "sector_identifier_uri": "http://a.example/s.json"}, false},
		{"sector not listing every redirect URI", true, map[string]any{"redirect_uris": []string{"https://a.example/cb", "https://b.example/cb"}, "subject_type": "pairwise", "sector_identifier_uri": bad.URL}, false},
		{"sector on loopback without the switch", false, map[string]any{"redirect_uris": []string{"https://a.example/cb"}, "subject_type": "pairwise", "sector_identifier_uri": "https://127.0.0.1:1/s.json"}, false},
		{"sector on a link-local address", false, map[string]any{"redirect_uris": []string{"https://a.example/cb"}, "subject_type": "pairwise", "sector_identifier_uri": "https://169.254.169.254/s.json"}, false},
		{"sector for a public subject type", true, map[string]any{"redirect_uris": []string{"https://a.example/cb"}, "sector_identifier_uri": "https://a.example/s.json"}, false},
		{"sector listing every redirect URI", true, map[string]any{"redirect_uris": []string{"https://a.example/cb", "https://b.example/cb"}, "subject_type": "pairwise", "sector_identifier_uri": good.URL}, true},
		{"sector on loopback, switch off", false, map[string]any{"redirect_uris": []string{"https://a.example/cb", "https://b.example/cb"}, "subject_type": "pairwise", "sector_identifier_uri": good.URL}, false},
		{"one host, no sector", true, map[string]any{"redirect_uris": []string{"https://a.example/cb", "https://a.example/cb2"}, "subject_type": "pairwise"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := newTestEnv(t, func(cfg *op.Config) { cfg.Registration.Open = true; cfg.InsecureAllowPrivateTargets = c.allow })
			resp, body := regRequest(t, "POST", env.srv.URL+"/register", "", c.meta)
			if c.ok != (resp.StatusCode == 201) {
				t.Fatalf("%d %v", resp.StatusCode, body)
			}
			if !c.ok && body["error"] != "invalid_client_metadata" {
				t.Fatalf("error %v", body)
			}
		})
	}
	if fetches.Load() != 1 {
		t.Fatalf("the sector document was fetched %d times, want once (never without the switch)", fetches.Load())
	}
}
