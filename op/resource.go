package op

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/oidcd/oidcd/storage"
)

// Resource indicators (RFC 8707): a client names the protected resources
// (absolute URIs) a token is for, with the resource parameter at the
// authorization, PAR, device authorization and token endpoints; the access
// token's audience is then exactly those resources, so a resource server
// that checks the audience refuses a token meant for another one.
//
// Which resources a client may name: those of its own list (client
// metadata "resources") when it has one; otherwise those the provider
// declares for every client (Config.Resources). Anything else is
// invalid_target (RFC 8707 §2). A grant remembers what it was authorized
// for; a token request may narrow to a subset, never widen.

// Resource is a protected resource the provider issues tokens for.
type Resource struct {
	// URI is the resource indicator: an absolute URI without a fragment
	// (RFC 8707 §2), compared exactly.
	URI string
	// JWTAccessTokens makes access tokens whose audience names this
	// resource JWTs (RFC 9068) that the resource server can verify with
	// the provider's published keys, rather than opaque ones.
	JWTAccessTokens bool
}

// parseResource checks one resource indicator (RFC 8707 §2): an absolute
// URI without a fragment.
func parseResource(raw string) error {
	if strings.Contains(raw, "#") {
		return errors.New("must not contain a fragment")
	}
	if strings.ContainsAny(raw, " \t\r\n") {
		return errors.New("must not contain white space")
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || (u.Opaque == "" && u.Host == "" && u.Path == "") {
		return errors.New("must be an absolute URI")
	}
	return nil
}

// parseResources reads the resource parameters of a request (repeated,
// one URI each), keeping their order and dropping repeats.
func parseResources(values []string) ([]string, *Error) {
	if len(values) > MaxResources {
		return nil, newErr(errInvalidTarget, "The request names more than %d resources.", MaxResources)
	}
	var out []string
	for _, v := range values {
		if err := parseResource(v); err != nil {
			return nil, newErr(errInvalidTarget, "The resource %q %s (RFC 8707 §2).", v, err.Error())
		}
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out, nil
}

// checkClientResources validates a client's registered resources (the
// CLI's and /register's rule).
func checkClientResources(list []string) ([]string, []error) {
	var errs []error
	if len(list) > MaxResources {
		errs = append(errs, fmt.Errorf("resources: at most %d", MaxResources))
	}
	var out []string
	for _, r := range list {
		if err := parseResource(r); err != nil {
			errs = append(errs, fmt.Errorf("resource %q %s", r, err.Error()))
		} else if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out, errs
}

// declaredResource returns the provider's declaration of uri.
func (p *Provider) declaredResource(uri string) (Resource, bool) {
	i := slices.IndexFunc(p.cfg.Resources, func(r Resource) bool { return r.URI == uri })
	if i < 0 {
		return Resource{}, false
	}
	return p.cfg.Resources[i], true
}

// resourceAllowed reports whether client c may ask for a token for uri.
func (p *Provider) resourceAllowed(c *storage.Client, uri string) bool {
	if len(c.Resources) > 0 {
		return slices.Contains(c.Resources, uri)
	}
	_, ok := p.declaredResource(uri)
	return ok
}

// requestedResources parses the resource parameters of a request and
// applies the client's policy.
func (p *Provider) requestedResources(c *storage.Client, values []string) ([]string, *Error) {
	list, e := parseResources(values)
	if e != nil {
		return nil, e
	}
	for _, r := range list {
		if !p.resourceAllowed(c, r) {
			return nil, newErr(errInvalidTarget, "The resource %q is not available to this client.", r)
		}
	}
	return list, nil
}

// tokenResources is the audience of an access token issued from a grant
// authorized for granted (RFC 8707 §2.2): the requested resources, which
// must lie within granted when the grant names any; without a request,
// all of granted. Resources the client may no longer ask for are left
// out, as scopes removed from a client are.
func (p *Provider) tokenResources(c *storage.Client, values []string, granted []string) ([]string, *Error) {
	requested, e := parseResources(values)
	if e != nil {
		return nil, e
	}
	if len(requested) == 0 {
		var kept []string
		for _, r := range granted {
			if p.resourceAllowed(c, r) {
				kept = append(kept, r)
			}
		}
		if len(granted) > 0 && len(kept) == 0 {
			return nil, newErr(errInvalidTarget, "None of the granted resources is still available to this client.")
		}
		return kept, nil
	}
	for _, r := range requested {
		if len(granted) > 0 && !slices.Contains(granted, r) {
			// RFC 8707 §2.2: never wider than the grant.
			return nil, newErr(errInvalidTarget, "The resource %q was not part of the authorization.", r)
		}
		if !p.resourceAllowed(c, r) {
			return nil, newErr(errInvalidTarget, "The resource %q is not available to this client.", r)
		}
	}
	return requested, nil
}
