package op

import (
	"context"
	"log/slog"
	"strings"
)

// EventKind names an event an operator audits or counts. The names are
// stable: they are the "event" field of the security log and the "event"
// label of metrics, and dashboards and alerts are built on them.
type EventKind string

// Events the provider emits itself.
const (
	// EventTokenIssued: a successful token response. GrantType, ClientID,
	// UserID (empty for client_credentials). Logged at debug level only:
	// it is traffic, not an incident.
	EventTokenIssued EventKind = "token.issued"
	// EventTokenReuse: a used authorization code or a rotated refresh token
	// was presented again; everything issued from it is revoked (SECURITY
	// B4, D4). Reason is "authorization_code" or "refresh_token".
	EventTokenReuse EventKind = "token.reuse_detected"
	// EventClientAuthFailed: a client failed to authenticate at the token,
	// introspection or revocation endpoint. ClientID as claimed, Reason.
	EventClientAuthFailed EventKind = "client_auth.failed"
	// EventConsentAccepted, EventConsentDeclined: the user's answer on the
	// consent page. UserID, ClientID, Scope.
	EventConsentAccepted EventKind = "consent.accepted"
	EventConsentDeclined EventKind = "consent.declined"
	// EventKeyCreated: the provider created the first signing key of an
	// empty storage. KeyID, Reason (the algorithm).
	EventKeyCreated EventKind = "key.created"
)

// Events a host reports through Provider.Emit (the oidcd server and its
// command line emit them; other hosts may).
const (
	// EventLoginSucceeded, EventLoginFailed: a password check. Username, IP,
	// UserID on success.
	EventLoginSucceeded EventKind = "login.succeeded"
	EventLoginFailed    EventKind = "login.failed"
	// EventLoginLocked: an attempt refused unchecked by the brute-force
	// lock (too many failures for the username or the IP).
	EventLoginLocked EventKind = "login.locked"
	// EventLogout: a session ended at the user's request. UserID.
	EventLogout EventKind = "logout"
	// EventBackchannelDelivered, EventBackchannelFailed: one back-channel
	// logout token delivery to a client (OIDC Back-Channel Logout 1.0 §2.5);
	// ClientID, Reason on failure.
	EventBackchannelDelivered EventKind = "backchannel.delivered"
	EventBackchannelFailed    EventKind = "backchannel.failed"
	// Admin changes (command line or console). Username, ClientID or KeyID
	// name what changed; Reason may say how.
	EventAdminUserCreated         EventKind = "admin.user_created"
	EventAdminUserDeleted         EventKind = "admin.user_deleted"
	EventAdminPasswordChanged     EventKind = "admin.password_changed"
	EventAdminClientCreated       EventKind = "admin.client_created"
	EventAdminClientDeleted       EventKind = "admin.client_deleted"
	EventAdminClientSecretRotated EventKind = "admin.client_secret_rotated"
	EventAdminKeyCreated          EventKind = "admin.key_created"
	EventAdminKeyRotated          EventKind = "admin.key_rotated"
	EventAdminKeyRetired          EventKind = "admin.key_retired"
	// EventAdminBackup, EventAdminRestore: a database copy was written or
	// put back (Reason: the file).
	EventAdminBackup  EventKind = "admin.backup"
	EventAdminRestore EventKind = "admin.restore"
)

// Event is one occurrence of an EventKind. Fields that do not apply are
// empty. It never carries a secret: no password, token or code.
type Event struct {
	Kind      EventKind
	ClientID  string
	UserID    string
	Username  string
	GrantType string
	IP        string
	KeyID     string
	Scope     []string
	Reason    string
}

// Emit records e: one structured log line with a stable "event" field
// (LogEvent), then Hooks.Event (metrics, audit trails). Hosts call it for
// the events they own (logins, admin changes, back-channel deliveries), so
// that every event goes the same way.
func (p *Provider) Emit(ctx context.Context, e Event) {
	LogEvent(ctx, p.log, e)
	if h := p.cfg.Hooks.Event; h != nil {
		h(ctx, e)
	}
}

// LogEvent writes e as one log line: message "security event", the field
// "event" with its kind and the fields that apply. Failures and reuse are
// warnings, token issuance is debug, the rest info.
func LogEvent(ctx context.Context, log *slog.Logger, e Event) {
	level := slog.LevelInfo
	switch e.Kind {
	case EventTokenIssued, EventBackchannelDelivered:
		level = slog.LevelDebug
	case EventTokenReuse, EventLoginFailed, EventLoginLocked, EventClientAuthFailed, EventBackchannelFailed:
		level = slog.LevelWarn
	}
	if log == nil || !log.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{slog.String("event", string(e.Kind))}
	add := func(k, v string) {
		if v != "" {
			attrs = append(attrs, slog.String(k, v))
		}
	}
	add("client_id", e.ClientID)
	add("user_id", e.UserID)
	add("username", e.Username)
	add("grant_type", e.GrantType)
	add("ip", e.IP)
	add("kid", e.KeyID)
	add("scope", strings.Join(e.Scope, " "))
	add("reason", e.Reason)
	log.LogAttrs(ctx, level, "security event", attrs...)
}
