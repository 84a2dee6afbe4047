package dpop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/oidcd/oidcd/keys"
	"github.com/oidcd/oidcd/storage/memstore"
)

const target = "https://id.example.com/token"

type signer struct {
	key *ecdsa.PrivateKey
}

func newSigner(t *testing.T) *signer {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &signer{key: k}
}

// proof signs claims with extra header fields; jwk is the public key
// unless hdr overrides it.
func (s *signer) proof(t *testing.T, claims map[string]any, hdr map[jose.HeaderKey]any, alg jose.SignatureAlgorithm, key any) string {
	t.Helper()
	opts := &jose.SignerOptions{}
	opts.WithHeader("typ", "dpop+jwt")
	opts.EmbedJWK = true
	for k, v := range hdr {
		opts.WithHeader(k, v)
	}
	if key == nil {
		key = s.key
	}
	sg, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(claims)
	obj, err := sg.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := obj.CompactSerialize()
	return out
}

func newChecker(t *testing.T, now time.Time) *Checker {
	sealer, _ := keys.NewSealer([]byte("0123456789abcdef0123456789abcdef-test"))
	return &Checker{Replays: memstore.New(), Sealer: sealer, Window: time.Minute, NonceLifetime: 5 * time.Minute,
		Now: func() time.Time { return now }}
}

