-- Logout (issue 8): the clients' logout endpoints, the clients of each
-- browser session and the durable back-channel delivery queue.
ALTER TABLE clients ADD COLUMN frontchannel_logout_uri TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN frontchannel_logout_session_required BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE clients ADD COLUMN backchannel_logout_uri TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN backchannel_logout_session_required BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE session_clients (
	session_id TEXT    NOT NULL,
	client_id  TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
	user_id    TEXT    NOT NULL,
	created_at BIGINT,
	expires_at BIGINT,
	PRIMARY KEY (session_id, client_id)
);
CREATE INDEX session_clients_client_id ON session_clients (client_id);
CREATE INDEX session_clients_expires_at ON session_clients (expires_at);

CREATE TABLE logout_messages (
	id              TEXT    NOT NULL PRIMARY KEY,
	client_id       TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
	uri             TEXT    NOT NULL,
	subject         TEXT    NOT NULL,
	session_id      TEXT    NOT NULL,
	attempts        INTEGER NOT NULL,
	next_attempt_at BIGINT NOT NULL,
	lease_until     BIGINT,
	last_error      TEXT    NOT NULL,
	created_at      BIGINT,
	expires_at      BIGINT
);
CREATE INDEX logout_messages_due ON logout_messages (next_attempt_at);
CREATE INDEX logout_messages_client_id ON logout_messages (client_id);
