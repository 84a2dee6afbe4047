-- Codes now keep a plain PKCE challenge as its S256 digest (a plain
-- challenge is the verifier itself). Codes live minutes: those still
-- holding a plain value are dropped rather than converted.
DELETE FROM codes WHERE code_challenge_method = 'plain';
