package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// serve mounts the web console: the admin signs in and reaches /admin/
// and /account; with OIDCD_ADMIN_ENABLE=false /admin/ is gone and
// /account stays.
func TestServeConsole(t *testing.T) {
	get := func(c *http.Client, u string) (int, string) {
		t.Helper()
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	signIn := func(s *running) *http.Client {
		t.Helper()
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar}
		_, body := get(c, s.url+"/login")
		m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("login page:\n%s", body)
		}
		resp, err := c.PostForm(s.url+"/login", url.Values{"csrf_token": {m[1]}, "username": {"admin"}, "password": {"hunter2hunter2"}, "next": {"/account"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/account" {
			t.Fatalf("login: %d at %s", resp.StatusCode, resp.Request.URL)
		}
		return c
	}
	for _, tc := range []struct {
		name  string
		env   []string
		admin int
	}{
		{"default", nil, http.StatusOK},
		{"admin disabled", []string{"OIDCD_ADMIN_ENABLE=false"}, http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := serve(t, t.TempDir(), append([]string{"OIDCD_ADMIN_PASSWORD=hunter2hunter2"}, tc.env...))
			c := signIn(s)
			if code, body := get(c, s.url+"/account"); code != http.StatusOK || !strings.Contains(body, "Your account") {
				t.Fatalf("/account: %d", code)
			}
			if code, _ := get(c, s.url+"/admin/"); code != tc.admin {
				t.Fatalf("/admin/: %d, want %d", code, tc.admin)
			}
		})
	}
}
