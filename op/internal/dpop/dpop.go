package dpop

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/oidcd/oidcd/keys"
	"github.com/oidcd/oidcd/storage"
)

// Algs are the proof algorithms accepted: asymmetric only (RFC 9449 §4.3
// item 5), never "none" nor an HMAC.
var Algs = []jose.SignatureAlgorithm{
	jose.ES256, jose.ES384, jose.ES512, jose.RS256, jose.RS384, jose.RS512,
	jose.PS256, jose.PS384, jose.PS512, jose.EdDSA,
}

// AlgNames are Algs as strings, for discovery's
// dpop_signing_alg_values_supported and WWW-Authenticate's algs.
func AlgNames() []string {
	out := make([]string, len(Algs))
	for i, a := range Algs {
		out[i] = string(a)
	}
	return out
}

// MaxProofSize bounds a DPoP header before it is parsed.
const MaxProofSize = 8 << 10

// Errors. ErrInvalid is wrapped by every refusal (its text, logged, says
// why); ErrUseNonce means the proof lacks a valid server nonce and the
// client should retry with the nonce the answer carries (RFC 9449 §8).
var (
	ErrInvalid  = errors.New("dpop: invalid proof")
	ErrUseNonce = errors.New("dpop: a server nonce is required")
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Checker checks proofs. Its fields are set once.
type Checker struct {
	// Replays records each proof's jti for the window, so that a proof is
	// used once on any node (RFC 9449 §11.1). Required.
	Replays storage.Replays
	// Sealer keys the nonces. Required.
	Sealer keys.Sealer
	// Window bounds how far a proof's iat may lie from now, either way
	// (RFC 9449 §4.3 item 11); a jti is remembered twice as long.
	Window time.Duration
	// RequireNonce makes every proof carry a nonce this server issued.
	RequireNonce bool
	// NonceLifetime is how long a nonce is accepted.
	NonceLifetime time.Duration
	Now           func() time.Time
}

// Proof is a checked proof.
type Proof struct {
	// JKT is the JWK SHA-256 thumbprint of the proof's key (RFC 7638),
	// base64url: what tokens are bound to (RFC 9449 §6).
	JKT string
	JTI string
	IAT time.Time
}

type claims struct {
	JTI   string          `json:"jti"`
	HTM   string          `json:"htm"`
	HTU   string          `json:"htu"`
	IAT   json.Number     `json:"iat"`
	ATH   string          `json:"ath"`
	Nonce json.RawMessage `json:"nonce"`
}

// Check checks the DPoP proof of request r for the target URI htu (the
// endpoint's absolute URL without query and fragment). accessToken, when
// not empty, is the token the request presents, which the proof must hash
// in ath (RFC 9449 §7). It returns ErrInvalid (wrapped), ErrUseNonce, or
// a storage error.
func (c *Checker) Check(ctx context.Context, r *http.Request, htu, accessToken string) (*Proof, error) {
	hdrs := r.Header.Values("DPoP")
	if len(hdrs) != 1 {
		return nil, invalid("want exactly one DPoP header, got %d", len(hdrs))
	}
	return c.CheckProof(ctx, hdrs[0], r.Method, htu, accessToken)
}

// CheckProof checks one proof JWT (RFC 9449 §4.3).
func (c *Checker) CheckProof(ctx context.Context, proof, method, htu, accessToken string) (*Proof, error) {
	if len(proof) > MaxProofSize {
		return nil, invalid("proof longer than %d bytes", MaxProofSize)
	}
	jws, err := jose.ParseSigned(proof, Algs)
	if err != nil {
		return nil, invalid("not a JWS with an asymmetric algorithm: %v", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, invalid("want one signature")
	}
	h := jws.Signatures[0].Protected
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != "dpop+jwt" {
		return nil, invalid("typ %q, want dpop+jwt", typ)
	}
	jwk := h.JSONWebKey
	if jwk == nil || !jwk.Valid() {
		return nil, invalid("no valid jwk header")
	}
	if !jwk.IsPublic() {
		return nil, invalid("the jwk header holds a private key")
	}
	payload, err := jws.Verify(jwk)
	if err != nil {
		return nil, invalid("signature: %v", err)
	}
	var cl claims
	dec := json.NewDecoder(strings.NewReader(string(payload)))
	dec.UseNumber()
	if err := dec.Decode(&cl); err != nil {
		return nil, invalid("claims are not a JSON object")
	}
	if cl.JTI == "" || len(cl.JTI) > 256 {
		return nil, invalid("jti missing or too long")
	}
	if cl.HTM != method {
		return nil, invalid("htm %q, want %q", cl.HTM, method)
	}
	if !SameURI(cl.HTU, htu) {
		return nil, invalid("htu %q, want %q", cl.HTU, htu)
	}
	sec, err := cl.IAT.Int64()
	if err != nil {
		return nil, invalid("iat missing or not an integer")
	}
	now := c.Now()
	iat := time.Unix(sec, 0)
	if iat.Before(now.Add(-c.Window)) || iat.After(now.Add(c.Window)) {
		return nil, invalid("iat %s is outside the accepted window of %s", iat.UTC().Format(time.RFC3339), c.Window)
	}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		want := base64.RawURLEncoding.EncodeToString(sum[:])
		if subtle.ConstantTimeCompare([]byte(cl.ATH), []byte(want)) != 1 {
			return nil, invalid("ath does not hash the access token")
		}
	} else if cl.ATH != "" {
		return nil, invalid("ath without an access token")
	}
	if c.RequireNonce {
		var nonce string
		if len(cl.Nonce) == 0 || json.Unmarshal(cl.Nonce, &nonce) != nil || !c.ValidNonce(nonce) {
			return nil, ErrUseNonce
		}
	}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, invalid("thumbprint: %v", err)
	}
	jkt := base64.RawURLEncoding.EncodeToString(tp)
	// Single use across nodes, recorded only for a verified proof (so
	// forgeries cannot burn jtis) and keyed by the key too (two clients may
	// choose the same jti).
	key := sha256.Sum256([]byte("dpop\x00" + jkt + "\x00" + cl.JTI))
	if err := c.Replays.UseOnce(ctx, key[:], now, now.Add(2*c.Window)); errors.Is(err, storage.ErrReused) {
		return nil, invalid("jti %q was used before", cl.JTI)
	} else if err != nil {
		return nil, err
	}
	return &Proof{JKT: jkt, JTI: cl.JTI, IAT: iat}, nil
}

