package op_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"github.com/oidcd/oidcd/keys"
	"github.com/oidcd/oidcd/storage"
	"golang.org/x/oauth2"
)

// rp is a relying party built on go-oidc and x/oauth2.
type rp struct {
	provider *oidc.Provider
	oauth    oauth2.Config
	verifier *oidc.IDTokenVerifier
}

func (env *testEnv) rp(clientID, secret string, scopes ...string) *rp {
	env.t.Helper()
	p, err := oidc.NewProvider(env.t.Context(), env.srv.URL)
	if err != nil {
		env.t.Fatal(err)
	}
	if len(scopes) == 0 {
		scopes = []string{oidc.ScopeOpenID, "profile", "email"}
	}
	return &rp{
		provider: p,
		oauth: oauth2.Config{
			ClientID: clientID, ClientSecret: secret, Endpoint: p.Endpoint(),
			RedirectURL: rpCallback, Scopes: scopes,
		},
		verifier: p.Verifier(&oidc.Config{ClientID: clientID, SupportedSigningAlgs: []string{"RS256", "ES256", "EdDSA"}, Now: env.clock.Now}),
	}
}

func retrieveErrorCode(t *testing.T, err error) string {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("want *oauth2.RetrieveError, got %v", err)
	}
	return re.ErrorCode
}

func TestCodeFlowGoOIDC(t *testing.T) {
	for _, alg := range []string{keys.RS256, keys.ES256, keys.EdDSA} {
		t.Run(alg, func(t *testing.T) {
			env := newTestEnv(t, nil)
			if alg != keys.RS256 {
				env.addKey(alg)
			}
			id, secret := env.client(storage.Client{JWTAlg: alg, RequireConsent: true})
			relying := env.rp(id, secret)
			ctx := t.Context()
			b := env.browser()

			got := b.authorize(relying.oauth.AuthCodeURL("st-1", oidc.Nonce("n-1")))
			if got.Get("state") != "st-1" || got.Get("iss") != env.srv.URL {
				t.Fatalf("state/iss not echoed: %v", got)
			}
			tok, err := relying.oauth.Exchange(ctx, got.Get("code"))
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := tok.Extra("id_token").(string)
			idt, err := relying.verifier.Verify(ctx, raw)
			if err != nil {
				t.Fatal(err)
			}
			if idt.Nonce != "n-1" || idt.Subject != "alice" {
				t.Fatalf("nonce %q sub %q", idt.Nonce, idt.Subject)
			}
			if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
				t.Fatalf("at_hash: %v", err)
			}
			var extra struct {
				AuthTime int64 `json:"auth_time"`
				Kid      string
			}
			idt.Claims(&extra)
			if extra.AuthTime == 0 {
				t.Fatal("auth_time missing")
			}

			ui, err := relying.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
			if err != nil {
				t.Fatal(err)
			}
			var claims map[string]any
			ui.Claims(&claims)
			if ui.Subject != idt.Subject || claims["name"] != "Alice Liddell" || claims["email"] != "alice@example.com" {
				t.Fatalf("userinfo: %v", claims)
			}
			if _, ok := claims["phone_number"]; ok {
				t.Fatal("phone released without the phone scope")
			}

			// Refresh: new tokens, same subject; the old access token stops working.
			old := tok.AccessToken
			tok.Expiry = time.Now().Add(-time.Minute)
			fresh, err := relying.oauth.TokenSource(ctx, tok).Token()
			if err != nil {
				t.Fatal(err)
			}
			if fresh.AccessToken == old || fresh.RefreshToken == tok.RefreshToken {
				t.Fatal("refresh did not rotate the tokens")
			}
			idt2, err := relying.verifier.Verify(ctx, fresh.Extra("id_token").(string))
			if err != nil {
				t.Fatal(err)
			}
			if idt2.Subject != idt.Subject || !idt2.IssuedAt.After(time.Time{}) {
				t.Fatal("refreshed id token differs in sub")
			}
			if st := env.userinfoStatus(old); st != http.StatusUnauthorized {
				t.Fatalf("old access token after refresh: status %d", st)
			}
			if st := env.userinfoStatus(fresh.AccessToken); st != http.StatusOK {
				t.Fatalf("new access token: status %d", st)
			}
		})
	}
}

