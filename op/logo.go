package op

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // DecodeConfig of uploaded logos
	_ "image/jpeg"
	_ "image/png"
	"net/http"
	"strings"

	"github.com/oidcd/oidcd/internal/safehttp"
	"github.com/oidcd/oidcd/storage"
)

// Client logos are served by the provider itself: a page never loads an
// image from another host, which would tell that host who visits the page
// and when (docs/security.md "Browser pages"). A logo is uploaded (oidcd
// clients create --logo-file) or fetched once at registration through the
// SSRF-safe client (SECURITY K1), checked, and kept with the client.

// MaxLogoBytes bounds a client logo.
const MaxLogoBytes = 256 << 10

// maxLogoSide bounds a logo's width and height in pixels.
const maxLogoSide = 4096

// CheckLogo validates logo bytes and returns their media type: PNG, JPEG,
// GIF or WebP (SVG is refused: it may carry script), at most MaxLogoBytes,
// and, except WebP, decodable with sane dimensions.
func CheckLogo(b []byte) (string, error) {
	if len(b) == 0 {
		return "", errors.New("the logo is empty")
	}
	if len(b) > MaxLogoBytes {
		return "", fmt.Errorf("the logo is larger than %d bytes", MaxLogoBytes)
	}
	ct := http.DetectContentType(b)
	switch ct {
	case "image/png", "image/jpeg", "image/gif":
		cfg, _, err := image.DecodeConfig(bytes.NewReader(b))
		if err != nil {
			return "", fmt.Errorf("the logo is not a valid %s image: %w", ct, err)
		}
		if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width > maxLogoSide || cfg.Height > maxLogoSide {
			return "", fmt.Errorf("the logo is %dx%d pixels; at most %d on each side", cfg.Width, cfg.Height, maxLogoSide)
		}
	case "image/webp":
	default:
		return "", fmt.Errorf("the logo must be a PNG, JPEG, GIF or WebP image, not %s", ct)
	}
	return ct, nil
}

// FetchLogo downloads a logo once, at registration, with an SSRF-safe
// client (only https or loopback-for-tests http, public addresses, no
// redirects, short timeouts, bounded size) and checks it.
func FetchLogo(ctx context.Context, hc *safehttp.Client, url string) ([]byte, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, "", err
	}
	if resp.StatusCode != http.StatusOK {
		hc.Discard(resp)
		return nil, "", fmt.Errorf("fetching the logo: status %d", resp.StatusCode)
	}
	b, err := hc.ReadBody(resp)
	if err != nil {
		return nil, "", err
	}
	ct, err := CheckLogo(b)
	if err != nil {
		return nil, "", err
	}
	return b, ct, nil
}

// NewLogoClient is the SSRF-safe client logos are fetched with.
func NewLogoClient(allowPrivate bool) *safehttp.Client {
	return safehttp.New(safehttp.Options{AllowPrivate: allowPrivate, MaxBody: MaxLogoBytes})
}

// clientLogo returns the logo the provider serves for c: its stored image,
// or an inline data: image kept in LogoURL (clients imported from
// django-oidc-provider with their media).
func clientLogo(c *storage.Client) (string, []byte, bool) {
	if len(c.LogoImage) > 0 && c.LogoType != "" {
		return c.LogoType, c.LogoImage, true
	}
	if rest, ok := strings.CutPrefix(c.LogoURL, "data:"); ok {
		meta, data, ok := strings.Cut(rest, ";base64,")
		if !ok {
			return "", nil, false
		}
		b, err := base64.StdEncoding.DecodeString(data)
		if err != nil {
			return "", nil, false
		}
		if ct, err := CheckLogo(b); err == nil && ct == meta {
			return ct, b, true
		}
	}
	return "", nil, false
}

// logoPath is the local URL of c's logo on the pages, or "" without one.
func (p *Provider) logoPath(c *storage.Client) string {
	if c == nil {
		return ""
	}
	if _, _, ok := clientLogo(c); !ok {
		return ""
	}
	return p.issuerURL.EscapedPath() + PathLogo + "/" + c.ID
}

// serveLogo serves a client's logo: its own media type, never sniffed,
// sandboxed should a browser open it as a document.
func (p *Provider) serveLogo(w http.ResponseWriter, r *http.Request) {
	c, err := p.client(r.Context(), r.PathValue("id"))
	if errors.Is(err, storage.ErrNotFound) {
		http.NotFound(w, r)
		return
	} else if err != nil {
		writeJSON(w, asError(err).status(), map[string]string{"error": asError(err).Code})
		return
	}
	ct, b, ok := clientLogo(c)
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", ct)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", "public, max-age=300")
	w.Write(b)
}
