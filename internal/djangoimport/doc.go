// Package djangoimport moves a django-oidc-provider site into oidcd: it
// reads the site's database (SQLite or PostgreSQL, the schemas of releases
// 0.5 to 0.8) and writes clients, RSA keys, users with their Django
// password hashes, consents, and live tokens and codes (as digests) into
// an oidcd database, in one transaction. The "oidcd import django" command
// runs it.
//
// It sits beside cmd/oidcd: it imports server (password hashers), op
// (client rules, secret storage) and storage; nothing imports it but the
// command.
package djangoimport
