package memstore

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/oidcd/oidcd/storage"
)

var _ storage.Provider = (*Store)(nil)

// Store is an in-memory storage.Provider, safe for concurrent use. Every
// method runs under one mutex, so each call is atomic, and values are copied
// in and out: a caller never shares memory with the store.
type Store struct {
	mu             sync.RWMutex
	clients        map[string]*storage.Client
	codes          map[string]*storage.AuthCode // by string(hash)
	grants         map[string]*storage.Grant
	tokens         map[string]*storage.Token      // by string(hash)
	byGrant        map[string]map[string]struct{} // grant id → token hashes
	consents       map[consentKey]*storage.Consent
	keys           map[string]*storage.SigningKey
	failures       map[string][]failure                  // throttle key → failures, oldest first
	regTokens      map[string]*storage.RegistrationToken // by string(hash)
	usedOnce       map[string]time.Time                  // replay keys → expiry
	devices        map[string]*storage.DeviceAuth        // by string(device code hash)
	userCodes      map[string]string                     // user code hash → device code hash
	pushed         map[string]*storage.PushedRequest     // by string(hash)
	sessionClients map[sessionClientKey]*storage.SessionClient
	logouts        map[string]*storage.LogoutMessage
}

type sessionClientKey struct{ session, client string }

type consentKey struct{ user, client string }

// failure is one recorded throttle failure, kept until expires.
type failure struct{ at, expires time.Time }

// New returns an empty store.
func New() *Store {
	return &Store{
		clients:        map[string]*storage.Client{},
		codes:          map[string]*storage.AuthCode{},
		grants:         map[string]*storage.Grant{},
		tokens:         map[string]*storage.Token{},
		byGrant:        map[string]map[string]struct{}{},
		consents:       map[consentKey]*storage.Consent{},
		keys:           map[string]*storage.SigningKey{},
		failures:       map[string][]failure{},
		regTokens:      map[string]*storage.RegistrationToken{},
		usedOnce:       map[string]time.Time{},
		devices:        map[string]*storage.DeviceAuth{},
		userCodes:      map[string]string{},
		pushed:         map[string]*storage.PushedRequest{},
		sessionClients: map[sessionClientKey]*storage.SessionClient{},
		logouts:        map[string]*storage.LogoutMessage{},
	}
}

// Ping implements storage.Provider: an in-memory store is always reachable.
func (s *Store) Ping(ctx context.Context) error { return ctx.Err() }

// Times are kept as the SQL backends keep them: UTC, microsecond precision,
// the zero time as zero. Comparisons use the same precision.
func norm(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return time.UnixMicro(t.UnixMicro()).UTC()
}

// live reports whether something expiring at exp is valid at now; a zero
// exp is never valid.
func live(exp, now time.Time) bool { return !exp.IsZero() && exp.After(now) }

func notFound(what string) error {
	return fmt.Errorf("memstore: %s: %w", what, storage.ErrNotFound)
}

func exists(what string) error {
	return fmt.Errorf("memstore: %s: %w", what, storage.ErrAlreadyExists)
}

// Input checks, the same the SQL backend makes, so that a program moving
// between backends sees the same errors.

var errEmptyHash = errors.New("memstore: empty hash")

func checkHash(h []byte) error {
	if len(h) == 0 {
		return errEmptyHash
	}
	return nil
}

func checkID(what, id string) error {
	if id == "" {
		return fmt.Errorf("memstore: empty %s id", what)
	}
	if unmatchable(id) {
		return fmt.Errorf("memstore: %s id %q is not valid UTF-8 text", what, id)
	}
	return nil
}

// unmatchable reports strings no SQL text column can hold (NUL, invalid
// UTF-8): never stored, so never found.
func unmatchable(s string) bool {
	return strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s)
}

func checkScope(scope []string) error {
	for _, tok := range scope {
		if tok == "" || strings.ContainsAny(tok, " \t\r\n") {
			return fmt.Errorf("memstore: invalid scope token %q", tok)
		}
	}
	return nil
}

// Copies. Slices are cloned so that neither side can change the other's
// value; times are normalised on the way in.

