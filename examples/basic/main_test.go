package main

import (
	"context"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/oidcd/oidcd/internal/logbuf"
)

// TestExample runs the example on a port the kernel picks, signs in as the
// demo user through go-oidc and x/oauth2, and stops it: run returns once the
// HTTP server and the provider's background work have ended.
func TestExample(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out logbuf.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, ln, &out) }()

	issuer := "http://" + ln.Addr().String() + "/openid"
	var provider *oidc.Provider
	deadline := time.Now().Add(10 * time.Second)
	for provider == nil {
		if provider, err = oidc.NewProvider(ctx, issuer); err != nil {
			if time.Now().After(deadline) {
				t.Fatalf("discovery: %v", err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	field := func(name string) string {
		m := regexp.MustCompile(name + `:\s+(\S+)`).FindStringSubmatch(out.String())
		if m == nil {
			t.Fatalf("%s not printed:\n%s", name, out.String())
		}
		return m[1]
	}
	rp := oauth2.Config{
		ClientID: field("client_id"), ClientSecret: field("client_secret"), Endpoint: provider.Endpoint(),
		RedirectURL: field("redirect_uri"), Scopes: []string{oidc.ScopeOpenID, "profile", "email"},
	}

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if req.URL.Host != ln.Addr().String() {
			return http.ErrUseLastResponse // the relying party's callback
		}
		return nil
	}}
	resp, err := browser.Get(rp.AuthCodeURL("st", oidc.Nonce("n")))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Request.URL.Path != "/login" {
		t.Fatalf("not sent to the login page: %s", resp.Request.URL)
	}
	resp, err = browser.PostForm(resp.Request.URL.String(), url.Values{
		"username": {"demo"}, "password": {"demo"}, "next": {resp.Request.URL.Query().Get("next")},
	})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cb, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(cb.String(), rp.RedirectURL) || cb.Query().Get("state") != "st" {
		t.Fatalf("no redirect to the relying party: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	tok, err := rp.Exchange(ctx, cb.Query().Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	idt, err := provider.Verifier(&oidc.Config{ClientID: rp.ClientID}).Verify(ctx, tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	var claims struct{ Name string }
	idt.Claims(&claims)
	ui, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatal(err)
	}
	ui.Claims(&claims)
	if idt.Subject != "demo" || idt.Nonce != "n" || claims.Name != "Demo User" {
		t.Fatalf("sub %q nonce %q name %q", idt.Subject, idt.Nonce, claims.Name)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run after shutdown: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after its context ended")
	}
}
