-- The console and its audit trail (issue 9): a client's previous secret
-- during a rotation's overlap, locked accounts, sessions by their public
-- id, and the audit log of administrative changes.
ALTER TABLE clients ADD COLUMN previous_secret_hash BLOB;
ALTER TABLE clients ADD COLUMN previous_secret_expires_at INTEGER;
ALTER TABLE users ADD COLUMN locked INTEGER NOT NULL DEFAULT 0;
CREATE INDEX sessions_id ON sessions (id);

CREATE TABLE audit_log (
	id       TEXT    NOT NULL PRIMARY KEY,
	at       INTEGER NOT NULL,
	actor_id TEXT    NOT NULL,
	actor    TEXT    NOT NULL,
	ip       TEXT    NOT NULL,
	action   TEXT    NOT NULL,
	target   TEXT    NOT NULL,
	detail   TEXT    NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at, id);
CREATE INDEX audit_log_target ON audit_log (target);
