package op

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/oidcd/oidcd/internal/safehttp"
	"github.com/oidcd/oidcd/storage"
)

// Subject types (OIDC Core §8).
const (
	SubjectPublic   = "public"
	SubjectPairwise = "pairwise"
)

// pairwiseSubject is OIDC Core §8.1's pairwise identifier: a keyed digest
// of the client's sector and the user's local subject, so that clients of
// different sectors cannot correlate a user, while clients of one sector
// (one sector_identifier_uri, or one redirect host) see the same sub. The
// key is the system secret's MAC key: stable across nodes and restarts,
// unknown outside.
func (p *Provider) pairwiseSubject(c *storage.Client, local string) (string, error) {
	sector, err := sectorIdentifier(c)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(p.cfg.Sealer.MAC("pairwise-sub", sector, local)), nil
}

// sectorIdentifier is the host of the client's sector_identifier_uri, or
// else of its redirect URIs, which must then share one host (OIDC Core §8.1).
func sectorIdentifier(c *storage.Client) (string, error) {
	if c.SectorIdentifierURI != "" {
		u, err := url.Parse(c.SectorIdentifierURI)
		if err != nil || u.Host == "" {
			return "", fmt.Errorf("op: client %s: bad sector_identifier_uri", c.ID)
		}
		return u.Hostname(), nil
	}
	var host string
	for _, r := range c.RedirectURIs {
		u, err := url.Parse(r)
		if err != nil || u.Hostname() == "" {
			return "", fmt.Errorf("op: client %s: redirect URI %q has no host for a pairwise sector", c.ID, r)
		}
		if host != "" && u.Hostname() != host {
			return "", fmt.Errorf("op: client %s: redirect URIs on several hosts need a sector_identifier_uri", c.ID)
		}
		host = u.Hostname()
	}
	if host == "" {
		return "", fmt.Errorf("op: client %s: a pairwise client needs redirect URIs or a sector_identifier_uri", c.ID)
	}
	return host, nil
}

// CheckSectorIdentifier fetches a pairwise client's sector_identifier_uri
// (OIDC Core §8.1, OIDC Registration §5): an https URL whose JSON array
// must list every redirect URI of the client. It is fetched through the
// SSRF-safe client (SECURITY K1); allowPrivate permits loopback and private
// targets (tests). NewClient does not call it, since it goes to the
// network: /register does, and so does the CLI.
func CheckSectorIdentifier(ctx context.Context, c *storage.Client, allowPrivate bool) error {
	return checkSector(ctx, c, safehttp.New(safehttp.Options{AllowPrivate: allowPrivate}))
}

func checkSector(ctx context.Context, c *storage.Client, hc *safehttp.Client) error {
	if c.SectorIdentifierURI == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.SectorIdentifierURI, nil)
	if err != nil {
		return fmt.Errorf("sector_identifier_uri: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("sector_identifier_uri could not be fetched: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		hc.Discard(resp)
		return fmt.Errorf("sector_identifier_uri answered %d", resp.StatusCode)
	}
	body, err := hc.ReadBody(resp)
	if err != nil {
		return fmt.Errorf("sector_identifier_uri: %w", err)
	}
	var listed []string
	if err := json.Unmarshal(body, &listed); err != nil {
		return errors.New("sector_identifier_uri must hold a JSON array of redirect URIs")
	}
	for _, r := range c.RedirectURIs {
		if !slices.Contains(listed, r) {
			return fmt.Errorf("sector_identifier_uri does not list the redirect URI %q", r)
		}
	}
	return nil
}
