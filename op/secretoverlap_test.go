package op_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage"
)

// A rotated client secret's previous value is accepted while its overlap
// lasts, and refused after; the new secret works throughout.
func TestPreviousSecretDuringOverlap(t *testing.T) {
	env := newSQLiteTestEnv(t, func(c *op.Config) { c.ClientCacheTTL = -1 })
	ctx := t.Context()
	id, oldSecret := env.client(storage.Client{Scope: []string{"api"}, ClientMetadata: storage.ClientMetadata{GrantTypes: []string{"client_credentials"}}, ResponseTypes: []string{}})
	c, err := env.store.Client(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	prev := c.SecretHash
	newSecret, err := op.SetClientSecret(c, env.sealer)
	if err != nil {
		t.Fatal(err)
	}
	c.PreviousSecretHash, c.PreviousSecretExpiresAt = prev, env.clock.Now().Add(time.Minute)
	if err := env.store.UpdateClient(ctx, c); err != nil {
		t.Fatal(err)
	}
	token := func(secret string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, env.srv.URL+"/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(id, secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := token(oldSecret); got != http.StatusOK {
		t.Errorf("old secret during the overlap: %d", got)
	}
	if got := token(newSecret); got != http.StatusOK {
		t.Errorf("new secret: %d", got)
	}
	env.clock.Add(time.Minute)
	if got := token(oldSecret); got != http.StatusUnauthorized {
		t.Errorf("old secret after the overlap: %d, want 401", got)
	}
	if got := token(newSecret); got != http.StatusOK {
		t.Errorf("new secret after the overlap: %d", got)
	}
	if got := token("not-" + newSecret); got != http.StatusUnauthorized {
		t.Errorf("a wrong secret: %d", got)
	}
}
