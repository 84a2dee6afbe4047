package op

import (
	"net/http"
	"net/url"
)

// Input limits (SECURITY L6; docs/security.md "Input limits"). Every parser
// of untrusted input is linear in its input and bounded by these maximums;
// a request over any of them is refused with 400 before any further work.
const (
	// MaxQueryBytes bounds the query string of every endpoint.
	MaxQueryBytes = 32 << 10
	// MaxFormBytes bounds every form body (authorization by POST, token,
	// introspection, revocation, userinfo).
	MaxFormBytes = 32 << 10
	// MaxParams bounds the number of distinct parameters of one request.
	MaxParams = 64
	// MaxParamBytes bounds each parameter except the larger ones below.
	MaxParamBytes = 2 << 10
	// MaxScopes bounds the number of words in a scope parameter.
	MaxScopes = 64
	// MaxClaimsBytes bounds the claims parameter (OIDC Core §5.5).
	MaxClaimsBytes = 8 << 10
	// MaxClaimsDepth bounds the nesting of the claims parameter's JSON.
	MaxClaimsDepth = 6
	// MaxClaimsRequested bounds the claims it names, both members together.
	MaxClaimsRequested = 64
	// MaxJWTBytes bounds id_token_hint, request objects and other JWTs
	// received as parameters.
	MaxJWTBytes = 8 << 10
	// MaxResources bounds the resource indicators of one request (RFC 8707)
	// and of one client's registration.
	MaxResources = 16
)

// paramLimit is the maximum size of the named parameter.
func paramLimit(name string) int {
	switch name {
	case "claims":
		return MaxClaimsBytes
	case "id_token_hint", "request", "client_assertion", "assertion", "logout_token",
		// Tokens that may be JWT access tokens (RFC 9068).
		"token", "subject_token", "actor_token":
		return MaxJWTBytes
	}
	return MaxParamBytes
}

// checkLimits applies the documented maximums to parsed parameters. It is
// linear in their total size and allocates nothing.
func checkLimits(params url.Values) *Error {
	if len(params) > MaxParams {
		return newErr(errInvalidRequest, "The request has more than %d parameters.", MaxParams)
	}
	for k, vs := range params {
		if len(k) > MaxParamBytes {
			return newErr(errInvalidRequest, "A parameter name is longer than %d bytes.", MaxParamBytes)
		}
		limit := paramLimit(k)
		for _, v := range vs {
			if len(v) > limit {
				return newErr(errInvalidRequest, "The %s parameter is longer than %d bytes.", k, limit)
			}
		}
	}
	for _, v := range params["scope"] {
		if countFields(v, MaxScopes+1) > MaxScopes {
			return newErr(errInvalidScope, "The scope parameter has more than %d values.", MaxScopes)
		}
	}
	if len(params["resource"]) > MaxResources {
		return newErr(errInvalidTarget, "The request names more than %d resources.", MaxResources)
	}
	for _, v := range params["claims"] {
		if jsonDepth(v) > MaxClaimsDepth {
			return newErr(errInvalidRequest, "The claims parameter is nested deeper than %d levels.", MaxClaimsDepth)
		}
	}
	return nil
}

// queryTooLong reports whether r's query string is over MaxQueryBytes.
func queryTooLong(r *http.Request) bool { return len(r.URL.RawQuery) > MaxQueryBytes }

// countFields counts space-separated words of s, stopping at stop.
func countFields(s string, stop int) int {
	n, in := 0, false
	for i := 0; i < len(s) && n < stop; i++ {
		space := s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || s[i] == '\v' || s[i] == '\f'
		if !space && !in {
			n++
		}
		in = !space
	}
	return n
}

// jsonDepth returns the deepest nesting of objects and arrays in a JSON
// text, in one pass (strings are skipped, so brackets inside them do not
// count). Malformed JSON is left to the decoder.
func jsonDepth(s string) int {
	depth, deepest, inStr, esc := 0, 0, false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if inStr {
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case '{', '[':
			depth++
			deepest = max(deepest, depth)
		case '}', ']':
			depth--
		}
	}
	return deepest
}