// addKey creates and loads a server key of another algorithm.
func (env *testEnv) addKey(alg string) {
	env.t.Helper()
	k, err := keys.Generate(alg)
	if err != nil {
		env.t.Fatal(err)
	}
	sk, err := keys.NewSigningKey(k, env.sealer, env.clock.Now())
	if err != nil {
		env.t.Fatal(err)
	}
	if err := env.store.CreateKey(env.t.Context(), sk); err != nil {
		env.t.Fatal(err)
	}
	if err := env.p.ReloadKeys(env.t.Context()); err != nil {
		env.t.Fatal(err)
	}
}

func (env *testEnv) userinfoStatus(token string) int {
	req, _ := http.NewRequestWithContext(env.t.Context(), http.MethodGet, env.srv.URL+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		env.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestCodeFlowHS256(t *testing.T) {
	env := newTestEnv(t, nil)
	id, secret := env.client(storage.Client{JWTAlg: keys.HS256})
	relying := env.rp(id, secret)
	got := env.browser().authorize(relying.oauth.AuthCodeURL("s", oidc.Nonce("n")))
	tok, err := relying.oauth.Exchange(t.Context(), got.Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	// go-oidc verifies only asymmetric signatures; go-jose checks HS256 with
	// the client secret as the key (OIDC Core §10.1).
	jws, err := jose.ParseSigned(tok.Extra("id_token").(string), []jose.SignatureAlgorithm{jose.HS256})
	if err != nil {
		t.Fatal(err)
	}
	payload, err := jws.Verify([]byte(secret))
	if err != nil {
		t.Fatalf("HS256 signature: %v", err)
	}
	var c map[string]any
	json.Unmarshal(payload, &c)
	if c["aud"] != id || c["iss"] != env.srv.URL || c["nonce"] != "n" || c["sub"] != "alice" {
		t.Fatalf("claims: %v", c)
	}
	if _, err := jws.Verify([]byte(secret + "x")); err == nil {
		t.Fatal("verified with a wrong secret")
	}
}

func TestCodeFlowPublicClientPKCE(t *testing.T) {
	env := newTestEnv(t, nil)
	id, _ := env.client(storage.Client{Type: storage.Public})
	relying := env.rp(id, "")
	ctx := t.Context()
	b := env.browser()

	// Without a challenge: refused (SECURITY C2), error delivered with state.
	got := callback(t, b.get(relying.oauth.AuthCodeURL("s0")))
	if got.Get("error") != "invalid_request" || got.Get("state") != "s0" {
		t.Fatalf("public client without PKCE: %v", got)
	}

	verifier := oauth2.GenerateVerifier()
	pg := b.get(relying.oauth.AuthCodeURL("s1", oauth2.S256ChallengeOption(verifier), oidc.Nonce("n")))
	if !strings.Contains(pg.body, `name="allow"`) {
		t.Fatal("public clients must always see the consent page")
	}
	got = callback(t, b.consent(pg, true))
	code := got.Get("code")

	// A wrong or missing verifier: invalid_grant (SECURITY C3).
	_, err := relying.oauth.Exchange(ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
	if c := retrieveErrorCode(t, err); c != "invalid_grant" {
		t.Fatalf("wrong verifier: %s", c)
	}
	_, err = relying.oauth.Exchange(ctx, code)
	if c := retrieveErrorCode(t, err); c != "invalid_grant" {
		t.Fatalf("missing verifier: %s", c)
	}
	// Failed attempts do not burn the code: the right verifier still redeems it.
	tok, err := relying.oauth.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := relying.verifier.Verify(ctx, tok.Extra("id_token").(string)); err != nil {
		t.Fatal(err)
	}
	// A public client may not present a secret.
	bad := relying.oauth
	bad.ClientSecret = "guess"
	got = b.authorize(relying.oauth.AuthCodeURL("s3", oauth2.S256ChallengeOption(verifier), oidc.Nonce("n")))
	_, err = bad.Exchange(ctx, got.Get("code"), oauth2.VerifierOption(verifier))
	if c := retrieveErrorCode(t, err); c != "invalid_client" {
		t.Fatalf("public client with secret: %s", c)
	}
}

func TestPKCEPlainAndDowngrade(t *testing.T) {
	env := newTestEnv(t, nil)
	id, secret := env.client(storage.Client{})
	relying := env.rp(id, secret)
	ctx := t.Context()
	b := env.browser()
	verifier := oauth2.GenerateVerifier()
	plain := []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("code_challenge", verifier), oauth2.SetAuthURLParam("code_challenge_method", "plain")}
	got := b.authorize(relying.oauth.AuthCodeURL("s", plain...))
	if _, err := relying.oauth.Exchange(ctx, got.Get("code"), oauth2.VerifierOption(verifier)); err != nil {
		t.Fatalf("plain PKCE: %v", err)
	}
	// SECURITY C4: a verifier for a code issued without a challenge.
	got = b.authorize(relying.oauth.AuthCodeURL("s"))
	_, err := relying.oauth.Exchange(ctx, got.Get("code"), oauth2.VerifierOption(verifier))
	if c := retrieveErrorCode(t, err); c != "invalid_grant" {
		t.Fatalf("downgrade: %s", c)
	}
	// SECURITY C5: unknown method.
	got = callback(t, b.get(relying.oauth.AuthCodeURL("s", oauth2.SetAuthURLParam("code_challenge", verifier), oauth2.SetAuthURLParam("code_challenge_method", "S512"))))
	if got.Get("error") != "invalid_request" {
		t.Fatalf("unknown method: %v", got)
	}
}

func TestCodeRedemptionErrors(t *testing.T) {
	env := newTestEnv(t, nil)
	id, secret := env.client(storage.Client{})
	otherID, otherSecret := env.client(storage.Client{Name: "Other"})
	relying := env.rp(id, secret)
	ctx := t.Context()
	b := env.browser()
	code := func() string { return b.authorize(relying.oauth.AuthCodeURL("s")).Get("code") }

	t.Run("replay revokes the tokens", func(t *testing.T) {
		c := code()
		tok, err := relying.oauth.Exchange(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		_, err = relying.oauth.Exchange(ctx, c)
		if ec := retrieveErrorCode(t, err); ec != "invalid_grant" {
			t.Fatalf("replay: %s", ec)
		}
		if st := env.userinfoStatus(tok.AccessToken); st != http.StatusUnauthorized {
			t.Fatalf("access token after replay: %d", st)
		}
		tok.Expiry = time.Now().Add(-time.Hour)
		_, err = relying.oauth.TokenSource(ctx, tok).Token()
		if ec := retrieveErrorCode(t, err); ec != "invalid_grant" {
			t.Fatalf("refresh after replay: %s", ec)
		}
	})
	t.Run("expired", func(t *testing.T) {
		c := code()
		env.clock.Add(10*time.Minute + time.Second)
		_, err := relying.oauth.Exchange(ctx, c)
		if ec := retrieveErrorCode(t, err); ec != "invalid_grant" {
			t.Fatalf("expired: %s", ec)
		}
	})
	t.Run("other client", func(t *testing.T) {
		other := relying.oauth
		other.ClientID, other.ClientSecret = otherID, otherSecret
		_, err := other.Exchange(ctx, code())
		if ec := retrieveErrorCode(t, err); ec != "invalid_grant" {
			t.Fatalf("other client: %s", ec)
		}
	})
	t.Run("other redirect_uri", func(t *testing.T) {
		other := relying.oauth
		other.RedirectURL = rpCallback + "/x"
		_, err := other.Exchange(ctx, code())
		if ec := retrieveErrorCode(t, err); ec != "invalid_grant" {
			t.Fatalf("redirect_uri: %s", ec)
		}
	})
	t.Run("wrong secret", func(t *testing.T) {
		other := relying.oauth
		other.ClientSecret = secret[:len(secret)-1]
		_, err := other.Exchange(ctx, code())
		if ec := retrieveErrorCode(t, err); ec != "invalid_client" {
			t.Fatalf("wrong secret: %s", ec)
		}
	})
	t.Run("garbage and truncated codes", func(t *testing.T) {
		c := code()
		for _, bad := range []string{"x", c[:len(c)-1], c + "A"} {
			_, err := relying.oauth.Exchange(ctx, bad)
			if ec := retrieveErrorCode(t, err); ec != "invalid_grant" {
				t.Fatalf("%q: %s", bad, ec)
			}
		}
		if _, err := relying.oauth.Exchange(ctx, c); err != nil {
			t.Fatalf("the real code after near misses: %v", err)
		}
	})
}

func TestConcurrentCodeRedemption(t *testing.T) {
	env := newTestEnv(t, nil)
	id, secret := env.client(storage.Client{})
	relying := env.rp(id, secret)
	c := env.browser().authorize(relying.oauth.AuthCodeURL("s")).Get("code")
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, invalid := 0, 0
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := relying.oauth.Exchange(context.Background(), c)
			mu.Lock()
			defer mu.Unlock()
			var re *oauth2.RetrieveError
			switch {
			case err == nil:
				wins++
			case errors.As(err, &re) && re.ErrorCode == "invalid_grant":
				invalid++
			default:
				t.Errorf("unexpected: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 || invalid != 49 {
		t.Fatalf("wins=%d invalid_grant=%d, want 1 and 49", wins, invalid)
	}
	// The 49 replays revoked what the winner got (SECURITY B4).
	st, body, _ := env.tokenRequest(id, secret, url.Values{"grant_type": {"authorization_code"}, "code": {c}, "redirect_uri": {rpCallback}})
	if st != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("after the race: %d %v", st, body)
	}
}

func TestRefreshTokenRules(t *testing.T) {
	env := newTestEnv(t, nil)
	id, secret := env.client(storage.Client{})
	otherID, otherSecret := env.client(storage.Client{Name: "Other"})
	relying := env.rp(id, secret)
	ctx := t.Context()
	b := env.browser()
	fresh := func() *oauth2.Token {
		tok, err := relying.oauth.Exchange(ctx, b.authorize(relying.oauth.AuthCodeURL("s")).Get("code"))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	refresh := func(cfg oauth2.Config, rt string) (*oauth2.Token, error) {
		cfg.Endpoint = relying.oauth.Endpoint
		return cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: rt, Expiry: time.Unix(1, 0)}).Token()
	}

	t.Run("reuse revokes the grant", func(t *testing.T) {
		tok := fresh()
		next, err := refresh(relying.oauth, tok.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		_, err = refresh(relying.oauth, tok.RefreshToken)
		if ec := retrieveErrorCode(t, err); ec != "invalid_grant" {
			t.Fatalf("reuse: %s", ec)
		}
		if _, err := refresh(relying.oauth, next.RefreshToken); err == nil {
			t.Fatal("the successor survived a reuse")
		}
		if st := env.userinfoStatus(next.AccessToken); st != http.StatusUnauthorized {
			t.Fatalf("access token after reuse: %d", st)
		}
	})
	t.Run("other client", func(t *testing.T) {
		tok := fresh()
		_, err := refresh(oauth2.Config{ClientID: otherID, ClientSecret: otherSecret}, tok.RefreshToken)
		if ec := retrieveErrorCode(t, err); ec != "invalid_grant" {
			t.Fatalf("other client: %s", ec)
		}
		if _, err := refresh(relying.oauth, tok.RefreshToken); err != nil {
			t.Fatalf("owner after foreign attempt: %v", err)
		}
	})
	t.Run("scope", func(t *testing.T) {
		tok := fresh()
		st, body, _ := env.tokenRequest(id, secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "scope": {"openid profile email phone"}})
		if st != http.StatusBadRequest || body["error"] != "invalid_scope" {
			t.Fatalf("widening: %d %v", st, body)
		}
		st, body, _ = env.tokenRequest(id, secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "scope": {"openid"}})
		if st != http.StatusOK || body["scope"] != "openid" {
			t.Fatalf("narrowing: %d %v", st, body)
		}
	})
	t.Run("expiry", func(t *testing.T) {
		tok := fresh()
		env.clock.Add(15 * 24 * time.Hour) // past the 14-day idle limit
		_, err := refresh(relying.oauth, tok.RefreshToken)
		if ec := retrieveErrorCode(t, err); ec != "invalid_grant" {
			t.Fatalf("idle-expired: %s", ec)
		}
	})
}

// tokenRequest posts form to the token endpoint with client_secret_basic
// (when id is set) and returns the status and decoded JSON body: for requests
// x/oauth2 has no call for.
func (env *testEnv) tokenRequest(id, secret string, form url.Values) (int, map[string]any, http.Header) {
	env.t.Helper()
	req, _ := http.NewRequestWithContext(env.t.Context(), http.MethodPost, env.srv.URL+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		env.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body, resp.Header
}
