package op

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/oidcd/oidcd/op/internal/dpop"
	"github.com/oidcd/oidcd/storage"
	"github.com/oidcd/oidcd/storage/memstore"
)

// Introspector guards handlers of a resource server that runs in another
// process than the provider: it checks tokens at the provider's
// introspection endpoint (RFC 7662) and caches answers briefly.
type Introspector struct {
	// Endpoint is the provider's introspection URL. Required.
	Endpoint string
	// ClientID and ClientSecret authenticate the resource server; its
	// client needs the token_introspection scope. Required.
	ClientID, ClientSecret string
	// HTTPClient defaults to a client with a 10s timeout.
	HTTPClient *http.Client
	// CacheTTL bounds how long an answer is reused; a revoked token may be
	// accepted this long. Defaults to 30s; negative disables the cache.
	CacheTTL time.Duration
	// CacheSize bounds the number of cached answers. Defaults to 10000.
	CacheSize int
	// ResourceURL is the resource server's public origin
	// ("https://api.example.com"): with the request's path it is the URL
	// DPoP proofs must name (RFC 9449 §4.3 htu). DPoP-bound tokens are
	// refused without it; bearer tokens do not need it.
	ResourceURL string
	// Resource is the resource server's resource indicator (RFC 8707):
	// when set, only tokens whose audience names it are accepted; a live
	// token for another resource is refused as invalid (ErrTokenInactive
	// from Check). Empty: any audience.
	Resource string
	// Replays remembers DPoP proofs' jti values so that each is used once.
	// Defaults to an in-memory store of this process; resource servers on
	// several nodes pass shared storage (a storage.Provider does).
	Replays storage.Replays
	// DPoPProofWindow bounds how far a proof's iat may lie from now.
	// Defaults to 1m.
	DPoPProofWindow time.Duration

	mu       sync.Mutex
	dpopOnce sync.Once
	dpop     *dpop.Checker
	cache    map[[32]byte]cachedIntrospection
}

// Errors of Introspector.Check.
var (
	// ErrTokenInactive means the provider answered that the token is not
	// active: unknown, expired, revoked, a refresh token, or issued to a
	// client outside the resource server's scope (RFC 7662 §2.2).
	ErrTokenInactive = errors.New("op: token is not active")
	// ErrIntrospectionFailed means the provider could not be asked or gave
	// no usable answer (network error, non-200 status, malformed body); the
	// token's state is unknown. Errors wrapping it say more.
	ErrIntrospectionFailed = errors.New("op: introspection failed")
)

type cachedIntrospection struct {
	info    *TokenInfo // nil: inactive
	expires time.Time
}

// Protect returns a middleware like Provider.Protect, backed by introspection.
func (in *Introspector) Protect(scopes ...string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			value, scheme := "", ""
			if h := r.Header.Get("Authorization"); h != "" {
				sch, tok, ok := strings.Cut(h, " ")
				if ok && (strings.EqualFold(sch, "Bearer") || strings.EqualFold(sch, "DPoP")) {
					value, scheme = strings.TrimSpace(tok), strings.ToLower(sch)
				}
			}
			if value == "" {
				w.Header().Set("WWW-Authenticate", bearerChallenge(&Error{}, ""))
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			challenge := bearerChallenge
			if scheme == "dpop" {
				challenge = dpopChallenge
			}
			info, err := in.Check(r.Context(), value)
			if errors.Is(err, ErrTokenInactive) {
				e := &Error{Code: errInvalidToken, Description: "The access token is invalid, expired or revoked.", Status: http.StatusUnauthorized}
				w.Header().Set("WWW-Authenticate", challenge(e, ""))
				writeJSON(w, e.status(), map[string]string{"error": e.Code, "error_description": e.Description})
				return
			}
			if err != nil {
				e := &Error{Code: errTemporarilyUnavailable, Description: "The token could not be checked.", Status: http.StatusServiceUnavailable}
				writeJSON(w, e.status(), map[string]string{"error": e.Code, "error_description": e.Description})
				return
			}
			if e := in.checkPresentation(r, scheme, value, info); e != nil {
				w.Header().Set("WWW-Authenticate", dpopChallenge(e, ""))
				writeJSON(w, e.status(), map[string]string{"error": e.Code, "error_description": e.Description})
				return
			}
			if missing := missingScopes(info.Scope, scopes); missing != "" {
				e := insufficientScope(missing)
				w.Header().Set("WWW-Authenticate", challenge(e, missing))
				writeJSON(w, e.status(), map[string]string{"error": e.Code, "error_description": e.Description})
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), tokenInfoKey{}, info)))
		})
	}
}

// Check introspects a token. It returns the token's TokenInfo when the
// token is active, an error wrapping ErrTokenInactive when it is not, and
// one wrapping ErrIntrospectionFailed when the provider could not tell.
// Answers (inactive ones included) are cached for CacheTTL, never beyond
// the token's expiry.
func (in *Introspector) Check(ctx context.Context, token string) (*TokenInfo, error) {
	key := sha256.Sum256([]byte(token))
	now := time.Now()
	ttl := in.CacheTTL
	if ttl == 0 {
		ttl = 30 * time.Second
	}
	if ttl > 0 {
		in.mu.Lock()
		c, ok := in.cache[key]
		in.mu.Unlock()
		if ok && now.Before(c.expires) {
			return c.result()
		}
	}
	info, err := in.ask(ctx, token)
	if err != nil && !errors.Is(err, ErrTokenInactive) {
		return nil, err
	}
	if ttl > 0 {
		exp := now.Add(ttl)
		if info != nil && info.ExpiresAt.Before(exp) {
			exp = info.ExpiresAt
		}
		c := cachedIntrospection{info: info, expires: exp}
		in.store(key, c, now)
		return c.result() // a copy: the caller cannot change the cache
	}
	return info, err
}

