package op_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage"
)

// TestTokenInfoSameFromBothMiddlewares: Provider.Protect and
// Introspector.Protect describe one token identically — Subject through
// the Subject hook (a pairwise one here), the client id as the subject of a
// client-credentials token, the same scope and expiry — except UserID,
// which only the in-process middleware knows.
func TestTokenInfoSameFromBothMiddlewares(t *testing.T) {
	pairwise := func(_ context.Context, a op.SubjectArgs) (string, error) {
		return "pw-" + a.UserID + "-" + a.Client.ID, nil
	}
	env := newTestEnv(t, func(c *op.Config) { c.Hooks.Subject = pairwise })
	id, secret := env.client(storage.Client{Scope: []string{"openid", "profile", "email", "read_books"}})
	rs, rsSecret := env.client(storage.Client{Name: "Books API", Scope: []string{"token_introspection", id}})

	var mu sync.Mutex
	var seen *op.TokenInfo
	record := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ti, ok := op.TokenInfoFrom(r.Context())
		if !ok {
			t.Error("no TokenInfo in the request context")
		}
		mu.Lock()
		seen = ti
		mu.Unlock()
	})
	inProcess := httptest.NewServer(env.p.Protect()(record))
	defer inProcess.Close()
	remote := &op.Introspector{Endpoint: env.srv.URL + "/introspect", ClientID: rs, ClientSecret: rsSecret, CacheTTL: -1}
	remoteSrv := httptest.NewServer(remote.Protect()(record))
	defer remoteSrv.Close()
	infoFrom := func(srv *httptest.Server, token string) op.TokenInfo {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), "GET", srv.URL, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		mu.Lock()
		defer mu.Unlock()
		return *seen
	}

	relying := env.rp(id, secret)
	userTok, err := relying.oauth.Exchange(t.Context(), env.browser().authorize(relying.oauth.AuthCodeURL("s", oidc.Nonce("n"))).Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	clientTok, err := (&clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: env.srv.URL + "/token", Scopes: []string{"read_books"}}).Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name, token       string
		subject, userID   string
		clientCredentials bool
	}{
		{"user token", userTok.AccessToken, "pw-alice-" + id, "alice", false},
		{"client-credentials token", clientTok.AccessToken, id, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			local, rem := infoFrom(inProcess, tc.token), infoFrom(remoteSrv, tc.token)
			if local.Subject != tc.subject || local.UserID != tc.userID || local.ClientCredentials != tc.clientCredentials || local.ClientID != id {
				t.Errorf("Provider.Protect: %+v", local)
			}
			if rem.UserID != "" {
				t.Errorf("Introspector.Protect claims to know the user id: %+v", rem)
			}
			local.UserID = ""
			if !reflect.DeepEqual(local, rem) {
				t.Errorf("the middlewares disagree:\n Protect      %+v\n Introspector %+v", local, rem)
			}
			if local.ExpiresAt.IsZero() || local.ExpiresAt.Location() != time.UTC || local.ExpiresAt.Nanosecond() != 0 {
				t.Errorf("ExpiresAt %v is not UTC seconds", local.ExpiresAt)
			}
		})
	}
}

// TestIntrospectorCheckErrors: Check never answers nil, nil — an inactive
// token is ErrTokenInactive (cached like an active answer), an unreachable
// provider ErrIntrospectionFailed.
func TestIntrospectorCheckErrors(t *testing.T) {
	env := newTestEnv(t, nil)
	id, secret := env.client(storage.Client{Scope: []string{"openid", "profile", "email", "read_books"}})
	rs, rsSecret := env.client(storage.Client{Name: "Books API", Scope: []string{"token_introspection", id}})
	in := &op.Introspector{Endpoint: env.srv.URL + "/introspect", ClientID: rs, ClientSecret: rsSecret}
	ctx := t.Context()

	info, err := in.Check(ctx, "not-a-token")
	if info != nil || !errors.Is(err, op.ErrTokenInactive) || errors.Is(err, op.ErrIntrospectionFailed) {
		t.Fatalf("unknown token: %v, %v", info, err)
	}
	tok, err := (&clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: env.srv.URL + "/token"}).Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	info, err = in.Check(ctx, tok.AccessToken)
	if err != nil || info == nil || info.ClientID != id {
		t.Fatalf("active token: %+v, %v", info, err)
	}
	info.Scope = append(info.Scope[:0], "tampered") // callers cannot change the cache
	if again, err := in.Check(ctx, tok.AccessToken); err != nil || again.Scope[0] == "tampered" {
		t.Fatalf("cached answer: %+v, %v", again, err)
	}

	wrongSecret := &op.Introspector{Endpoint: env.srv.URL + "/introspect", ClientID: rs, ClientSecret: "wrong"}
	if _, err := wrongSecret.Check(ctx, tok.AccessToken); !errors.Is(err, op.ErrIntrospectionFailed) || errors.Is(err, op.ErrTokenInactive) {
		t.Fatalf("refused introspection: %v", err)
	}
	// A provider that drops the connection: a network error.
	hangup := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	defer hangup.Close()
	down := &op.Introspector{Endpoint: hangup.URL + "/introspect", ClientID: rs, ClientSecret: rsSecret}
	if _, err := down.Check(ctx, tok.AccessToken); !errors.Is(err, op.ErrIntrospectionFailed) {
		t.Fatalf("unreachable provider: %v", err)
	}
}
