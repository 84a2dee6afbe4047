package console

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Every console form needs a CSRF token of the session's own, used once,
// not expired, not from another site: otherwise 403 and nothing changes.
func TestCSRFRefused(t *testing.T) {
	e := newEnv(t, nil)
	e.addUser(t, "root", "root-password", true)
	c, other := e.browser(t), e.browser(t)
	e.login(t, c, "root", "root-password")
	e.login(t, other, "root", "root-password")
	otherTok := e.token(t, other, "/admin/users/new")

	create := func(name, tok string, header http.Header) response {
		form := url.Values{"username": {name}, "password": {"long-enough-password"}}
		if tok != "" {
			form.Set("csrf_token", tok)
		}
		req, _ := http.NewRequestWithContext(t.Context(), "POST", e.ts.URL+"/admin/users/new", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range header {
			req.Header[k] = v
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return response{resp, string(b)}
	}
	exists := func(name string) bool {
		_, err := e.store.UserByUsername(t.Context(), name)
		return err == nil
	}

	good := e.token(t, c, "/admin/users/new")
	r := create("first", good, nil)
	if r.StatusCode != http.StatusSeeOther || !exists("first") {
		t.Fatalf("a good token: %d\n%s", r.StatusCode, r.body)
	}
	tests := []struct {
		name   string
		token  func() string
		header http.Header
	}{
		{"missing", func() string { return "" }, nil},
		{"garbage", func() string { return "not-a-token" }, nil},
		{"replayed", func() string { return good }, nil},
		{"another session's", func() string { return otherTok }, nil},
		{"MAC of another token", func() string {
			a, b := e.token(t, c, "/admin/users/new"), e.token(t, c, "/admin/users/new")
			return a[:strings.Index(a, ".")] + b[strings.Index(b, "."):]
		}, nil},
		{"cross-site post", func() string { return e.token(t, c, "/admin/users/new") }, http.Header{"Sec-Fetch-Site": {"cross-site"}}},
		{"expired", func() string {
			tok := e.token(t, c, "/admin/users/new")
			e.clock.Add(csrfMaxAge + time.Minute)
			e.login(t, c, "root", "root-password") // the admin window is fresh again; the token is not
			return tok
		}, nil},
	}
	for i, tc := range tests {
		name := "user" + string(rune('a'+i))
		r := create(name, tc.token(), tc.header)
		wantStatus(t, tc.name, r, http.StatusForbidden)
		if exists(name) {
			t.Errorf("%s: the user was created", tc.name)
		}
		if !strings.Contains(r.body, "This form has expired") {
			t.Errorf("%s: the page does not say why:\n%s", tc.name, r.body)
		}
	}
	// A token from before signing in again (a new session) is refused.
	old := e.token(t, c, "/admin/users/new")
	e.login(t, c, "root", "root-password")
	wantStatus(t, "token of the previous session", create("userz", old, nil), http.StatusForbidden)
	if !strings.Contains(e.logs.String(), "bad CSRF token") {
		t.Error("refusals are not logged")
	}

	// The account page's forms are guarded the same way.
	before, _ := e.store.UserByUsername(t.Context(), "root")
	r = do(t, c, "POST", e.ts.URL+"/account/password", url.Values{"current_password": {"root-password"}, "new_password": {"x-new-password"}, "confirm_password": {"x-new-password"}})
	wantStatus(t, "account form without a token", r, http.StatusForbidden)
	after, _ := e.store.UserByUsername(t.Context(), "root")
	if before.PasswordHash != after.PasswordHash {
		t.Error("the password changed without a CSRF token")
	}
}

// A form token is accepted once, however many requests race with it (the
// record is in the shared database, so this holds across nodes).
func TestCSRFTokenUsedOnce(t *testing.T) { testCSRFTokenUsedOnce(t, newEnv(t, nil)) }

// The same on PostgreSQL, the token raced on two nodes.
func TestCSRFTokenUsedOncePostgres(t *testing.T) { testCSRFTokenUsedOnce(t, newEnvPostgres(t, nil)) }

func testCSRFTokenUsedOnce(t *testing.T, e *env) {
	other := e.node(t)
	e.addUser(t, "root", "root-password", true)
	c := e.browser(t)
	e.login(t, c, "root", "root-password")
	tok := e.token(t, c, "/account")
	sess, err := e.srv.Session(requestWith(t, e, c))
	if err != nil || sess == nil {
		t.Fatalf("session: %v %v", sess, err)
	}
	var ok atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		con := e.console
		if i%2 == 1 {
			con = other.console
		}
		wg.Go(func() {
			if con.useCSRF(t.Context(), sess, tok) {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 {
		t.Fatalf("the token was accepted %d times", ok.Load())
	}
}

// requestWith is a request carrying c's cookies.
func requestWith(t *testing.T, e *env, c *http.Client) *http.Request {
	req, _ := http.NewRequestWithContext(t.Context(), "GET", e.ts.URL, nil)
	u, _ := url.Parse(e.ts.URL)
	for _, ck := range c.Jar.Cookies(u) {
		req.AddCookie(ck)
	}
	return req
}