func cloneClient(c *storage.Client) *storage.Client {
	cp := *c
	cp.SecretHash = bytes.Clone(c.SecretHash)
	cp.SecretSealed = bytes.Clone(c.SecretSealed)
	cp.ResponseTypes = slices.Clone(c.ResponseTypes)
	cp.RedirectURIs = slices.Clone(c.RedirectURIs)
	cp.PostLogoutRedirectURIs = slices.Clone(c.PostLogoutRedirectURIs)
	cp.Scope = slices.Clone(c.Scope)
	cp.CreatedAt = norm(c.CreatedAt)
	cp.GrantTypes = slices.Clone(c.GrantTypes)
	cp.LogoImage = bytes.Clone(c.LogoImage)
	cp.RequestURIs = slices.Clone(c.RequestURIs)
	cp.Resources = slices.Clone(c.Resources)
	cp.RegistrationTokenHash = bytes.Clone(c.RegistrationTokenHash)
	cp.PreviousSecretHash = bytes.Clone(c.PreviousSecretHash)
	cp.PreviousSecretExpiresAt = norm(c.PreviousSecretExpiresAt)
	cp.TokensRevokedAt = norm(c.TokensRevokedAt)
	return &cp
}

func cloneCode(c *storage.AuthCode) *storage.AuthCode {
	cp := *c
	cp.Hash = bytes.Clone(c.Hash)
	cp.Scope = slices.Clone(c.Scope)
	cp.Resources = slices.Clone(c.Resources)
	cp.AuthTime, cp.CreatedAt = norm(c.AuthTime), norm(c.CreatedAt)
	cp.ExpiresAt, cp.ConsumedAt = norm(c.ExpiresAt), norm(c.ConsumedAt)
	return &cp
}

func cloneGrant(g *storage.Grant) *storage.Grant {
	cp := *g
	cp.Scope = slices.Clone(g.Scope)
	cp.Resources = slices.Clone(g.Resources)
	cp.AuthTime, cp.CreatedAt = norm(g.AuthTime), norm(g.CreatedAt)
	cp.ExpiresAt, cp.RevokedAt = norm(g.ExpiresAt), norm(g.RevokedAt)
	return &cp
}

func cloneToken(t *storage.Token) *storage.Token {
	cp := *t
	cp.Hash = bytes.Clone(t.Hash)
	cp.Scope = slices.Clone(t.Scope)
	cp.Audience = slices.Clone(t.Audience)
	cp.CreatedAt, cp.ExpiresAt, cp.UsedAt = norm(t.CreatedAt), norm(t.ExpiresAt), norm(t.UsedAt)
	return &cp
}

func cloneConsent(c *storage.Consent) *storage.Consent {
	cp := *c
	cp.Scope = slices.Clone(c.Scope)
	cp.Claims = slices.Clone(c.Claims)
	cp.GivenAt, cp.ExpiresAt = norm(c.GivenAt), norm(c.ExpiresAt)
	return &cp
}

func cloneKey(k *storage.SigningKey) *storage.SigningKey {
	cp := *k
	cp.PrivateSealed = bytes.Clone(k.PrivateSealed)
	cp.CreatedAt, cp.RetiredAt, cp.ActivatesAt = norm(k.CreatedAt), norm(k.RetiredAt), norm(k.ActivatesAt)
	return &cp
}

// Clients.

// CreateClient implements storage.Clients.
func (s *Store) CreateClient(ctx context.Context, c *storage.Client) error {
	if err := checkID("client", c.ID); err != nil {
		return err
	}
	if err := checkScope(c.Scope); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.clients[c.ID]; ok {
		return exists("create client")
	}
	s.clients[c.ID] = cloneClient(c)
	return nil
}

// Client implements storage.Clients.
func (s *Store) Client(ctx context.Context, id string) (*storage.Client, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.clients[id]
	if !ok {
		return nil, notFound("client")
	}
	return cloneClient(c), nil
}

// UpdateClient implements storage.Clients.
func (s *Store) UpdateClient(ctx context.Context, c *storage.Client) error {
	if err := checkScope(c.Scope); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.clients[c.ID]
	if !ok {
		return notFound("update client")
	}
	kept := cloneClient(c)
	kept.TokensRevokedAt = old.TokensRevokedAt
	s.clients[c.ID] = kept
	return nil
}