func TestCheckProof(t *testing.T) {
	now := time.Unix(1_900_000_000, 0)
	s := newSigner(t)
	c := newChecker(t, now)
	good := func() map[string]any {
		return map[string]any{"jti": "j-" + time.Now().String(), "htm": "POST", "htu": target, "iat": now.Unix()}
	}
	hmacKey := []byte("0123456789abcdef0123456789abcdef")
	tests := []struct {
		name  string
		proof func() string
	}{
		{"wrong typ", func() string { return s.proof(t, good(), map[jose.HeaderKey]any{"typ": "JWT"}, jose.ES256, nil) }},
		{"HMAC", func() string {
			sg, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: hmacKey}, (&jose.SignerOptions{}).WithHeader("typ", "dpop+jwt"))
			b, _ := json.Marshal(good())
			o, _ := sg.Sign(b)
			out, _ := o.CompactSerialize()
			return out
		}},
		{"no jwk", func() string {
			sg, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: s.key}, (&jose.SignerOptions{}).WithHeader("typ", "dpop+jwt"))
			b, _ := json.Marshal(good())
			o, _ := sg.Sign(b)
			out, _ := o.CompactSerialize()
			return out
		}},
		{"private key in jwk", func() string {
			return s.proof(t, good(), map[jose.HeaderKey]any{"jwk": jose.JSONWebKey{Key: s.key}}, jose.ES256, nil)
		}},
		{"jwk of another key", func() string {
			other := newSigner(t)
			return s.proof(t, good(), map[jose.HeaderKey]any{"jwk": jose.JSONWebKey{Key: other.key.Public()}}, jose.ES256, nil)
		}},
		{"other method", func() string { c := good(); c["htm"] = "GET"; return s.proof(t, c, nil, jose.ES256, nil) }},
		{"other URL", func() string {
			c := good()
			c["htu"] = "https://id.example.com/userinfo"
			return s.proof(t, c, nil, jose.ES256, nil)
		}},
		{"other host", func() string {
			c := good()
			c["htu"] = "https://evil.example.com/token"
			return s.proof(t, c, nil, jose.ES256, nil)
		}},
		{"no jti", func() string { c := good(); delete(c, "jti"); return s.proof(t, c, nil, jose.ES256, nil) }},
		{"no iat", func() string { c := good(); delete(c, "iat"); return s.proof(t, c, nil, jose.ES256, nil) }},
		{"iat too old", func() string {
			c := good()
			c["iat"] = now.Add(-2 * time.Minute).Unix()
			return s.proof(t, c, nil, jose.ES256, nil)
		}},
		{"iat in the future", func() string {
			c := good()
			c["iat"] = now.Add(2 * time.Minute).Unix()
			return s.proof(t, c, nil, jose.ES256, nil)
		}},
		{"ath without a token", func() string { c := good(); c["ath"] = "x"; return s.proof(t, c, nil, jose.ES256, nil) }},
		{"not a JWS", func() string { return "a.b.c" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.CheckProof(t.Context(), tc.proof(), "POST", target, "")
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("got %v, want ErrInvalid", err)
			}
		})
	}

	t.Run("valid, then replayed", func(t *testing.T) {
		p := s.proof(t, good(), nil, jose.ES256, nil)
		got, err := c.CheckProof(t.Context(), p, "POST", target+"?ignored=1", "")
		if err != nil {
			t.Fatal(err)
		}
		jwk := jose.JSONWebKey{Key: s.key.Public()}
		tp, _ := jwk.Thumbprint(crypto.SHA256)
		if got.JKT != base64.RawURLEncoding.EncodeToString(tp) {
			t.Errorf("jkt %q", got.JKT)
		}
		if _, err := c.CheckProof(t.Context(), p, "POST", target, ""); !errors.Is(err, ErrInvalid) {
			t.Fatalf("replay: %v", err)
		}
		// Another checker (node) on the same store refuses it too.
		other := newChecker(t, now)
		other.Replays = c.Replays
		if _, err := other.CheckProof(t.Context(), p, "POST", target, ""); !errors.Is(err, ErrInvalid) {
			t.Fatalf("replay on another node: %v", err)
		}
	})
	t.Run("ath", func(t *testing.T) {
		sum := sha256.Sum256([]byte("the-token"))
		cl := good()
		cl["ath"] = base64.RawURLEncoding.EncodeToString(sum[:])
		cl["htm"] = "GET"
		if _, err := c.CheckProof(t.Context(), s.proof(t, cl, nil, jose.ES256, nil), "GET", target, "another-token"); !errors.Is(err, ErrInvalid) {
			t.Fatalf("ath of another token: %v", err)
		}
		cl["jti"] = "ath-ok"
		if _, err := c.CheckProof(t.Context(), s.proof(t, cl, nil, jose.ES256, nil), "GET", target, "the-token"); err != nil {
			t.Fatalf("ath: %v", err)
		}
	})
	t.Run("nonce", func(t *testing.T) {
		nc := newChecker(t, now)
		nc.RequireNonce = true
		if _, err := nc.CheckProof(t.Context(), s.proof(t, good(), nil, jose.ES256, nil), "POST", target, ""); !errors.Is(err, ErrUseNonce) {
			t.Fatalf("no nonce: %v", err)
		}
		cl := good()
		cl["nonce"] = "forged"
		if _, err := nc.CheckProof(t.Context(), s.proof(t, cl, nil, jose.ES256, nil), "POST", target, ""); !errors.Is(err, ErrUseNonce) {
			t.Fatalf("forged nonce: %v", err)
		}
		// A nonce from another node (same secret) works; an old one does not.
		other := newChecker(t, now.Add(-4*time.Minute))
		cl = good()
		cl["nonce"] = other.Nonce()
		if _, err := nc.CheckProof(t.Context(), s.proof(t, cl, nil, jose.ES256, nil), "POST", target, ""); err != nil {
			t.Fatalf("4-minute-old nonce: %v", err)
		}
		old := newChecker(t, now.Add(-6*time.Minute))
		cl = good()
		cl["nonce"] = old.Nonce()
		if _, err := nc.CheckProof(t.Context(), s.proof(t, cl, nil, jose.ES256, nil), "POST", target, ""); !errors.Is(err, ErrUseNonce) {
			t.Fatalf("expired nonce: %v", err)
		}
	})
}

func TestSameURI(t *testing.T) {
	for _, tc := range []struct {
		htu  string
		same bool
	}{
		{"https://ID.example.com/token", true},
		{"https://id.example.com:443/token", true},
		{"https://id.example.com/token?x=1#f", true},
		{"https://id.example.com/token/", false},
		{"https://id.example.com/Token", false},
		{"http://id.example.com/token", false},
		{"https://id.example.com:8443/token", false},
		{"/token", false},
		{"https://user@id.example.com/token", false},
	} {
		if got := SameURI(tc.htu, target); got != tc.same {
			t.Errorf("SameURI(%q) = %v", tc.htu, got)
		}
	}
}
