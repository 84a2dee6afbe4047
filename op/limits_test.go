package op_test

import (
	"database/sql"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	_ "modernc.org/sqlite" // the raw SQLite file, to see what is at rest

	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage"
)

// TestPlainChallengeNotStored: a plain PKCE challenge is the verifier; the
// code row keeps only its digest, and the flow still works (SECURITY B6, C1).
func TestPlainChallengeNotStored(t *testing.T) {
	env := newSQLiteTestEnv(t, nil)
	id, secret := env.client(storage.Client{})
	relying := env.rp(id, secret)
	verifier := oauth2.GenerateVerifier()
	got := env.browser().authorize(relying.oauth.AuthCodeURL("s",
		oauth2.SetAuthURLParam("code_challenge", verifier), oauth2.SetAuthURLParam("code_challenge_method", "plain")))
	db, err := sql.Open("sqlite", env.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var stored, method string
	if err := db.QueryRowContext(t.Context(), `SELECT code_challenge, code_challenge_method FROM codes`).Scan(&stored, &method); err != nil {
		t.Fatal(err)
	}
	if stored == verifier || strings.Contains(stored, verifier) || method != "plain" {
		t.Fatalf("stored challenge %q (method %q) is the verifier", stored, method)
	}
	// A wrong verifier fails, the right one works.
	if _, err := relying.oauth.Exchange(t.Context(), got.Get("code"), oauth2.VerifierOption(stored)); retrieveErrorCode(t, err) != "invalid_grant" {
		t.Fatalf("the stored digest used as verifier: %v", err)
	}
	got = env.browser().authorize(relying.oauth.AuthCodeURL("s",
		oauth2.SetAuthURLParam("code_challenge", verifier), oauth2.SetAuthURLParam("code_challenge_method", "plain")))
	if _, err := relying.oauth.Exchange(t.Context(), got.Get("code"), oauth2.VerifierOption(verifier)); err != nil {
		t.Fatalf("plain PKCE: %v", err)
	}
}

// timedGet sends one request and returns its status and duration.
func timedDo(t *testing.T, req *http.Request) (int, time.Duration) {
	t.Helper()
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, time.Since(start)
}

// TestHugeScopeAnswersFast: the audit's request, 120,000 scope words with a
// valid client and redirect URI, took 12.8 s of CPU; it must be refused with
// 400 at once, by GET and by POST, at /authorize and /token (SECURITY L6;
// docs/security.md "Input limits").
func TestHugeScopeAnswersFast(t *testing.T) {
	env := newTestEnv(t, nil)
	id, secret := env.client(storage.Client{})
	words := make([]string, 120000)
	for i := range words {
		words[i] = strconv.FormatInt(int64(i), 36) // distinct: the old de-duplication's worst case
	}
	scope := "openid " + strings.Join(words, " ")
	q := url.Values{"client_id": {id}, "redirect_uri": {rpCallback}, "response_type": {"code"}, "scope": {scope}, "state": {"s"}}
	get, _ := http.NewRequestWithContext(t.Context(), "GET", env.srv.URL+"/authorize?"+q.Encode(), nil)
	post, _ := http.NewRequestWithContext(t.Context(), "POST", env.srv.URL+"/authorize", strings.NewReader(q.Encode()))
	post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	tq := url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}
	tok, _ := http.NewRequestWithContext(t.Context(), "POST", env.srv.URL+"/token", strings.NewReader(tq.Encode()))
	tok.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	tok.SetBasicAuth(id, secret)
	for name, req := range map[string]*http.Request{"GET /authorize": get, "POST /authorize": post, "POST /token": tok} {
		st, d := timedDo(t, req)
		if st != http.StatusBadRequest {
			t.Errorf("%s with 120,000 scopes: status %d, want 400", name, st)
		}
		// Sending ~1 MB over loopback is part of the time; the old parser
		// needed seconds.
		if d > 500*time.Millisecond {
			t.Errorf("%s with 120,000 scopes took %v", name, d)
		}
	}
}

// TestInputLimits: each documented maximum is enforced with a 400 in the
// protocol's format, and requests just under it still work.
func TestInputLimits(t *testing.T) {
	env := newTestEnv(t, nil)
	id, secret := env.client(storage.Client{})
	base := func() url.Values {
		return url.Values{"client_id": {id}, "redirect_uri": {rpCallback}, "response_type": {"code"}, "scope": {"openid"}, "state": {"s"}}
	}
	authorize := func(q url.Values) (int, string) {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", env.srv.URL+"/authorize?"+q.Encode(), nil)
		c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Location")
	}
	deep := strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40)
	manyClaims := map[string]string{}
	for i := range op.MaxClaimsRequested + 1 {
		manyClaims["c"+strings.Repeat("x", i)] = "null"
	}
	var mc []string
	for k, v := range manyClaims {
		mc = append(mc, `"`+k+`":`+v)
	}
	cases := []struct {
		name string
		set  func(url.Values)
	}{
		{"query too long", func(q url.Values) { q.Set("x", strings.Repeat("a", op.MaxQueryBytes)) }},
		{"state too long", func(q url.Values) { q.Set("state", strings.Repeat("a", op.MaxParamBytes+1)) }},
		{"too many scopes", func(q url.Values) { q.Set("scope", "openid"+strings.Repeat(" profile", op.MaxScopes)) }},
		{"too many parameters", func(q url.Values) {
			for i := range op.MaxParams {
				q.Set("p"+strings.Repeat("x", i), "1")
			}
		}},
		{"claims too deep", func(q url.Values) { q.Set("claims", `{"userinfo":{"email":{"value":`+deep+`}}}`) }},
		{"claims too long", func(q url.Values) {
			q.Set("claims", `{"userinfo":{"email":{"value":"`+strings.Repeat("a", op.MaxClaimsBytes)+`"}}}`)
		}},
		{"too many claims", func(q url.Values) { q.Set("claims", `{"userinfo":{`+strings.Join(mc, ",")+`}}`) }},
	}
	for _, c := range cases {
		q := base()
		c.set(q)
		st, loc := authorize(q)
		// Before the client is trusted (query size) the answer is a 400
		// page; after, an invalid_request redirect with state.
		if st == http.StatusBadRequest {
			continue
		}
		u, err := url.Parse(loc)
		if st != http.StatusFound || err != nil || u.Query().Get("error") != "invalid_request" || u.Query().Get("state") != q.Get("state") {
			t.Errorf("%s: status %d, Location %.120q; want 400 or an invalid_request redirect", c.name, st, loc)
		}
	}
	// Just under the limits is fine (the login redirect).
	q := base()
	q.Set("scope", "openid"+strings.Repeat(" profile", op.MaxScopes-2))
	q.Set("state", strings.Repeat("a", op.MaxParamBytes))
	if st, loc := authorize(q); st != http.StatusFound || !strings.Contains(loc, "/login") {
		t.Errorf("a request at the limits: %d %.120q", st, loc)
	}
	// Token endpoint: the body, each parameter.
	for name, form := range map[string]url.Values{
		"body too long":  {"grant_type": {"client_credentials"}, "x": {strings.Repeat("a", op.MaxFormBytes)}},
		"param too long": {"grant_type": {"client_credentials"}, "scope": {strings.Repeat("a", op.MaxParamBytes+1)}},
	} {
		st, body, _ := env.tokenRequest(id, secret, form)
		if st != http.StatusBadRequest || body["error"] != "invalid_request" {
			t.Errorf("token, %s: %d %v", name, st, body)
		}
	}
}
