// Package safehttp is the one HTTP client oidcd uses for requests to URLs
// that clients or users supply (back-channel logout, and later jwks_uri,
// sector_identifier_uri, request_uri, logos): SECURITY K1.
//
// It refuses any scheme but http and https, and, unless AllowPrivate is set,
// any connection to a loopback, private, link-local, multicast, unspecified
// or otherwise non-public address. The address is checked on the socket
// about to be dialled (net.Dialer.Control), after DNS resolution, so a name
// that resolves to a public address at one moment and a private one the
// next (DNS rebinding) cannot pass. No proxy is used (it would dial for us),
// redirects are never followed, every phase has a short timeout and
// response bodies are read up to a bound.
//
// It imports nothing of oidcd.
package safehttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Options configures a Client. Zero values take the defaults named.
type Options struct {
	// AllowPrivate permits loopback, private and link-local targets (tests,
	// and sites whose relying parties live on an internal network).
	AllowPrivate bool
	// Timeout bounds a whole request, body included. Defaults to 10s.
	Timeout time.Duration
	// DialTimeout bounds connecting. Defaults to 5s.
	DialTimeout time.Duration
	// MaxBody bounds what ReadBody reads. Defaults to 64 KiB.
	MaxBody int64
}

// ErrForbiddenTarget means the URL's scheme or the address it resolves to
// is not allowed.
var ErrForbiddenTarget = errors.New("safehttp: forbidden target")

// Client is an http.Client with the guards above, safe for concurrent use.
type Client struct {
	*http.Client
	opts Options
}

// New returns a Client.
func New(o Options) *Client {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 5 * time.Second
	}
	if o.MaxBody <= 0 {
		o.MaxBody = 64 << 10
	}
	dialer := &net.Dialer{
		Timeout: o.DialTimeout,
		Control: func(network, address string, _ syscall.RawConn) error {
			return checkDial(network, address, o.AllowPrivate)
		},
	}
	tr := &http.Transport{
		Proxy:                  nil, // a proxy would connect on our behalf, unchecked
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    o.DialTimeout,
		ResponseHeaderTimeout:  o.Timeout,
		ExpectContinueTimeout:  time.Second,
		MaxIdleConns:           16,
		MaxIdleConnsPerHost:    2,
		IdleConnTimeout:        30 * time.Second,
		MaxResponseHeaderBytes: 32 << 10,
	}
	return &Client{
		opts: o,
		Client: &http.Client{
			Transport: tr,
			Timeout:   o.Timeout,
			// Never follow a redirect: the response is the 3xx itself.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// CheckURL reports whether raw may be requested at all: an absolute http or
// https URL with a host, without user information. The address is checked
// again when dialling.
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%w: not a URL", ErrForbiddenTarget)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%w: scheme %q", ErrForbiddenTarget, u.Scheme)
	}
	if u.Host == "" || u.User != nil {
		return fmt.Errorf("%w: URL needs a host and no user information", ErrForbiddenTarget)
	}
	return nil
}

// Do sends req after CheckURL.
func (c *Client) Do(req *http.Request) (*http.Response, error) {
	if err := CheckURL(req.URL.String()); err != nil {
		return nil, err
	}
	return c.Client.Do(req)
}

// PostForm sends a form POST (after CheckURL) with ctx.
func (c *Client) PostForm(ctx context.Context, target string, form url.Values) (*http.Response, error) {
	if err := CheckURL(target); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.Client.Do(req)
}

// ReadBody reads at most MaxBody bytes of resp's body and closes it; a
// longer body is an error.
func (c *Client) ReadBody(resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, c.opts.MaxBody+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > c.opts.MaxBody {
		return nil, fmt.Errorf("safehttp: response body longer than %d bytes", c.opts.MaxBody)
	}
	return b, nil
}

// Discard drains up to MaxBody bytes of resp's body (so the connection can
// be reused) and closes it.
func (c *Client) Discard(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, c.opts.MaxBody))
	resp.Body.Close()
}

// checkDial runs on the socket about to connect: address is an IP:port.
func checkDial(network, address string, allowPrivate bool) error {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return fmt.Errorf("%w: network %s", ErrForbiddenTarget, network)
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: address %s", ErrForbiddenTarget, address)
	}
	if !allowPrivate && !PublicAddr(ap.Addr()) {
		return fmt.Errorf("%w: %s is not a public address", ErrForbiddenTarget, ap.Addr())
	}
	return nil
}

// nonPublic are ranges netip's predicates do not cover: "this network",
// carrier-grade NAT, IETF protocol assignments, documentation, benchmarking,
// reserved, NAT64 and discard prefixes, 6to4 and Teredo (which embed IPv4
// addresses).
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("100::/64"),
	netip.MustParsePrefix("2001::/32"),
	netip.MustParsePrefix("2001:db8::/32"),
	netip.MustParsePrefix("2002::/16"),
}

// PublicAddr reports whether a is a globally routable unicast address.
func PublicAddr(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.IsUnspecified() || a.IsLoopback() || a.IsPrivate() ||
		a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() ||
		a.IsMulticast() || !a.IsGlobalUnicast() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return false
		}
	}
	return true
}
