-- When a signing key starts signing (NULL: at once). A rotated-in key is
-- published first and signs only after every node and every relying
-- party's cached JWKS has it.
ALTER TABLE signing_keys ADD COLUMN activates_at INTEGER;
