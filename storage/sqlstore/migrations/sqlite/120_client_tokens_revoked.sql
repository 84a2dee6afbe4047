-- oidcd clients revoke-tokens (issue 15): every token issued to the client
-- at or before this time (microseconds since the epoch) is ended, the
-- stateless client_credentials tokens too, which have no row to delete.
-- NULL: never.
ALTER TABLE clients ADD COLUMN tokens_revoked_at INTEGER;
