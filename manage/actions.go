package manage

// Actions: the Action of audit records, and the Kind of the op.Event
// emitted for each change (stable names: logs, metrics and alerts use them).
// "admin." changes are made by an operator (console or command line) to
// anything; "account." changes by a signed-in user to their own account.
const (
	ActionClientCreated       = "admin.client_created"
	ActionClientUpdated       = "admin.client_updated"
	ActionClientSecretRotated = "admin.client_secret_rotated"
	ActionClientDeleted       = "admin.client_deleted"
	ActionClientTokensRevoked = "admin.client_tokens_revoked"

	ActionUserCreated       = "admin.user_created"
	ActionUserUpdated       = "admin.user_updated"
	ActionPasswordChanged   = "admin.password_changed"
	ActionUserLocked        = "admin.user_locked"
	ActionUserUnlocked      = "admin.user_unlocked"
	ActionUserAdminGranted  = "admin.user_admin_granted"
	ActionUserAdminRemoved  = "admin.user_admin_removed"
	ActionUserDeleted       = "admin.user_deleted"
	ActionConsentRevoked    = "admin.consent_revoked"
	ActionGrantRevoked      = "admin.grant_revoked"
	ActionTokenRevoked      = "admin.token_revoked"
	ActionSessionRevoked    = "admin.session_revoked"
	ActionUserSessionsEnded = "admin.user_sessions_ended"

	ActionKeyCreated  = "admin.key_created"
	ActionKeyImported = "admin.key_imported"
	ActionKeyRotated  = "admin.key_rotated"
	ActionKeyRetired  = "admin.key_retired"
	ActionKeyDeleted  = "admin.key_deleted"

	ActionAccountUpdated         = "account.updated"
	ActionAccountPasswordChanged = "account.password_changed"
	ActionAccountConsentRevoked  = "account.consent_revoked"
	ActionAccountSignedOut       = "account.signed_out_everywhere"
)
