package op_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/oidcd/oidcd/keys"
	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage"
)

// heldSealer holds the sealing of signing keys until release is closed: a
// first key that takes as long as the test wants to make.
type heldSealer struct {
	keys.Sealer
	release chan struct{}
}

func (h *heldSealer) Seal(plaintext, aad []byte) ([]byte, error) {
	if strings.HasPrefix(string(aad), "signing-key") {
		<-h.release
	}
	return h.Sealer.Seal(plaintext, aad)
}

// With FirstKeyInBackground, New returns before the first key exists; the
// provider is not ready and JWKS waits until the key is stored, then lists
// it, and a relying party verifies an ID token signed with it.
func TestFirstKeyInBackground(t *testing.T) {
	held := &heldSealer{release: make(chan struct{})}
	var mu sync.Mutex
	var events []op.Event
	env := newTestEnv(t, func(c *op.Config) {
		held.Sealer = c.Sealer
		c.Sealer = held
		c.FirstKeyInBackground = true
		c.Hooks.Event = func(_ context.Context, e op.Event) { mu.Lock(); events = append(events, e); mu.Unlock() }
	})
	env.sealer = held.Sealer
	if err := env.p.Ready(t.Context()); err == nil || !strings.Contains(err.Error(), "being made") {
		t.Fatalf("Ready before the first key was made: %v, want an error saying it is being made", err)
	}
	resp, err := http.Get(env.srv.URL + "/.well-known/openid-configuration")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("discovery while the key is made: %v %v", resp, err)
	}
	resp.Body.Close()

	jwks := make(chan string, 1)
	go func() {
		resp, err := http.Get(env.srv.URL + "/jwks")
		if err != nil {
			jwks <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		jwks <- string(b)
	}()
	select {
	case got := <-jwks:
		t.Fatalf("JWKS answered before the first key existed: %s", got)
	case <-time.After(200 * time.Millisecond):
	}
	close(held.release)
	select {
	case got := <-jwks:
		if !strings.Contains(got, `"RS256"`) {
			t.Fatalf("JWKS after the first key: %s", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("JWKS still waits after the key was made")
	}
	if err := env.p.Ready(t.Context()); err != nil {
		t.Errorf("not ready after the first key: %v", err)
	}
	mu.Lock()
	seen := append([]op.Event(nil), events...)
	mu.Unlock()
	if len(seen) != 1 || seen[0].Kind != op.EventKeyCreated {
		t.Errorf("events %+v, want one %s", seen, op.EventKeyCreated)
	}

	id, secret := env.client(storage.Client{})
	relying := env.rp(id, secret)
	tok, err := relying.oauth.Exchange(t.Context(), env.browser().authorize(relying.oauth.AuthCodeURL("s", oidc.Nonce("n"))).Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if _, err := relying.verifier.Verify(t.Context(), raw); err != nil {
		t.Fatalf("the relying party does not verify the ID token: %v", err)
	}
}
