package op_test

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/oidcd/oidcd/keys"
	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage"
)

// kmsSealer stands for a host's Sealer whose key lives in a KMS: every Seal
// and Open is a call that is recorded, and may fail.
type kmsSealer struct {
	keys.Sealer // the "remote" key
	mu          sync.Mutex
	calls       []string
	fail        error
}

func (k *kmsSealer) record(op string, aad []byte) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.calls = append(k.calls, op+" "+strings.SplitN(string(aad), ":", 2)[0])
	return k.fail
}

func (k *kmsSealer) Seal(plaintext, aad []byte) ([]byte, error) {
	if err := k.record("seal", aad); err != nil {
		return nil, err
	}
	return k.Sealer.Seal(plaintext, aad)
}

func (k *kmsSealer) Open(sealed, aad []byte) ([]byte, error) {
	if err := k.record("open", aad); err != nil {
		return nil, err
	}
	return k.Sealer.Open(sealed, aad)
}

// TestCustomSealer: the provider works with any keys.Sealer — its first
// signing key and a client's secret are sealed through it, and opened
// through it when the key set loads and an HS256 ID token is signed — and a
// failing Sealer surfaces as an error, never as an unsealed secret.
func TestCustomSealer(t *testing.T) {
	kms := &kmsSealer{}
	env := newTestEnv(t, func(c *op.Config) {
		kms.Sealer = c.Sealer
		c.Sealer = kms
	})
	env.sealer = kms
	id, secret := env.client(storage.Client{JWTAlg: keys.HS256})
	relying := env.rp(id, secret)
	tok, err := relying.oauth.Exchange(t.Context(), env.browser().authorize(relying.oauth.AuthCodeURL("s", oidc.Nonce("n"))).Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	if raw, _ := tok.Extra("id_token").(string); raw == "" {
		t.Fatal("no ID token")
	}
	kms.mu.Lock()
	calls := strings.Join(kms.calls, ", ")
	kms.mu.Unlock()
	for _, want := range []string{"seal signing-key", "open signing-key", "seal client-secret", "open client-secret"} {
		if !strings.Contains(calls, want) {
			t.Errorf("the Sealer was not asked to %s; calls: %s", want, calls)
		}
	}

	kms.fail = errors.New("kms: unavailable")
	if _, _, err := op.NewClient(storage.Client{Name: "x", RedirectURIs: []string{rpCallback}}, kms, env.clock.Now(), nil); !errors.Is(err, kms.fail) {
		t.Fatalf("NewClient with a failing Sealer = %v, want its error", err)
	}
}
