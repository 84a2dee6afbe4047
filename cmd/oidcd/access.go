package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/oidcd/oidcd/manage"
	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage"
)

// consentJSON is a consent in --json output.
type consentJSON struct {
	UserID    string    `json:"user_id"`
	Username  string    `json:"username,omitempty"`
	ClientID  string    `json:"client_id"`
	Scope     string    `json:"scope"`
	Claims    []string  `json:"claims,omitempty"`
	GivenAt   time.Time `json:"given_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// sessionJSON is a browser session in --json output (never its cookie).
type sessionJSON struct {
	SID       string    `json:"sid"`
	UserID    string    `json:"user_id"`
	Username  string    `json:"username,omitempty"`
	AuthTime  time.Time `json:"auth_time"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// whoFlags are --username and --client, which select whose consents or
// sessions a command lists or revokes.
type whoFlags struct{ username, client string }

func (w *whoFlags) register(c *command) {
	c.fs.StringVar(&w.username, "username", "", "the user's login name")
	c.fs.StringVar(&w.client, "client", "", "the client id")
}

// usernames maps user ids to usernames, for output.
func usernames(ctx context.Context, svc *manage.Service, ids []string) map[string]string {
	out := map[string]string{}
	for _, id := range ids {
		if _, ok := out[id]; ok {
			continue
		}
		if u, err := svc.User(ctx, id); err == nil {
			out[id] = u.Username
		} else {
			out[id] = ""
		}
	}
	return out
}

// consents lists and revokes what users allowed clients.
func (a *app) consents(ctx context.Context, args []string) error {
	sub, args, err := subcommand("consents", args, "list", "revoke")
	if err != nil {
		return err
	}
	if sub == "help" {
		fmt.Fprint(a.stdout, "Usage: oidcd consents list|revoke [flags]\n")
		return nil
	}
	c := a.newCommand("consents "+sub, "", sub == "list")
	var who whoFlags
	who.register(c)
	if _, err := c.parse(args, 0, 0); err != nil {
		return err
	}
	switch {
	case sub == "list" && who.username == "" && who.client == "":
		return usagef("consents list: give --username, --client or both")
	case sub == "revoke" && (who.username == "" || who.client == ""):
		return usagef("consents revoke: give --username and --client")
	}
	_, svc, store, err := c.openService(ctx, false)
	if err != nil {
		return err
	}
	defer store.Close()
	var user *storage.User
	if who.username != "" {
		if user, err = findUserID(ctx, svc, who.username); err != nil {
			return err
		}
	}
	if sub == "revoke" {
		if err := svc.RevokeConsent(ctx, c.actor(), user.ID, who.client); errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("consents revoke: %q has no consent or grant for client %q", who.username, who.client)
		} else if err != nil {
			return serviceErr("consents revoke", err)
		}
		fmt.Fprintf(a.stdout, "revoked the consent and grants of %q for client %s; its tokens no longer work\n", who.username, who.client)
		return nil
	}
	var list []*storage.Consent
	if user != nil {
		list, err = svc.UserConsents(ctx, user.ID)
	} else {
		list, err = svc.ClientConsents(ctx, who.client)
	}
	if err != nil {
		return err
	}
	var ids []string
	var shown []*storage.Consent
	for _, cs := range list {
		if who.client == "" || cs.ClientID == who.client {
			shown = append(shown, cs)
			ids = append(ids, cs.UserID)
		}
	}
	names := usernames(ctx, svc, ids)
	return printRows(c, shown, func(cs *storage.Consent) any {
		return consentJSON{UserID: cs.UserID, Username: names[cs.UserID], ClientID: cs.ClientID, Scope: strings.Join(cs.Scope, " "),
			Claims: cs.Claims, GivenAt: cs.GivenAt.UTC(), ExpiresAt: cs.ExpiresAt.UTC()}
	}, "USERNAME\tCLIENT ID\tSCOPE\tGIVEN\tEXPIRES", func(cs *storage.Consent) string {
		return strings.Join([]string{orDash(names[cs.UserID]), cs.ClientID, strings.Join(cs.Scope, " "), timeText(cs.GivenAt), timeText(cs.ExpiresAt)}, "\t")
	})
}

