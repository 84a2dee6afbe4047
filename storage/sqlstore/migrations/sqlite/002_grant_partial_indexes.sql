-- Grants are looked up by user (password change, account deletion) and by
-- browser session (logout). Client-credentials grants have neither, so
-- partial indexes leave them out: issuing such a token touches one B-tree
-- less, and logout no longer scans every grant.
DROP INDEX grants_user_id;
CREATE INDEX grants_user_id ON grants (user_id) WHERE user_id <> '';
CREATE INDEX grants_session_id ON grants (session_id) WHERE session_id <> '';
