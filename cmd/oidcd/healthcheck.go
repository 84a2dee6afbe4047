package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// healthcheck probes the local server: exit 0 when its /readyz (or, with
// --live, /healthz) answers 200. It is the container image's HEALTHCHECK:
// an empty image has no shell or curl.
func (a *app) healthcheck(ctx context.Context, args []string) error {
	c := a.newCommand("healthcheck", "", false)
	c.mustExist = false // no database needed
	live := c.fs.Bool("live", false, "probe /healthz (alive) instead of /readyz (ready: database and keys)")
	target := c.fs.String("url", "", "probe this URL (default: from OIDCD_ADDR, the issuer's path and OIDCD_TLS_CERT)")
	if _, err := c.parse(args, 0, 0); err != nil {
		return err
	}
	s, err := c.settings()
	if err != nil {
		return err
	}
	u := *target
	if u == "" {
		path := "/readyz"
		if *live {
			path = "/healthz"
		}
		if u, err = probeURL(s, path); err != nil {
			return err
		}
	}
	client := &http.Client{
		Timeout: 3 * time.Second,
		Transport: &http.Transport{
			// The probe talks to its own server over loopback, whose
			// certificate names the public host: it sends nothing secret
			// and checks only the status.
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12},
		},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return usagef("healthcheck: %v", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %d %s", u, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	fmt.Fprintf(a.stdout, "%s: %s", u, body)
	return nil
}

// probeURL is where the server of s answers on this host.
func probeURL(s *Settings, path string) (string, error) {
	host, port, err := net.SplitHostPort(s.Addr)
	if err != nil {
		return "", fmt.Errorf("healthcheck: OIDCD_ADDR %q: %w", s.Addr, err)
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	scheme := "http"
	if s.TLSCert != "" {
		scheme = "https"
	}
	prefix := ""
	if iu, err := url.Parse(s.Server.Provider.Issuer); err == nil {
		prefix = strings.TrimSuffix(iu.EscapedPath(), "/")
	}
	return scheme + "://" + net.JoinHostPort(host, port) + prefix + path, nil
}