// sessions lists and ends browser sessions.
func (a *app) sessions(ctx context.Context, args []string) error {
	sub, args, err := subcommand("sessions", args, "list", "revoke")
	if err != nil {
		return err
	}
	if sub == "help" {
		fmt.Fprint(a.stdout, "Usage: oidcd sessions list|revoke [flags]\n")
		return nil
	}
	extra := ""
	if sub == "revoke" {
		extra = " [SID]"
	}
	c := a.newCommand("sessions "+sub, extra, sub == "list")
	var who whoFlags
	who.register(c)
	pos, err := c.parse(args, 0, 1)
	if err != nil {
		return err
	}
	switch {
	case sub == "list" && len(pos) > 0:
		return usagef("sessions list: unexpected argument %q", pos[0])
	case sub == "list" && who.username == "" && who.client == "":
		return usagef("sessions list: give --username, --client or both")
	case sub == "revoke" && who.client != "":
		return usagef("sessions revoke: give a session id (SID) or --username, not --client")
	case sub == "revoke" && (len(pos) == 1) == (who.username != ""):
		return usagef("sessions revoke: give a session id (SID) or --username (every session of the user)")
	}
	s, svc, store, err := c.openService(ctx, false)
	if err != nil {
		return err
	}
	defer store.Close()
	if sub == "revoke" {
		var closeProvider func()
		if svc, closeProvider, err = c.withProvider(ctx, s, store); err != nil {
			return err
		}
		defer closeProvider()
	}
	var user *storage.User
	if who.username != "" {
		if user, err = findUserID(ctx, svc, who.username); err != nil {
			return err
		}
	}
	switch {
	case sub == "revoke" && user != nil:
		n, err := svc.SignOutEverywhere(ctx, c.actor(), user.ID)
		if err != nil {
			return serviceErr("sessions revoke", err)
		}
		fmt.Fprintf(a.stdout, "ended %d sessions of %q with the grants made in them\n", n, user.Username)
		return nil
	case sub == "revoke":
		if err := svc.RevokeSession(ctx, c.actor(), pos[0]); errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("sessions revoke: no live session with id %q", pos[0])
		} else if err != nil {
			return serviceErr("sessions revoke", err)
		}
		fmt.Fprintf(a.stdout, "ended session %s with the grants made in it\n", pos[0])
		return nil
	}
	var list []*storage.Session
	if who.client != "" {
		list, err = svc.ClientSessions(ctx, who.client)
	} else {
		list, err = svc.UserSessions(ctx, user.ID)
	}
	if err != nil {
		return err
	}
	var shown []*storage.Session
	var ids []string
	for _, ss := range list {
		if user == nil || ss.UserID == user.ID {
			shown = append(shown, ss)
			ids = append(ids, ss.UserID)
		}
	}
	names := usernames(ctx, svc, ids)
	return printRows(c, shown, func(ss *storage.Session) any {
		return sessionJSON{SID: ss.ID, UserID: ss.UserID, Username: names[ss.UserID], AuthTime: ss.AuthTime.UTC(), CreatedAt: ss.CreatedAt.UTC(), ExpiresAt: ss.ExpiresAt.UTC()}
	}, "SID\tUSERNAME\tSIGNED IN\tEXPIRES", func(ss *storage.Session) string {
		return strings.Join([]string{ss.ID, orDash(names[ss.UserID]), timeText(ss.AuthTime), timeText(ss.ExpiresAt)}, "\t")
	})
}

// auditJSON is an audit record in --json output.
type auditJSON struct {
	ID      string    `json:"id"`
	At      time.Time `json:"at"`
	Actor   string    `json:"actor"`
	ActorID string    `json:"actor_id,omitempty"`
	IP      string    `json:"ip,omitempty"`
	Action  string    `json:"action"`
	Target  string    `json:"target"`
	Detail  string    `json:"detail,omitempty"`
}

// audit prints the audit log, newest first.
func (a *app) auditCmd(ctx context.Context, args []string) error {
	c := a.newCommand("audit", "", true)
	limit := c.fs.Int("limit", 100, "print at most this many records")
	action := c.fs.String("action", "", "only records of this action (e.g. admin.client_updated)")
	target := c.fs.String("target", "", "only records about this target (client:ID, user:ID, key:KID, session:SID)")
	if _, err := c.parse(args, 0, 0); err != nil {
		return err
	}
	if *limit <= 0 {
		return usagef("audit: --limit must be positive")
	}
	_, svc, store, err := c.openService(ctx, false)
	if err != nil {
		return err
	}
	defer store.Close()
	recs, err := svc.Audit(ctx, storage.AuditQuery{Action: *action, Target: *target, Limit: *limit})
	if err != nil {
		return err
	}
	return printRows(c, recs, func(r *storage.AuditRecord) any {
		return auditJSON{ID: r.ID, At: r.At.UTC(), Actor: r.Actor, ActorID: r.ActorID, IP: r.IP, Action: r.Action, Target: r.Target, Detail: r.Detail}
	}, "WHEN\tWHO\tIP\tACTION\tTARGET\tDETAIL", func(r *storage.AuditRecord) string {
		return strings.Join([]string{timeText(r.At), r.Actor, orDash(r.IP), r.Action, r.Target, r.Detail}, "\t")
	})
}

