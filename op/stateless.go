package op

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/oidcd/oidcd/keys"
	"github.com/oidcd/oidcd/storage"
)

// Stateless client_credentials access tokens (Config.StatelessClientCredentials).
//
// A stored access token costs a durable write per token: on SQLite about
// half of a client_credentials token's CPU, measured (issue 15). A
// stateless one carries what its stored row would hold, under a MAC keyed
// by the system secret (Sealer.MAC, a key separate from every other use by
// its first part), so nothing is written when it is issued:
//
//	"cc1_" base64url(payload) "." base64url(MAC("stateless_access_token", payload))
//
// payload is a version byte (1), the creation and expiry times (Unix
// milliseconds, 8 bytes each), 16 random bytes naming the token, then the
// client id, the scope, the audience and the DPoP key's thumbprint, each a
// uvarint length and its bytes. A token is live when its MAC verifies, it
// has not expired, its client exists and was created before it (an id
// deleted and created again does not revive old tokens), and it is not
// recorded as revoked: revocation records the token's name in
// storage.Replays until the token would have expired, which every node
// reads on each lookup, so it takes effect at once everywhere.
//
// What the choice gives up: the tokens are not listed among the client's
// grants (there is no grant), deleting a client ends them within
// ClientCacheTTL on other nodes (at once where ForgetClient is called), and
// changing the system secret (oidcd secret rotate) ends all of them.

// StatelessTokenPrefix begins every stateless access token.
const StatelessTokenPrefix = "cc1_"

const (
	statelessPrefix  = StatelessTokenPrefix
	statelessVersion = 1
	statelessMACPart = "stateless_access_token"
	// maxStatelessLen bounds what lookup decodes: a client id, scope and
	// audience within the form limits fit well inside it.
	maxStatelessLen = 4096
)

// statelessToken is what a stateless access token carries.
type statelessToken struct {
	created, expires time.Time
	id               [16]byte
	clientID, jkt    string
	scope, audience  []string
}

// isStateless reports whether v has the shape of a stateless access token
// (not whether it is valid).
func isStateless(v string) bool { return strings.HasPrefix(v, statelessPrefix) }

// newStatelessToken returns the value of a stateless access token.
func (p *Provider) newStatelessToken(t *statelessToken) string {
	rand.Read(t.id[:])
	b := make([]byte, 0, 64+len(t.clientID)+len(t.jkt))
	b = append(b, statelessVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(t.created.UnixMilli()))
	b = binary.BigEndian.AppendUint64(b, uint64(t.expires.UnixMilli()))
	b = append(b, t.id[:]...)
	for _, s := range []string{t.clientID, strings.Join(t.scope, " "), strings.Join(t.audience, " "), t.jkt} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	mac := p.cfg.Sealer.MAC(statelessMACPart, string(b))
	enc := base64.RawURLEncoding
	return statelessPrefix + enc.EncodeToString(b) + "." + enc.EncodeToString(mac)
}

// errStateless is any way a presented stateless token is not one of ours.
var errStateless = errors.New("op: not a valid stateless access token")

// StatelessRevocation checks the MAC of the stateless access token v
// (Config.StatelessClientCredentials) with sealer and returns what revoking
// it records: key, for storage.Replays.UseOnce until the token expires,
// and the token's client. An error wrapping storage.ErrNotFound when v is
// not such a token under this system secret. For tools that revoke a token
// by its value (oidcd tokens revoke); /revoke records the same key.
func StatelessRevocation(sealer keys.Sealer, v string) (key []byte, clientID string, expires time.Time, err error) {
	t, err := parseStateless(sealer, v)
	if err != nil {
		return nil, "", time.Time{}, fmt.Errorf("%w: %w", err, storage.ErrNotFound)
	}
	return t.revokedKey(), t.clientID, t.expires, nil
}

func (p *Provider) parseStateless(v string) (*statelessToken, error) {
	return parseStateless(p.cfg.Sealer, v)
}

