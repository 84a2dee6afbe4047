package op_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/oidcd/oidcd/keys"
	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage"
	"github.com/oidcd/oidcd/storage/memstore"
)

// hostUsers is a host application's own user handling, reduced to what the
// provider asks: who is logged in on a request, and a user's claims. A real
// application reads its session cookie and its user table here.
type hostUsers struct{}

func (hostUsers) CurrentUser(r *http.Request) (*op.User, error) {
	if c, err := r.Cookie("app_session"); err == nil && c.Value == "alice-session" {
		return &op.User{ID: "alice", AuthTime: time.Now()}, nil
	}
	return nil, nil // nobody: the provider sends the browser to LoginURL
}

func (hostUsers) Claims(_ context.Context, userID string, c *op.Claims) error {
	if userID != "alice" {
		return fmt.Errorf("no user %q", userID)
	}
	c.Name, c.Email, c.EmailVerified = "Alice Liddell", "alice@example.com", true
	return nil
}

// Mount the provider on a net/http mux under /openid, with the host
// application's own users (op.Users) and in-memory storage, and run its
// background work for as long as it serves.
func Example_mount() {
	srv := httptest.NewUnstartedServer(nil) // the host's server; its address makes the issuer
	store := memstore.New()                 // or sqlstore, or the host's own storage.Provider
	sealer, err := keys.NewSealer([]byte("a system secret of at least 32 bytes, kept stable"))
	if err != nil {
		log.Fatal(err)
	}
	provider, err := op.New(context.Background(), op.Config{
		Issuer:   "http://" + srv.Listener.Addr().String() + "/openid",
		Storage:  store,
		Users:    hostUsers{},
		Sealer:   sealer,
		LoginURL: "/accounts/login", // the host's login page; gets ?next=
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go provider.Run(ctx) // deletes expired rows, re-reads signing keys
	defer provider.Close()
	defer cancel()

	mux := http.NewServeMux()
	provider.Mount(mux, "/openid")
	srv.Config.Handler = mux
	srv.Start()
	defer srv.Close()

	// A relying party registered in code (see ExampleNewClient).
	client, _, err := op.NewClient(storage.Client{Name: "Shop", RedirectURIs: []string{"https://shop.example/callback"}}, sealer, time.Now(), nil)
	if err != nil {
		log.Fatal(err)
	}
	if err := store.CreateClient(ctx, client); err != nil {
		log.Fatal(err)
	}

	resp, err := http.Get(srv.URL + "/openid/.well-known/openid-configuration")
	if err != nil {
		log.Fatal(err)
	}
	var doc struct{ Issuer string }
	json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	fmt.Println("discovery:", resp.StatusCode, doc.Issuer == srv.URL+"/openid")

	authorize := srv.URL + "/openid/authorize?" + url.Values{
		"client_id": {client.ID}, "redirect_uri": {"https://shop.example/callback"},
		"response_type": {"code"}, "scope": {"openid email"}, "state": {"xyz"},
	}.Encode()
	browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, session := range []string{"", "alice-session"} {
		req, _ := http.NewRequest(http.MethodGet, authorize, nil)
		if session != "" {
			req.AddCookie(&http.Cookie{Name: "app_session", Value: session})
		}
		resp, err := browser.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
		loc, _ := url.Parse(resp.Header.Get("Location"))
		fmt.Println(resp.StatusCode, loc.Host+loc.Path, loc.Query().Get("state"), loc.Query().Has("code"))
	}
	// Output:
	// discovery: 200 true
	// 302 /accounts/login  false
	// 302 shop.example/callback xyz true
}

// Register a client from code: NewClient validates the registration and
// makes the id and secret; the store keeps only the secret's digest and a
// sealed copy, so the secret is shown once.
func ExampleNewClient() {
	sealer, err := keys.NewSealer([]byte("a system secret of at least 32 bytes, kept stable"))
	if err != nil {
		log.Fatal(err)
	}
	store := memstore.New()
	client, secret, err := op.NewClient(storage.Client{
		Name:          "Inventory service",
		RedirectURIs:  []string{"https://inventory.example/callback"},
		ResponseTypes: []string{"code"},
		Scope:         []string{"read_books"}, // what client_credentials may obtain
	}, sealer, time.Now(), nil)
	if err != nil {
		log.Fatal(err)
	}
	if err := store.CreateClient(context.Background(), client); err != nil {
		log.Fatal(err)
	}
	fmt.Println(client.Type, client.JWTAlg, client.ID != "", len(secret) > 0, string(client.SecretHash) != secret)

	// A redirect URI that is not https (outside loopback) is refused.
	_, _, err = op.NewClient(storage.Client{Name: "Bad", RedirectURIs: []string{"http://evil.example/cb"}}, sealer, time.Now(), nil)
	fmt.Println(err != nil)
	// Output:
	// confidential RS256 true true true
	// true
}

// Protect an API of the application that mounts the provider: requests need
// an access token with the read_books scope; the handler reads who called.
// (A resource server in another process uses op.Introspector the same way.)
func ExampleProvider_Protect() {
	srv := httptest.NewUnstartedServer(nil)
	store := memstore.New()
	sealer, err := keys.NewSealer([]byte("a system secret of at least 32 bytes, kept stable"))
	if err != nil {
		log.Fatal(err)
	}
	provider, err := op.New(context.Background(), op.Config{
		Issuer: "http://" + srv.Listener.Addr().String(), Storage: store, Users: hostUsers{}, Sealer: sealer,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer provider.Close()

	books := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _ := op.TokenInfoFrom(r.Context())
		fmt.Fprintf(w, "books for %s (client token: %v, scope %v)", tok.Subject, tok.ClientCredentials, tok.Scope)
	})
	mux := http.NewServeMux()
	provider.Mount(mux, "")
	mux.Handle("/api/books", provider.Protect("read_books")(books))
	srv.Config.Handler = mux
	srv.Start()
	defer srv.Close()

	client, secret, err := op.NewClient(storage.Client{Name: "Reader", RedirectURIs: []string{"https://reader.example/cb"},
		Scope: []string{"read_books"}}, sealer, time.Now(), nil)
	if err != nil {
		log.Fatal(err)
	}
	if err := store.CreateClient(context.Background(), client); err != nil {
		log.Fatal(err)
	}
	// The client gets a token for itself and calls the API with it.
	cc := clientcredentials.Config{ClientID: client.ID, ClientSecret: secret, TokenURL: srv.URL + "/token", Scopes: []string{"read_books"}}
	resp, err := cc.Client(context.Background()).Get(srv.URL + "/api/books")
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, strings.Replace(string(body), client.ID, "<client id>", 1))

	// Without a token: 401 with a Bearer challenge (RFC 6750 §3).
	resp, err = http.Get(srv.URL + "/api/books")
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	// Output:
	// 200 books for <client id> (client token: true, scope [read_books])
	// 401 Bearer realm="oidcd"
}
