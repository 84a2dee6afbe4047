-- Issue 17: claims in several languages (OIDC Core §5.2). A user's
-- localized claim values as a JSON object {"name#ja-Kana-JP": "…"}, and the
-- claims_locales of an authorization request, kept by its code and grant
-- so that userinfo and ID tokens answer in those languages.
ALTER TABLE users ADD COLUMN localized_claims TEXT NOT NULL DEFAULT '';
ALTER TABLE codes ADD COLUMN claims_locales TEXT NOT NULL DEFAULT '';
ALTER TABLE grants ADD COLUMN claims_locales TEXT NOT NULL DEFAULT '';