// grantJSON is a live grant in --json output: what a client holds for a
// user (or for itself) with its access and refresh tokens.
type grantJSON struct {
	ID        string    `json:"grant_id"`
	ClientID  string    `json:"client_id"`
	UserID    string    `json:"user_id,omitempty"`
	Username  string    `json:"username,omitempty"`
	SID       string    `json:"sid,omitempty"`
	Scope     string    `json:"scope"`
	Resources []string  `json:"resources,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// grants lists and revokes live grants one by one, as the console's
// consents page does (consents revoke takes every grant of a user to a
// client with the consent).
func (a *app) grants(ctx context.Context, args []string) error {
	sub, args, err := subcommand("grants", args, "list", "revoke")
	if err != nil {
		return err
	}
	if sub == "help" {
		fmt.Fprint(a.stdout, "Usage: oidcd grants list|revoke [flags]\n")
		return nil
	}
	extra := ""
	if sub == "revoke" {
		extra = " GRANT_ID"
	}
	c := a.newCommand("grants "+sub, extra, sub == "list")
	var who whoFlags
	var tokenStdin *bool
	if sub == "list" {
		who.register(c)
	} else {
		tokenStdin = c.fs.Bool("token-stdin", false, "revoke the grant of the access or refresh token read from standard input, "+
			"or a stateless client_credentials token (OIDCD_STATELESS_CLIENT_CREDENTIALS), instead of a grant id")
	}
	pos, err := c.parse(args, 0, 1)
	if err != nil {
		return err
	}
	byToken := tokenStdin != nil && *tokenStdin
	switch {
	case sub == "list" && len(pos) > 0:
		return usagef("grants list: unexpected argument %q", pos[0])
	case sub == "list" && who.username == "" && who.client == "":
		return usagef("grants list: give --username, --client or both")
	case sub == "revoke" && byToken && len(pos) > 0:
		return usagef("grants revoke: give a grant id or --token-stdin, not both")
	case sub == "revoke" && !byToken && len(pos) == 0:
		return usagef("grants revoke: give the grant id (grants list shows them) or --token-stdin")
	}
	// A stateless token's MAC is checked with the system secret.
	_, svc, store, err := c.openService(ctx, byToken)
	if err != nil {
		return err
	}
	defer store.Close()
	if byToken {
		// Read from standard input, not the command line, where other
		// users of the machine and the shell's history would see it.
		line, err := bufio.NewReader(a.stdin).ReadString('\n')
		token := strings.TrimSpace(line)
		if token == "" {
			return fmt.Errorf("grants revoke: no token on standard input (%v)", err)
		}
		if err := svc.RevokeToken(ctx, c.actor(), token); errors.Is(err, storage.ErrNotFound) {
			return errors.New("grants revoke: the token is unknown, expired or already revoked")
		} else if err != nil {
			return serviceErr("grants revoke", err)
		}
		if strings.HasPrefix(token, op.StatelessTokenPrefix) {
			fmt.Fprintln(a.stdout, "revoked the stateless access token; it no longer works on any node")
		} else {
			fmt.Fprintln(a.stdout, "revoked the token's grant; its access and refresh tokens no longer work")
		}
		return nil
	}
	if sub == "revoke" {
		if err := svc.RevokeGrant(ctx, c.actor(), pos[0]); errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("grants revoke: no live grant with id %q", pos[0])
		} else if err != nil {
			return serviceErr("grants revoke", err)
		}
		fmt.Fprintf(a.stdout, "revoked grant %s; its access and refresh tokens no longer work\n", pos[0])
		return nil
	}
	var user *storage.User
	if who.username != "" {
		if user, err = findUserID(ctx, svc, who.username); err != nil {
			return err
		}
	}
	var list []*storage.Grant
	if user != nil {
		list, err = svc.UserGrants(ctx, user.ID)
	} else {
		list, err = svc.ClientGrants(ctx, who.client)
	}
	if err != nil {
		return err
	}
	var shown []*storage.Grant
	var ids []string
	for _, g := range list {
		if who.client == "" || g.ClientID == who.client {
			shown = append(shown, g)
			ids = append(ids, g.UserID)
		}
	}
	names := usernames(ctx, svc, ids)
	return printRows(c, shown, func(g *storage.Grant) any {
		return grantJSON{ID: g.ID, ClientID: g.ClientID, UserID: g.UserID, Username: names[g.UserID], SID: g.SessionID,
			Scope: strings.Join(g.Scope, " "), Resources: g.Resources, CreatedAt: g.CreatedAt.UTC(), ExpiresAt: g.ExpiresAt.UTC()}
	}, "GRANT ID\tUSERNAME\tCLIENT ID\tSCOPE\tCREATED\tEXPIRES", func(g *storage.Grant) string {
		return strings.Join([]string{g.ID, orDash(names[g.UserID]), g.ClientID, strings.Join(g.Scope, " "), timeText(g.CreatedAt), timeText(g.ExpiresAt)}, "\t")
	})
}
