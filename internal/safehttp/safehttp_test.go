package safehttp_test

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/oidcd/oidcd/internal/safehttp"
)

func TestPublicAddr(t *testing.T) {
	for addr, want := range map[string]bool{
		"8.8.8.8": true, "2606:4700::1111": true, "93.184.216.34": true,
		"127.0.0.1": false, "127.1.2.3": false, "::1": false, "10.0.0.1": false,
		"172.16.5.4": false, "192.168.1.1": false, "169.254.169.254": false,
		"fe80::1": false, "fc00::1": false, "0.0.0.0": false, "::": false,
		"224.0.0.1": false, "ff02::1": false, "100.64.0.1": false,
		"::ffff:127.0.0.1": false, "::ffff:10.1.1.1": false, "64:ff9b::a00:1": false,
		"2002:7f00:1::": false, "255.255.255.255": false, "198.18.0.1": false,
	} {
		if got := safehttp.PublicAddr(netip.MustParseAddr(addr)); got != want {
			t.Errorf("PublicAddr(%s) = %v, want %v", addr, got, want)
		}
	}
}

func TestLoopbackRefusedUnlessAllowed(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port

	strict := safehttp.New(safehttp.Options{})
	// Both the literal address and a name resolving to it are refused: the
	// check is on the dialled address, after resolution.
	for _, target := range []string{srv.URL, "http://localhost:" + strconv.Itoa(port) + "/"} {
		_, err := strict.PostForm(t.Context(), target, url.Values{"a": {"b"}})
		if !errors.Is(err, safehttp.ErrForbiddenTarget) {
			t.Errorf("POST %s: got %v, want ErrForbiddenTarget", target, err)
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("a refused target was reached %d times", hits.Load())
	}
	open := safehttp.New(safehttp.Options{AllowPrivate: true})
	resp, err := open.PostForm(t.Context(), srv.URL, url.Values{"a": {"b"}})
	if err != nil {
		t.Fatal(err)
	}
	open.Discard(resp)
	if hits.Load() != 1 {
		t.Fatalf("allowed target reached %d times", hits.Load())
	}
}

func TestSchemesRefused(t *testing.T) {
	c := safehttp.New(safehttp.Options{AllowPrivate: true})
	for _, target := range []string{"file:///etc/passwd", "gopher://example.com/", "ftp://example.com/x", "http://user:pw@example.com/", "/relative", "http:///nohost"} {
		if _, err := c.PostForm(t.Context(), target, nil); !errors.Is(err, safehttp.ErrForbiddenTarget) {
			t.Errorf("POST %s: got %v, want ErrForbiddenTarget", target, err)
		}
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	var reached atomic.Bool
	inner := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached.Store(true) }))
	defer inner.Close()
	outer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, inner.URL, http.StatusTemporaryRedirect)
	}))
	defer outer.Close()
	c := safehttp.New(safehttp.Options{AllowPrivate: true})
	resp, err := c.PostForm(t.Context(), outer.URL, url.Values{"x": {"y"}})
	if err != nil {
		t.Fatal(err)
	}
	c.Discard(resp)
	if resp.StatusCode != http.StatusTemporaryRedirect || reached.Load() {
		t.Fatalf("status %d, redirect followed: %v", resp.StatusCode, reached.Load())
	}
}

func TestBodyBounded(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("x", 2000)))
	}))
	defer srv.Close()
	c := safehttp.New(safehttp.Options{AllowPrivate: true, MaxBody: 1000})
	resp, err := c.PostForm(t.Context(), srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ReadBody(resp); err == nil {
		t.Fatal("a body over MaxBody was read whole")
	}
	c2 := safehttp.New(safehttp.Options{AllowPrivate: true, MaxBody: 2000})
	resp, err = c2.PostForm(t.Context(), srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := c2.ReadBody(resp); err != nil || len(b) != 2000 {
		t.Fatalf("ReadBody: %d bytes, %v", len(b), err)
	}
}
