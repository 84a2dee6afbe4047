package web

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Branding puts a site's identity on every page without replacing the
// templates. Every field is optional.
type Branding struct {
	// SiteName is shown in the page header and titles. Defaults to none:
	// titles name the page only.
	SiteName string
	// Logo is the site's logo (PNG, JPEG, GIF, WebP or SVG, at most 512 KiB),
	// served by the provider itself at <base>/assets/logo, so that the
	// pages' policy keeps loading images from the provider only.
	Logo []byte
	// PrimaryColor is the colour of buttons, links and focus outlines, as
	// #rrggbb or #rgb. It must reach WCAG 2.1 AA contrast (4.5:1) with
	// white, the button text and the page background. Defaults to #0b57d0.
	PrimaryColor string
	// Stylesheet is extra CSS served at <base>/assets/site.css and loaded
	// after the built-in one, so its rules win.
	Stylesheet []byte
	// PrivacyURL, TermsURL and HelpURL, when set, are links in every page's
	// footer: absolute http(s) URLs.
	PrivacyURL, TermsURL, HelpURL string
}

// Site is what templates get from {{site}}: the branding, with the URLs of
// the served assets.
type Site struct {
	Name string
	// Logo is the URL of the site's logo, "" without one.
	Logo string
	// Stylesheets are the URLs of the built-in stylesheet and the site's
	// own, in the order to load them.
	Stylesheets                   []string
	PrimaryColor                  string
	PrivacyURL, TermsURL, HelpURL string
}

// DefaultPrimaryColor has a contrast of 6.4:1 with white.
const DefaultPrimaryColor = "#0b57d0"

// maxLogo bounds the site logo.
const maxLogo = 512 << 10

type asset struct {
	body        []byte
	contentType string
}

func (r *Renderer) setBranding(b Branding, base string) error {
	var errs []error
	color := b.PrimaryColor
	if color == "" {
		color = DefaultPrimaryColor
	}
	rgb, err := parseColor(color)
	if err != nil {
		errs = append(errs, err)
	} else if c := contrast(rgb, [3]float64{1, 1, 1}); c < 4.5 {
		errs = append(errs, fmt.Errorf("web: primary colour %s has a contrast of %.1f:1 with white; WCAG 2.1 AA needs 4.5:1 for its button text and links: choose a darker colour", color, c))
	}
	for _, l := range []struct{ name, u string }{{"privacy", b.PrivacyURL}, {"terms", b.TermsURL}, {"help", b.HelpURL}} {
		if l.u == "" {
			continue
		}
		if u, err := url.Parse(l.u); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, fmt.Errorf("web: %s link %q: not an absolute http(s) URL", l.name, l.u))
		}
	}
	css := fmt.Appendf(nil, ":root{--primary:%s;--on-primary:#fff}\n", strings.ToLower(color))
	css = append(css, builtinCSS...)
	r.assets["oidcd.css"] = asset{css, "text/css; charset=utf-8"}
	r.site = Site{
		Name: b.SiteName, PrimaryColor: strings.ToLower(color),
		PrivacyURL: b.PrivacyURL, TermsURL: b.TermsURL, HelpURL: b.HelpURL,
		Stylesheets: []string{base + "/assets/oidcd.css?v=" + digest(css)},
	}
	if len(b.Stylesheet) > 0 {
		r.assets["site.css"] = asset{b.Stylesheet, "text/css; charset=utf-8"}
		r.site.Stylesheets = append(r.site.Stylesheets, base+"/assets/site.css?v="+digest(b.Stylesheet))
	}
	if len(b.Logo) > 0 {
		ct, err := imageType(b.Logo)
		if err != nil {
			errs = append(errs, err)
		} else {
			r.assets["logo"] = asset{b.Logo, ct}
			r.site.Logo = base + "/assets/logo?v=" + digest(b.Logo)
		}
	}
	return errors.Join(errs...)
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:6])
}

// imageType accepts the image formats browsers show in <img>. SVG is
// allowed for the operator's own logo (not for clients' logos): in an
// <img> it runs no script, and it is served with a policy that forbids any.
func imageType(b []byte) (string, error) {
	if len(b) > maxLogo {
		return "", fmt.Errorf("web: the logo has %d bytes, more than %d", len(b), maxLogo)
	}
	switch ct := http.DetectContentType(b); ct {
	case "image/png", "image/jpeg", "image/gif", "image/webp":
		return ct, nil
	}
	head := strings.ToLower(string(b[:min(len(b), 1024)]))
	if strings.Contains(head, "<svg") {
		return "image/svg+xml", nil
	}
	return "", errors.New("web: the logo is not a PNG, JPEG, GIF, WebP or SVG image")
}

// ServeAsset serves the stylesheets and the logo at <base>/assets/{name}
// (the host routes "GET <base>/assets/{name}" here). Their URLs carry a
// digest of the content, so they are cached for a year.
func (r *Renderer) ServeAsset(w http.ResponseWriter, req *http.Request) {
	a, ok := r.assets[req.PathValue("name")]
	if !ok {
		http.NotFound(w, req)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("Content-Length", strconv.Itoa(len(a.body)))
	if req.Method == http.MethodHead {
		return
	}
	w.Write(a.body)
}

// parseColor reads #rgb or #rrggbb into sRGB components in [0,1].
func parseColor(s string) ([3]float64, error) {
	var out [3]float64
	h := strings.TrimPrefix(s, "#")
	if len(h) == 3 {
		h = string([]byte{h[0], h[0], h[1], h[1], h[2], h[2]})
	}
	if !strings.HasPrefix(s, "#") || len(h) != 6 {
		return out, fmt.Errorf("web: primary colour %q: want #rrggbb or #rgb", s)
	}
	for i := range 3 {
		v, err := strconv.ParseUint(h[2*i:2*i+2], 16, 8)
		if err != nil {
			return out, fmt.Errorf("web: primary colour %q: want #rrggbb or #rgb", s)
		}
		out[i] = float64(v) / 255
	}
	return out, nil
}

// contrast is the WCAG 2.1 contrast ratio of two sRGB colours (1.4.3,
// "relative luminance").
func contrast(a, b [3]float64) float64 {
	la, lb := luminance(a), luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

func luminance(c [3]float64) float64 {
	var l [3]float64
	for i, v := range c {
		if v <= 0.04045 {
			l[i] = v / 12.92
		} else {
			l[i] = math.Pow((v+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*l[0] + 0.7152*l[1] + 0.0722*l[2]
}

// Contrast is the WCAG 2.1 contrast ratio of two #rrggbb colours.
func Contrast(a, b string) (float64, error) {
	ca, err := parseColor(a)
	if err != nil {
		return 0, err
	}
	cb, err := parseColor(b)
	if err != nil {
		return 0, err
	}
	return contrast(ca, cb), nil
}