// SameURI compares a proof's htu with the target URI: scheme and host
// case-insensitively, the path exactly, query and fragment ignored (RFC
// 9449 §4.3 item 9, RFC 3986 §6.2.2 and §6.2.3 normalisation limited to
// case and the default port).
func SameURI(htu, target string) bool {
	a, err1 := url.Parse(htu)
	b, err2 := url.Parse(target)
	if err1 != nil || err2 != nil || !a.IsAbs() || a.Opaque != "" || a.User != nil {
		return false
	}
	return strings.EqualFold(a.Scheme, b.Scheme) && hostPort(a) == hostPort(b) && a.EscapedPath() == b.EscapedPath()
}

func hostPort(u *url.URL) string {
	h, p := strings.ToLower(u.Hostname()), u.Port()
	if (p == "443" && strings.EqualFold(u.Scheme, "https")) || (p == "80" && strings.EqualFold(u.Scheme, "http")) {
		p = ""
	}
	return h + ":" + p
}

// nonceStep is the granularity of nonces: one per step, valid for
// NonceLifetime, so all nodes give out and accept the same values.
const nonceStep = 30 * time.Second

// Nonce returns the current server nonce (RFC 9449 §8): the time step and
// a MAC over it, so any node holding the system secret checks it without
// storage.
func (c *Checker) Nonce() string {
	step := c.Now().Unix() / int64(nonceStep/time.Second)
	return c.nonceFor(step)
}

func (c *Checker) nonceFor(step int64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(step))
	mac := c.Sealer.MAC("dpop-nonce", string(b[:]))
	return base64.RawURLEncoding.EncodeToString(append(b[:], mac[:16]...))
}

// ValidNonce reports whether nonce was issued within NonceLifetime.
func (c *Checker) ValidNonce(nonce string) bool {
	raw, err := base64.RawURLEncoding.DecodeString(nonce)
	if err != nil || len(raw) != 24 {
		return false
	}
	step := int64(binary.BigEndian.Uint64(raw[:8]))
	if subtle.ConstantTimeCompare([]byte(c.nonceFor(step)), []byte(nonce)) != 1 {
		return false
	}
	now := c.Now().Unix() / int64(nonceStep/time.Second)
	age := time.Duration(now-step) * nonceStep
	return age >= 0 && age <= c.NonceLifetime
}
