// Package console is oidcd's web console: the admin pages at /admin/ for
// accounts with the admin flag (clients, signing keys, users, consents,
// sessions, the audit log) and the account page at /account for every
// signed-in user. The pages are server-rendered (html/template from package
// web), work without JavaScript and post plain forms, each with a
// single-use CSRF token bound to the login session.
//
// Every change goes through the service layer (package manage's
// Service), which the command line uses too, so that the two cannot drift;
// the console adds only what a browser needs: the admin gate (the admin
// flag, shorter idle and absolute timeouts than a user session, the
// admin's own password again for another user's password or admin flag),
// CSRF, and the pages. It is mounted on the oidcd server with
// server.Server.AddPages. It must not be imported by op, storage or
// server.
package console