// RevokeClientTokens implements storage.Clients.
func (s *Store) RevokeClientTokens(ctx context.Context, clientID string, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[clientID]
	if !ok {
		return notFound("revoke client tokens")
	}
	now = norm(now)
	c.TokensRevokedAt = now
	for _, g := range s.grants {
		if g.ClientID == clientID {
			s.revokeGrant(g, now)
		}
	}
	return nil
}

// DeleteClient implements storage.Clients: the client's codes, grants,
// tokens and consents go with it.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.clients[id]; !ok {
		return notFound("delete client")
	}
	delete(s.clients, id)
	for h, c := range s.codes {
		if c.ClientID == id {
			delete(s.codes, h)
		}
	}
	for h, d := range s.devices {
		if d.ClientID == id {
			s.deleteDeviceAuth(h)
		}
	}
	for gid, g := range s.grants {
		if g.ClientID == id {
			s.deleteGrant(gid)
		}
	}
	for h, t := range s.tokens {
		if t.ClientID == id {
			s.deleteToken(h)
		}
	}
	for k := range s.consents {
		if k.client == id {
			delete(s.consents, k)
		}
	}
	for h, r := range s.pushed {
		if r.ClientID == id {
			delete(s.pushed, h)
		}
	}
	for k := range s.sessionClients {
		if k.client == id {
			delete(s.sessionClients, k)
		}
	}
	for mid, m := range s.logouts {
		if m.ClientID == id {
			delete(s.logouts, mid)
		}
	}
	return nil
}