// parseStateless verifies v's MAC and decodes it; it does not look at the
// time, the client or revocation.
func parseStateless(sealer keys.Sealer, v string) (*statelessToken, error) {
	if len(v) > maxStatelessLen || !isStateless(v) {
		return nil, errStateless
	}
	body, sig, ok := strings.Cut(v[len(statelessPrefix):], ".")
	if !ok {
		return nil, errStateless
	}
	enc := base64.RawURLEncoding
	b, err := enc.DecodeString(body)
	if err != nil {
		return nil, errStateless
	}
	mac, err := enc.DecodeString(sig)
	if err != nil || !sealer.VerifyMAC(mac, statelessMACPart, string(b)) {
		return nil, errStateless
	}
	// The MAC is ours, so the payload is too; it is decoded with the same
	// care all the same.
	if len(b) < 1+8+8+16 || b[0] != statelessVersion {
		return nil, errStateless
	}
	t := &statelessToken{
		created: time.UnixMilli(int64(binary.BigEndian.Uint64(b[1:9]))),
		expires: time.UnixMilli(int64(binary.BigEndian.Uint64(b[9:17]))),
	}
	copy(t.id[:], b[17:33])
	rest := b[33:]
	var fields [4]string
	for i := range fields {
		n, k := binary.Uvarint(rest)
		if k <= 0 || n > uint64(len(rest)-k) {
			return nil, errStateless
		}
		fields[i] = string(rest[k : k+int(n)])
		rest = rest[k+int(n):]
	}
	if len(rest) != 0 || fields[0] == "" {
		return nil, errStateless
	}
	t.clientID, t.jkt = fields[0], fields[3]
	t.scope, t.audience = strings.Fields(fields[1]), strings.Fields(fields[2])
	return t, nil
}

// revokedKey names a revoked stateless token in storage.Replays, apart
// from the other values recorded there.
func (t *statelessToken) revokedKey() []byte {
	h := sha256.New()
	h.Write([]byte("op: revoked stateless access token\x00"))
	h.Write(t.id[:])
	return h.Sum(nil)
}

// lookupToken finds the access or refresh token presented as v: a live
// stateless token, or a stored one. ErrNotFound when it is neither.
func (p *Provider) lookupToken(ctx context.Context, v string, now time.Time) (*storage.Token, *storage.Grant, error) {
	if !isStateless(v) {
		return p.store.Token(ctx, tokenKey(v), now)
	}
	t, err := p.liveStateless(ctx, v, now)
	if err != nil {
		return nil, nil, err
	}
	tok := &storage.Token{
		Hash: t.revokedKey(), Kind: storage.AccessToken, ClientID: t.clientID, Scope: t.scope,
		CreatedAt: t.created, ExpiresAt: t.expires, Audience: t.audience, JKT: t.jkt,
	}
	g := &storage.Grant{ClientID: t.clientID, Scope: t.scope, CreatedAt: t.created, ExpiresAt: t.expires, Resources: t.audience}
	return tok, g, nil
}

// liveStateless returns the stateless token v if it is live at now (see
// the comment at the top), else ErrNotFound; storage errors as they are.
func (p *Provider) liveStateless(ctx context.Context, v string, now time.Time) (*statelessToken, error) {
	lookups, ok := p.store.(storage.ReplayLookups)
	if !p.cfg.StatelessClientCredentials || !ok {
		// Off, tokens made while it was on end: nothing could revoke them.
		return nil, fmt.Errorf("stateless access tokens are off: %w", storage.ErrNotFound)
	}
	t, err := p.parseStateless(v)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", err, storage.ErrNotFound)
	}
	if !now.Before(t.expires) {
		return nil, fmt.Errorf("stateless access token expired: %w", storage.ErrNotFound)
	}
	c, err := p.client(ctx, t.clientID)
	if err != nil {
		return nil, err // ErrNotFound for a deleted client
	}
	if c.CreatedAt.Truncate(time.Millisecond).After(t.created) {
		return nil, fmt.Errorf("stateless access token older than its client: %w", storage.ErrNotFound)
	}
	// t.created is cut to the millisecond: a token made in the millisecond
	// of a revocation, before or after it, is ended with the others.
	if !c.TokensRevokedAt.IsZero() && !t.created.After(c.TokensRevokedAt) {
		return nil, fmt.Errorf("stateless access token issued before its client's tokens were revoked: %w", storage.ErrNotFound)
	}
	revoked, err := lookups.Recorded(ctx, t.revokedKey(), now)
	if err != nil {
		return nil, err
	}
	if revoked {
		return nil, fmt.Errorf("stateless access token revoked: %w", storage.ErrNotFound)
	}
	return t, nil
}

// revokeStateless records the stateless token v as revoked until it
// expires. A token that is not live (already revoked, expired, forged) is
// left alone, as unknown tokens are (RFC 7009 §2.2); so is one of another
// client.
func (p *Provider) revokeStateless(ctx context.Context, c *storage.Client, v string, now time.Time) error {
	t, err := p.liveStateless(ctx, v, now)
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	if t.clientID != c.ID {
		p.log.InfoContext(ctx, "revocation of another client's token refused", "caller", c.ID)
		return nil
	}
	err = p.store.UseOnce(ctx, t.revokedKey(), now, t.expires)
	if errors.Is(err, storage.ErrReused) {
		return nil // revoked meanwhile
	}
	return err
}
