-- The claims a consent covered beyond its scope (the "claims" request
-- parameter), so that a remembered consent covers only what was shown.
ALTER TABLE consents ADD COLUMN claims TEXT NOT NULL DEFAULT '[]';