// ListClients implements storage.Clients, ordered by creation time (zero
// first), then id.
func (s *Store) ListClients(ctx context.Context) ([]*storage.Client, error) {
	s.mu.RLock()
	out := make([]*storage.Client, 0, len(s.clients))
	for _, c := range s.clients {
		out = append(out, cloneClient(c))
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b *storage.Client) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// Codes.

// CreateCode implements storage.Codes. The code's client must exist.
func (s *Store) CreateCode(ctx context.Context, c *storage.AuthCode) error {
	if err := checkHash(c.Hash); err != nil {
		return err
	}
	if err := checkScope(c.Scope); err != nil {
		return err
	}
	if err := checkScope(c.Resources); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.clients[c.ClientID]; !ok {
		return fmt.Errorf("memstore: create code: client %q does not exist", c.ClientID)
	}
	if _, ok := s.codes[string(c.Hash)]; ok {
		return exists("create code")
	}
	s.codes[string(c.Hash)] = cloneCode(c)
	return nil
}

// Code implements storage.Codes.
func (s *Store) Code(ctx context.Context, hash []byte, now time.Time) (*storage.AuthCode, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.codes[string(hash)]
	if !ok || len(hash) == 0 || !live(c.ExpiresAt, norm(now)) {
		return nil, notFound("code")
	}
	return cloneCode(c), nil
}

// ConsumeCode implements storage.Codes. The check, the mark and the
// creation of g with its tokens happen under one lock: of concurrent calls
// exactly one wins, and a grant that cannot be stored leaves the code
// unconsumed.
func (s *Store) ConsumeCode(ctx context.Context, hash []byte, now time.Time, g *storage.Grant, tokens ...*storage.Token) (*storage.AuthCode, error) {
	if g != nil {
		if err := checkGrant(g, tokens); err != nil {
			return nil, err
		}
	}
	now = norm(now)
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.codes[string(hash)]
	if !ok || len(hash) == 0 {
		return nil, notFound("consume code")
	}
	if !c.ConsumedAt.IsZero() {
		// Replay: revoke the grant the code was exchanged for (RFC 6749 §4.1.2).
		s.revokeCodeGrant(c, now)
		return cloneCode(c), fmt.Errorf("memstore: consume code: %w", storage.ErrReused)
	}
	if !live(c.ExpiresAt, now) {
		return nil, notFound("consume code") // expired, never used
	}
	if g != nil {
		if err := s.insertGrant(g, tokens); err != nil {
			return nil, err
		}
	}
	c.ConsumedAt = now
	return cloneCode(c), nil
}

// revokeCodeGrant revokes the grant named by a replayed code and deletes
// its tokens. If the grant does not exist yet (the replay came before the
// first redemption's CreateGrant) it leaves a revoked grant under that id,
// so that the CreateGrant that follows fails with ErrAlreadyExists instead
// of creating a live grant for a replayed code.
func (s *Store) revokeCodeGrant(c *storage.AuthCode, now time.Time) {
	if c.GrantID == "" {
		return
	}
	g, ok := s.grants[c.GrantID]
	if !ok {
		s.grants[c.GrantID] = &storage.Grant{
			ID: c.GrantID, ClientID: c.ClientID, UserID: c.UserID, SessionID: c.SessionID,
			Scope: slices.Clone(c.Scope), Claims: c.Claims, Nonce: c.Nonce, AuthTime: c.AuthTime,
			CreatedAt: now, ExpiresAt: c.ExpiresAt, RevokedAt: now,
		}
		return
	}
	s.revokeGrant(g, now)
}

// Grants and tokens.

// checkGrant validates a grant and its first tokens before any write.
func checkGrant(g *storage.Grant, tokens []*storage.Token) error {
	if err := checkID("grant", g.ID); err != nil {
		return err
	}
	if err := checkScope(g.Scope); err != nil {
		return err
	}
	if err := checkScope(g.Resources); err != nil {
		return err
	}
	return checkTokens(g.ID, g.ClientID, tokens)
}

// checkTokens validates tokens about to be stored under the grant grantID
// of the client clientID.
func checkTokens(grantID, clientID string, tokens []*storage.Token) error {
	for _, t := range tokens {
		if err := checkHash(t.Hash); err != nil {
			return err
		}
		if t.Kind != storage.AccessToken && t.Kind != storage.RefreshToken {
			return fmt.Errorf("memstore: invalid token kind %q", t.Kind)
		}
		if t.GrantID != grantID {
			return fmt.Errorf("memstore: token of grant %q stored under grant %q", t.GrantID, grantID)
		}
		if t.ClientID != clientID {
			return fmt.Errorf("memstore: token of client %q stored under a grant of client %q", t.ClientID, clientID)
		}
		if err := checkScope(t.Scope); err != nil {
			return err
		}
		if err := checkScope(t.Audience); err != nil {
			return err
		}
	}
	return nil
}

// checkNewTokens reports a hash already taken, in the store or twice in
// tokens.
func (s *Store) checkNewTokens(tokens []*storage.Token) error {
	seen := make(map[string]bool, len(tokens))
	for _, t := range tokens {
		if _, ok := s.tokens[string(t.Hash)]; ok || seen[string(t.Hash)] {
			return exists("create token")
		}
		seen[string(t.Hash)] = true
	}
	return nil
}

// insertGrant stores g and its tokens, or nothing; the caller holds the
// write lock and has run checkGrant.
func (s *Store) insertGrant(g *storage.Grant, tokens []*storage.Token) error {
	if _, ok := s.clients[g.ClientID]; !ok {
		return fmt.Errorf("memstore: create grant: client %q does not exist", g.ClientID)
	}
	if _, ok := s.grants[g.ID]; ok {
		return exists("create grant")
	}
	if err := s.checkNewTokens(tokens); err != nil {
		return err
	}
	s.grants[g.ID] = cloneGrant(g)
	s.insertTokens(tokens)
	return nil
}

func (s *Store) insertTokens(tokens []*storage.Token) {
	for _, t := range tokens {
		s.tokens[string(t.Hash)] = cloneToken(t)
		set := s.byGrant[t.GrantID]
		if set == nil {
			set = map[string]struct{}{}
			s.byGrant[t.GrantID] = set
		}
		set[string(t.Hash)] = struct{}{}
	}
}

func (s *Store) deleteToken(hash string) {
	t, ok := s.tokens[hash]
	if !ok {
		return
	}
	delete(s.tokens, hash)
	if set := s.byGrant[t.GrantID]; set != nil {
		delete(set, hash)
		if len(set) == 0 {
			delete(s.byGrant, t.GrantID)
		}
	}
}

// deleteGrantTokens deletes every token of a grant, of one kind or (kind
// "") of all kinds.
func (s *Store) deleteGrantTokens(grantID string, kind storage.TokenKind) int64 {
	var n int64
	for h := range s.byGrant[grantID] {
		if kind == "" || s.tokens[h].Kind == kind {
			s.deleteToken(h)
			n++
		}
	}
	return n
}

// deleteGrant removes a grant row and its tokens.
func (s *Store) deleteGrant(id string) int64 {
	n := s.deleteGrantTokens(id, "")
	delete(s.grants, id)
	return n + 1
}

// revokeGrant marks g revoked (keeping the first revocation time) and
// deletes its tokens.
func (s *Store) revokeGrant(g *storage.Grant, now time.Time) {
	if g.RevokedAt.IsZero() {
		g.RevokedAt = now
	}
	s.deleteGrantTokens(g.ID, "")
}

// CreateGrant implements storage.Grants. Every token must name g in
// GrantID and g's client in ClientID; the client must exist.
func (s *Store) CreateGrant(ctx context.Context, g *storage.Grant, tokens ...*storage.Token) error {
	if err := checkGrant(g, tokens); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.insertGrant(g, tokens)
}

// Grant implements storage.Grants.
func (s *Store) Grant(ctx context.Context, id string) (*storage.Grant, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	g, ok := s.grants[id]
	if !ok || !g.RevokedAt.IsZero() {
		return nil, notFound("grant")
	}
	return cloneGrant(g), nil
}

// usable reports whether a grant's tokens may be used at now: not revoked,
// and not past a non-zero ExpiresAt.
func usable(g *storage.Grant, now time.Time) bool {
	return g.RevokedAt.IsZero() && (g.ExpiresAt.IsZero() || g.ExpiresAt.After(now))
}

// Token implements storage.Grants. A token whose grant has a non-zero
// ExpiresAt at or before now is not found either, as DeleteExpired would
// remove it.
func (s *Store) Token(ctx context.Context, hash []byte, now time.Time) (*storage.Token, *storage.Grant, error) {
	now = norm(now)
	s.mu.RLock()
	defer s.mu.RUnlock()
	t, ok := s.tokens[string(hash)]
	if !ok || len(hash) == 0 || !live(t.ExpiresAt, now) || !t.UsedAt.IsZero() {
		return nil, nil, notFound("token")
	}
	g, ok := s.grants[t.GrantID]
	if !ok || !usable(g, now) {
		return nil, nil, notFound("token")
	}
	return cloneToken(t), cloneGrant(g), nil
}

// RotateRefreshToken implements storage.Grants. Under one lock it marks the
// refresh token used, deletes the grant's access tokens and stores next; a
// refresh token presented after its rotation revokes the grant.
func (s *Store) RotateRefreshToken(ctx context.Context, oldHash []byte, now time.Time, next ...*storage.Token) (*storage.Token, *storage.Grant, error) {
	now = norm(now)
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.tokens[string(oldHash)]
	if !ok || len(oldHash) == 0 || old.Kind != storage.RefreshToken {
		return nil, nil, notFound("rotate refresh token")
	}
	g, ok := s.grants[old.GrantID]
	if !ok {
		return nil, nil, notFound("rotate refresh token")
	}
	if !old.UsedAt.IsZero() {
		s.revokeGrant(g, now)
		return nil, nil, fmt.Errorf("memstore: rotate refresh token: %w", storage.ErrReused)
	}
	if !live(old.ExpiresAt, now) || !usable(g, now) {
		return nil, nil, notFound("rotate refresh token")
	}
	if err := checkTokens(old.GrantID, old.ClientID, next); err != nil {
		return nil, nil, err
	}
	if err := s.checkNewTokens(next); err != nil {
		return nil, nil, err
	}
	old.UsedAt = now
	s.deleteGrantTokens(g.ID, storage.AccessToken)
	s.insertTokens(next)
	return cloneToken(old), cloneGrant(g), nil
}

// RevokeGrant implements storage.Grants.
func (s *Store) RevokeGrant(ctx context.Context, id string, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g, ok := s.grants[id]; ok {
		s.revokeGrant(g, norm(now))
	}
	return nil
}

// DeleteToken implements storage.Grants.
func (s *Store) DeleteToken(ctx context.Context, hash []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deleteToken(string(hash))
	return nil
}

// RevokeUserGrants implements storage.Grants. An empty userID is rejected:
// it would otherwise match every client_credentials grant.
func (s *Store) RevokeUserGrants(ctx context.Context, userID string, now time.Time) error {
	if err := checkID("user", userID); err != nil {
		return err
	}
	return s.revokeGrantsWhere(func(g *storage.Grant) bool { return g.UserID == userID }, now)
}

// RevokeSessionGrants implements storage.Grants.
func (s *Store) RevokeSessionGrants(ctx context.Context, sessionID string, now time.Time) error {
	if err := checkID("session", sessionID); err != nil {
		return err
	}
	return s.revokeGrantsWhere(func(g *storage.Grant) bool { return g.SessionID == sessionID }, now)
}

func (s *Store) revokeGrantsWhere(match func(*storage.Grant) bool, now time.Time) error {
	now = norm(now)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.grants {
		if match(g) {
			s.revokeGrant(g, now)
		}
	}
	return nil
}

// Consents.

// SaveConsent implements storage.Consents. The client must exist.
func (s *Store) SaveConsent(ctx context.Context, c *storage.Consent) error {
	if err := checkID("user", c.UserID); err != nil {
		return err
	}
	if err := checkScope(c.Scope); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.clients[c.ClientID]; !ok {
		return fmt.Errorf("memstore: save consent: client %q does not exist", c.ClientID)
	}
	s.consents[consentKey{c.UserID, c.ClientID}] = cloneConsent(c)
	return nil
}

// Consent implements storage.Consents.
func (s *Store) Consent(ctx context.Context, userID, clientID string, now time.Time) (*storage.Consent, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.consents[consentKey{userID, clientID}]
	if !ok || !live(c.ExpiresAt, norm(now)) {
		return nil, notFound("consent")
	}
	return cloneConsent(c), nil
}

// ListConsents implements storage.Consents, ordered by client id.
func (s *Store) ListConsents(ctx context.Context, userID string) ([]*storage.Consent, error) {
	s.mu.RLock()
	var out []*storage.Consent
	for k, c := range s.consents {
		if k.user == userID {
			out = append(out, cloneConsent(c))
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b *storage.Consent) int { return cmp.Compare(a.ClientID, b.ClientID) })
	return out, nil
}

// DeleteConsent implements storage.Consents.
func (s *Store) DeleteConsent(ctx context.Context, userID, clientID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := consentKey{userID, clientID}
	if _, ok := s.consents[k]; !ok {
		return notFound("delete consent")
	}
	delete(s.consents, k)
	return nil
}

// Keys.

// CreateKey implements storage.Keys.
func (s *Store) CreateKey(ctx context.Context, k *storage.SigningKey) error {
	if err := checkID("key", k.ID); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keys[k.ID]; ok {
		return exists("create key")
	}
	s.keys[k.ID] = cloneKey(k)
	return nil
}

// CreateFirstKey implements storage.Keys.
func (s *Store) CreateFirstKey(ctx context.Context, k *storage.SigningKey) (bool, error) {
	if err := checkID("key", k.ID); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.keys) > 0 {
		return false, nil
	}
	s.keys[k.ID] = cloneKey(k)
	return true, nil
}

