package multinode_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/oidcd/oidcd/internal/pgtest"
)

// postForm posts form to path on node n with optional Basic credentials.
func postForm(t *testing.T, hc *http.Client, n *node, path string, cl *client, form url.Values) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, n.url+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if cl != nil {
		req.SetBasicAuth(url.QueryEscape(cl.ID), url.QueryEscape(cl.Secret))
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Errorf("%s %s: %v", n.name, path, err)
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var body map[string]any
	json.Unmarshal(b, &body)
	return resp.StatusCode, body
}

// TestPARAcrossNodes: a request pushed to node 1 is used on node 2, the
// login happens on node 3 and the code is issued on node 1; the used
// request_uri is refused on every node; a second pushed request loaded on
// three nodes at once after login yields exactly one code.
func TestPARAcrossNodes(t *testing.T) {
	c := startCluster(t, pgtest.NewDatabase(t, pgtest.URL()), 3)
	n1, n2, n3 := c.nodes[0], c.nodes[1], c.nodes[2]
	rp := c.newClient("--require-pushed-authorization-requests")
	hc := &http.Client{Timeout: 10 * time.Second}
	push := func(n *node) string {
		status, body := postForm(t, hc, n, "/par", &rp, url.Values{
			"response_type": {"code"}, "scope": {"openid"}, "redirect_uri": {callback}, "state": {"par"},
		})
		uri, _ := body["request_uri"].(string)
		if status != http.StatusCreated || uri == "" {
			t.Fatalf("push on %s: %d %v", n.name, status, body)
		}
		return uri
	}
	b := newBrowser(t)
	// Without PAR the client is refused.
	front := c.issuer + "/authorize?" + url.Values{"client_id": {rp.ID}, "response_type": {"code"}, "scope": {"openid"}, "redirect_uri": {callback}}.Encode()
	if q := callbackParams(t, b.do("GET", on(t, n2, front), nil).location(t)); q.Get("error") != "invalid_request" {
		t.Fatalf("non-pushed request: %v", q)
	}

	uri := push(n1)
	authURL := c.issuer + "/authorize?" + url.Values{"client_id": {rp.ID}, "request_uri": {uri}}.Encode()
	loginURL, _ := url.Parse(b.do("GET", on(t, n2, authURL), nil).location(t))
	back := b.login(n3, loginURL.Query().Get("next"))
	q := callbackParams(t, b.do("GET", on(t, n1, back), nil).location(t))
	if q.Get("code") == "" || q.Get("state") != "par" {
		t.Fatalf("pushed flow: %v", q)
	}
	for _, n := range c.nodes {
		if pg := b.do("GET", on(t, n, authURL), nil); pg.status != http.StatusBadRequest || !strings.Contains(pg.body, "invalid_request_uri") {
			t.Fatalf("used request_uri on %s: %d", n.name, pg.status)
		}
	}

	// The same browser (logged in) loads a new pushed request on all three
	// nodes at once: one code, two refusals.
	uri2 := push(n2)
	authURL2 := c.issuer + "/authorize?" + url.Values{"client_id": {rp.ID}, "request_uri": {uri2}}.Encode()
	var codes, refused atomic.Int32
	var wg sync.WaitGroup
	for _, n := range c.nodes {
		wg.Go(func() {
			pg := b.do("GET", on(t, n, authURL2), nil)
			switch {
			case pg.status == http.StatusFound && strings.Contains(pg.header.Get("Location"), "code="):
				codes.Add(1)
			case pg.status == http.StatusFound && strings.Contains(pg.header.Get("Location"), "error=invalid_request_uri"):
				refused.Add(1)
			case pg.status == http.StatusBadRequest && strings.Contains(pg.body, "invalid_request_uri"):
				refused.Add(1)
			default:
				t.Errorf("%s: %d %s %s", n.name, pg.status, pg.header.Get("Location"), pg.body)
			}
		})
	}
	wg.Wait()
	if codes.Load() != 1 || refused.Load() != 2 {
		t.Fatalf("%d codes and %d refusals for one request_uri on three nodes, want 1 and 2", codes.Load(), refused.Load())
	}
}

// TestClientAssertionReplayAcrossNodes: one private_key_jwt assertion sent
// to three nodes at once (30 requests) gets exactly one token.
func TestClientAssertionReplayAcrossNodes(t *testing.T) {
	c := startCluster(t, pgtest.NewDatabase(t, pgtest.URL()), 3)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "mn", Algorithm: "ES256", Use: "sig"}}})
	jwksFile := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(jwksFile, set, 0o600); err != nil {
		t.Fatal(err)
	}
	out := c.cli("clients", "create", "--name", "svc", "--redirect-uri", callback, "--scope", "openid",
		"--token-endpoint-auth-method", "private_key_jwt", "--jwks", jwksFile, "--json")
	var cl client
	if err := json.Unmarshal([]byte(out), &cl); err != nil || cl.ID == "" {
		t.Fatalf("clients create: %v\n%s", err, out)
	}
	signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", "mn"))
	now := time.Now()
	assertion, err := jwt.Signed(signer).Claims(map[string]any{
		"iss": cl.ID, "sub": cl.ID, "aud": c.issuer, "jti": "one-jti", "iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
	}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion": {assertion}}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 30}}
	var ok, refused atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 30 {
		n := c.nodes[i%3]
		wg.Go(func() {
			<-start
			switch status, body := postForm(t, hc, n, "/token", nil, form); {
			case status == http.StatusOK:
				ok.Add(1)
			case status == http.StatusUnauthorized && body["error"] == "invalid_client":
				refused.Add(1)
			default:
				t.Errorf("%s: %d %v", n.name, status, body)
			}
		})
	}
	close(start)
	wg.Wait()
	if ok.Load() != 1 || refused.Load() != 29 {
		t.Fatalf("%d successes and %d refusals for one assertion on three nodes, want 1 and 29", ok.Load(), refused.Load())
	}
}
