// Package manage is the one service layer through which oidcd's console
// (the /admin and /account pages) and its command line change clients,
// users, consents, sessions and signing keys, so that the two cannot
// drift: both validate the same way, refuse the same things and leave the
// same audit record. It holds no HTML and no flags; it imports op, keys
// and storage, never server or cmd (the server supplies its account rules
// as an AccountRules value: server.AccountRules).
//
// # Wiring
//
//	svc, err := manage.New(manage.Config{
//		Store:            store,  // a storage.Storage (sqlstore)
//		Sealer:           sealer, // the system key
//		Rules:            server.AccountRules{PasswordMinLength: 8},
//		KeyActivateAfter: keyRefresh + jwksMaxAge,
//		TokenLifetime:    max(idTokenExpire, tokenExpire),
//		ClientCacheTTL:   clientCacheTTL,
//		EndSession:       func(ctx context.Context, userID, sid string) error { _, err := provider.EndSession(ctx, op.Logout{UserID: userID, SessionID: sid}); return err },
//		Emit:             provider.Emit,
//		Changed:          func(ctx context.Context, c manage.Change) { if c.ClientID != "" { provider.ForgetClient(c.ClientID) } ... },
//	})
//
// # Actors and the audit log
//
// Every method that changes something takes an Actor: the signed-in
// account (UserID, Username) and the request's client IP for the console,
// CommandLine(osUser) for the command line. The change and its
// storage.AuditRecord (who, when, from which IP, Action, Target, Detail)
// are written in one transaction on sqlstore (storage backends with an
// Atomically method); Audit reads them back, newest first, with paging by
// storage.AuditQuery.Before/BeforeID. Actions are the Action* constants:
// "admin.*" for operators' changes, "account.*" for a user's changes to
// its own account (the methods pick the "account." action when
// Actor.UserID is the user changed). After a change, Config.Emit gets an
// op.Event whose Kind is the action, and Config.Changed a Change naming
// the client, user or key, so the caller can drop caches.
//
// # Errors
//
// storage.ErrNotFound (wrapped) for an unknown client, user, key, grant or
// session; ErrInvalid (wrapped, with a message for the user listing every
// problem) for bad input; ErrRefused for a valid request the current state
// forbids (deleting a key whose tokens may be valid, retiring the only key
// of an algorithm, locking or demoting oneself, removing the last admin
// from the console); ErrWrongPassword from ChangeOwnPassword. Test with
// errors.Is; show err.Error() to the operator.
//
// # Clients
//
//	ListClients(ctx, ClientQuery{Search})            search in id, name, redirect URIs, website, contact
//	Client(ctx, id)
//	CreateClient(ctx, actor, storage.Client, *op.ClientOptions) → ClientResult{Client, Secret (shown once), Warnings}
//	UpdateClient(ctx, actor, id, ClientUpdate{Edit}) Edit sets only what changes on a copy; checked like creation
//	RotateClientSecret(ctx, actor, id, overlap)      old secret accepted at /token until now+overlap
//	ClientUsage(ctx, id)                             what a delete takes with it (for the confirmation)
//	DeleteClient(ctx, actor, id)                     → the ClientUsage it removed
//	ClientConsents, ClientGrants, ClientSessions     per-client views
//
// A changed client is seen at once by the node whose provider
// Config.Changed tells (op.Provider.ForgetClient) and by every other node
// within op.Config.ClientCacheTTL (5 s by default).
//
// # Users
//
//	ListUsers(ctx, storage.UserQuery{Search, Offset, Limit}) → UserPage{Users, Total}
//	User, UserByUsername
//	CreateUser(ctx, actor, NewUser{Username, Password, Admin, Claims})
//	UpdateUserClaims(ctx, actor, id, func(*storage.Claims) error)
//	SetPassword(ctx, actor, id, pw) / ResetPassword(ctx, actor, id) → generated password
//	ChangeOwnPassword(ctx, actor, current, new)      the account page (ErrWrongPassword)
//	SetLocked(ctx, actor, id, bool)                  locking ends sessions and grants
//	SetAdmin(ctx, actor, id, bool)
//	DeleteUser(ctx, actor, id)
//	UserConsents, UserGrants, UserSessions           per-user views (the account page's applications)
//	RevokeConsent(ctx, actor, userID, clientID)      consent and the user's grants to the client
//	RevokeGrant(ctx, actor, grantID)
//	RevokeSession(ctx, actor, sid)                   one browser session (grants, back-channel logout)
//	SignOutEverywhere(ctx, actor, userID)            every session of a user
//
// Setting a password ends every session and grant of the account in the
// same transaction (the account page starts a new session afterwards).
// Asking an admin for their own password again before changing another
// user's password or admin flag is the console's job (it has the
// throttled login check); the service trusts its caller's Actor.
//
// # Signing keys
//
//	Keys(ctx)                         → []KeyInfo{KID, Alg, CreatedAt, State next|active|retired, ActivatesAt, RetiredAt, DeletableAt}
//	CreateKey(ctx, actor, alg)        RS256, ES256, EdDSA
//	ImportKey(ctx, actor, pem)        PKCS #8, PKCS #1 (django-oidc-provider's creatersakey), SEC 1
//	RotateKey(ctx, actor, alg)        new "next" key; the active ones retire when it activates
//	RetireKey(ctx, actor, kid)        refused for the only key of an algorithm
//	DeleteKey(ctx, actor, kid)        retired keys only, from DeletableAt (no token it signed is still valid)
package manage