// ListKeys implements storage.Keys: newest first (zero creation times
// last), then by id descending.
func (s *Store) ListKeys(ctx context.Context) ([]*storage.SigningKey, error) {
	s.mu.RLock()
	out := make([]*storage.SigningKey, 0, len(s.keys))
	for _, k := range s.keys {
		out = append(out, cloneKey(k))
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b *storage.SigningKey) int {
		if a.CreatedAt.IsZero() != b.CreatedAt.IsZero() {
			if a.CreatedAt.IsZero() {
				return 1
			}
			return -1
		}
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(b.ID, a.ID))
	})
	return out, nil
}

// RetireKey implements storage.Keys.
func (s *Store) RetireKey(ctx context.Context, id string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[id]
	if !ok || !k.RetiredAt.IsZero() {
		return notFound("retire key")
	}
	k.RetiredAt = norm(at)
	return nil
}

// DeleteKey implements storage.Keys.
func (s *Store) DeleteKey(ctx context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keys[id]; !ok {
		return notFound("delete key")
	}
	delete(s.keys, id)
	return nil
}

// Throttle.

// AddFailure implements storage.Throttle. A failure is kept until its time
// plus the window it was recorded with (now − since); the key's failures
// older than since are pruned on the way, so a key under attack keeps at
// most one window of them.
func (s *Store) AddFailure(ctx context.Context, key string, now, since time.Time) (int, error) {
	now, since = norm(now), norm(since)
	s.mu.Lock()
	defer s.mu.Unlock()
	l := append(s.failures[key], failure{at: now, expires: now.Add(max(now.Sub(since), 0))})
	l = slices.DeleteFunc(l, func(f failure) bool { return f.at.Before(since) })
	s.failures[key] = l
	return len(l), nil
}