func (c cachedIntrospection) result() (*TokenInfo, error) {
	if c.info == nil {
		return nil, ErrTokenInactive
	}
	cp := *c.info
	cp.Scope = slices.Clone(c.info.Scope)
	cp.Audience = slices.Clone(c.info.Audience)
	return &cp, nil
}

func (in *Introspector) store(key [32]byte, c cachedIntrospection, now time.Time) {
	size := in.CacheSize
	if size <= 0 {
		size = 10000
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.cache == nil {
		in.cache = map[[32]byte]cachedIntrospection{}
	}
	if len(in.cache) >= size {
		for k, v := range in.cache {
			if now.After(v.expires) {
				delete(in.cache, k)
			}
		}
		// Still full: drop arbitrary entries (map order) to make room.
		for k := range in.cache {
			if len(in.cache) < size {
				break
			}
			delete(in.cache, k)
		}
	}
	in.cache[key] = c
}

func (in *Introspector) ask(ctx context.Context, token string) (*TokenInfo, error) {
	client := in.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	body := url.Values{"token": {token}, "token_type_hint": {"access_token"}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.Endpoint, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(in.ClientID), url.QueryEscape(in.ClientSecret))
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrIntrospectionFailed, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: status %d", ErrIntrospectionFailed, resp.StatusCode)
	}
	var r struct {
		Active    bool   `json:"active"`
		Scope     string `json:"scope"`
		ClientID  string `json:"client_id"`
		Sub       string `json:"sub"`
		Exp       int64  `json:"exp"`
		TokenType string `json:"token_type"`
		Cnf       struct {
			JKT string `json:"jkt"`
		} `json:"cnf"`
		Aud json.RawMessage `json:"aud"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(nil, resp.Body, 1<<20)).Decode(&r); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrIntrospectionFailed, err)
	}
	if !r.Active || r.TokenType == "refresh_token" {
		return nil, ErrTokenInactive
	}
	// RFC 7662 §2.2: aud is a string or an array of strings. Ours says
	// the client id for a token without resources.
	var aud []string
	if len(r.Aud) > 0 && json.Unmarshal(r.Aud, &aud) != nil {
		var one string
		if json.Unmarshal(r.Aud, &one) != nil {
			return nil, fmt.Errorf("%w: malformed aud", ErrIntrospectionFailed)
		}
		aud = []string{one}
	}
	if len(aud) == 1 && aud[0] == r.ClientID {
		aud = nil
	}
	if in.Resource != "" && !slices.Contains(aud, in.Resource) {
		return nil, fmt.Errorf("%w: not meant for %s", ErrTokenInactive, in.Resource)
	}
	// The provider reports a client-credentials token with the client as
	// its subject (op's introspection endpoint does).
	return &TokenInfo{
		ClientID:          r.ClientID,
		Subject:           r.Sub,
		ClientCredentials: r.Sub == r.ClientID,
		Scope:             strings.Fields(r.Scope),
		ExpiresAt:         time.Unix(r.Exp, 0).UTC(),
		JKT:               r.Cnf.JKT,
		Audience:          aud,
	}, nil
}

// checkPresentation applies RFC 9449 §7 at a resource server: a DPoP-bound
// token needs the DPoP scheme and a proof by its key over this request,
// hashing the token; it is refused as a bearer token (§7.2).
func (in *Introspector) checkPresentation(r *http.Request, scheme, value string, info *TokenInfo) *Error {
	if scheme != "dpop" {
		if info.JKT != "" {
			return &Error{Code: errInvalidToken, Description: "The access token is bound to a DPoP key; present it with the DPoP scheme and a proof.", Status: http.StatusUnauthorized}
		}
		return nil
	}
	if in.ResourceURL == "" {
		return &Error{Code: errInvalidToken, Description: "This resource server does not accept DPoP tokens.", Status: http.StatusUnauthorized}
	}
	in.dpopOnce.Do(func() {
		replays := in.Replays
		if replays == nil {
			replays = memstore.New()
		}
		window := in.DPoPProofWindow
		if window <= 0 {
			window = time.Minute
		}
		in.dpop = &dpop.Checker{Replays: replays, Window: window, Now: time.Now}
	})
	path := r.URL.EscapedPath()
	if u, err := url.ParseRequestURI(r.RequestURI); err == nil && r.RequestURI != "" {
		path = u.EscapedPath()
	}
	proof, err := in.dpop.Check(r.Context(), r, strings.TrimSuffix(in.ResourceURL, "/")+path, value)
	if err != nil {
		e := proofError(err)
		e.Status = http.StatusUnauthorized
		return e
	}
	if info.JKT == "" || proof.JKT != info.JKT {
		return &Error{Code: errInvalidToken, Description: "The access token is not bound to the DPoP proof's key.", Status: http.StatusUnauthorized}
	}
	return nil
}
