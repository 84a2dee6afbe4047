// Command basic is a tiny net/http application that mounts the oidcd
// provider library under /openid/ with its own login page, the way
// django-oidc-provider's example project plugs django-oidc-provider into a Django site.
//
//	go run ./examples/basic
//
// then point a relying party at http://localhost:8080/openid (the client id
// and secret are printed at start) and sign in as demo / demo. Ctrl-C stops
// it cleanly: the HTTP server, then the provider's background work
// (Provider.Run, ended by Provider.Close).
//
// The login here is a DEMO: one hard-coded user, sessions in memory. A real
// application uses its own accounts and session handling instead.
package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"html/template"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/oidcd/oidcd/keys"
	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage"
	"github.com/oidcd/oidcd/storage/memstore"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", "localhost:8080")
	if err != nil {
		log.Fatal(err)
	}
	if err := run(ctx, ln, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// run serves the application on ln until ctx is done, then shuts down: the
// HTTP server first, then the provider's background work.
func run(ctx context.Context, ln net.Listener, out io.Writer) error {
	issuer := "http://" + ln.Addr().String() + "/openid"
	redirectURI := "http://localhost:9000/callback"

	// The provider's data in memory, lost when the process ends. A durable
	// application opens storage/sqlstore instead (sqlstore.Open, then
	// Migrate), or implements storage.Provider over its own database.
	store := memstore.New()

	// The system secret seals keys and client secrets. Keep a real one safe
	// and stable; this one lives as long as the process.
	sealer, err := keys.NewSealer([]byte(rand.Text() + rand.Text()))
	if err != nil {
		return err
	}

	// Register one relying party.
	client, secret, err := op.NewClient(storage.Client{
		Name:         "Example RP",
		RedirectURIs: []string{redirectURI},
	}, sealer, time.Now(), nil)
	if err != nil {
		return err
	}
	if err := store.CreateClient(ctx, client); err != nil {
		return err
	}

	users := &demoUsers{sessions: map[string]time.Time{}}
	provider, err := op.New(ctx, op.Config{
		Issuer:   issuer,
		Storage:  store,
		Users:    users,
		Sealer:   sealer,
		LoginURL: "/login",
	})
	if err != nil {
		return err
	}
	// The provider's background work (deleting expired codes and tokens,
	// re-reading keys) runs as long as the application; Close waits for it.
	defer provider.Close()
	go provider.Run(ctx)

	mux := http.NewServeMux()
	provider.Mount(mux, "/openid")
	mux.HandleFunc("/login", users.login)
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "Example application. The OpenID Provider is at", issuer)
	})

	fmt.Fprintf(out, "issuer:        %s\nclient_id:     %s\nclient_secret: %s\nredirect_uri:  %s\nlogin:         demo / demo\n",
		issuer, client.ID, secret, redirectURI)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// demoUsers is the application's user handling: DEMO ONLY. One user,
// "demo" with password "demo", and sessions kept in memory.
type demoUsers struct {
	mu       sync.Mutex
	sessions map[string]time.Time // cookie value → login time
}

const demoCookie = "example_session"

// CurrentUser implements op.Users: the provider asks who is logged in.
func (u *demoUsers) CurrentUser(r *http.Request) (*op.User, error) {
	c, err := r.Cookie(demoCookie)
	if err != nil {
		return nil, nil
	}
	u.mu.Lock()
	at, ok := u.sessions[c.Value]
	u.mu.Unlock()
	if !ok {
		return nil, nil
	}
	return &op.User{ID: "demo", AuthTime: at}, nil
}

// Claims implements op.Users: the provider asks for the user's claims.
func (u *demoUsers) Claims(_ context.Context, userID string, c *op.Claims) error {
	if userID != "demo" {
		return fmt.Errorf("unknown user %q", userID)
	}
	c.Name, c.GivenName, c.FamilyName = "Demo User", "Demo", "User"
	c.Email, c.EmailVerified = "demo@example.com", true
	return nil
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<title>Sign in</title>
<p>DEMO login: use <b>demo</b> / <b>demo</b>.</p>{{if .Error}}<p style="color:#a00">{{.Error}}</p>{{end}}
<form method="post"><input type="hidden" name="next" value="{{.Next}}">
<p><input name="username" placeholder="username"> <input name="password" type="password" placeholder="password">
<button>Sign in</button></form>`))

// login is the application's login page; the provider sends users here
// with the authorization request in "next". (A real page needs CSRF
// protection and a login throttle; the oidcd server has both.)
func (u *demoUsers) login(w http.ResponseWriter, r *http.Request) {
	next := r.FormValue("next")
	// Only local paths: never an open redirect.
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		next = "/"
	}
	if r.Method != http.MethodPost {
		loginPage.Execute(w, map[string]string{"Next": next})
		return
	}
	if r.PostFormValue("username") != "demo" || r.PostFormValue("password") != "demo" {
		w.WriteHeader(http.StatusUnauthorized)
		loginPage.Execute(w, map[string]string{"Next": next, "Error": "Invalid username or password."})
		return
	}
	value := rand.Text()
	u.mu.Lock()
	u.sessions[value] = time.Now()
	u.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: demoCookie, Value: value, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, next, http.StatusSeeOther)
}