// ReleaseFailure implements storage.Throttle: it removes one failure of
// key recorded at exactly at.
func (s *Store) ReleaseFailure(ctx context.Context, key string, at time.Time) error {
	at = norm(at)
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.failures[key]
	if i := slices.IndexFunc(l, func(f failure) bool { return f.at.Equal(at) }); i >= 0 {
		s.failures[key] = slices.Delete(l, i, i+1)
	}
	return nil
}

// Failures implements storage.Throttle.
func (s *Store) Failures(ctx context.Context, key string, since time.Time) (int, error) {
	since = norm(since)
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := 0
	for _, f := range s.failures[key] {
		if !f.at.Before(since) {
			n++
		}
	}
	return n, nil
}

// ResetFailures implements storage.Throttle.
func (s *Store) ResetFailures(ctx context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.failures, key)
	return nil
}

// DeleteExpired implements storage.Provider. It removes codes, tokens and
// consents whose ExpiresAt is at or before now (or zero); grants whose
// non-zero ExpiresAt is at or before now, with their tokens; revoked grants
// that no remaining code names (while a code names a revoked grant, the
// grant blocks a replayed code's grant from being created again); throttle
// failures past their window. It returns the number of entries removed.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time) (int64, error) {
	now = norm(now)
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	named := map[string]bool{} // grants named by a remaining code
	for h, c := range s.codes {
		if !live(c.ExpiresAt, now) {
			delete(s.codes, h)
			n++
		} else {
			named[c.GrantID] = true
		}
	}
	for h, t := range s.tokens {
		if !live(t.ExpiresAt, now) {
			s.deleteToken(h)
			n++
		}
	}
	for h, d := range s.devices {
		if !live(d.ExpiresAt, now) {
			s.deleteDeviceAuth(h)
			n++
		}
	}
	for id, g := range s.grants {
		expired := !g.ExpiresAt.IsZero() && !g.ExpiresAt.After(now)
		if expired || (!g.RevokedAt.IsZero() && !named[id]) {
			n += s.deleteGrant(id)
		}
	}
	for k, c := range s.consents {
		if !live(c.ExpiresAt, now) {
			delete(s.consents, k)
			n++
		}
	}
	n += s.deleteExpiredRegistration(now)
	for k, sc := range s.sessionClients {
		if !live(sc.ExpiresAt, now) {
			delete(s.sessionClients, k)
			n++
		}
	}
	for id, m := range s.logouts {
		if !live(m.ExpiresAt, now) {
			delete(s.logouts, id)
			n++
		}
	}
	for key, l := range s.failures {
		kept := slices.DeleteFunc(l, func(f failure) bool { return !f.expires.After(now) })
		n += int64(len(l) - len(kept))
		if len(kept) == 0 {
			delete(s.failures, key)
		} else {
			s.failures[key] = kept
		}
	}
	return n, nil
}
