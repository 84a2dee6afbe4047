package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/server"
	"github.com/oidcd/oidcd/storage"
	"github.com/oidcd/oidcd/storage/sqlstore"
)

// userJSON is an account in --json output (never the password hash): its
// standard claims are storage.Claims, whose JSON names are the claims'.
type userJSON struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	Admin    bool   `json:"admin"`
	storage.Claims
	CreatedAt time.Time `json:"created_at"`
}

func toUserJSON(u *storage.User) userJSON {
	j := userJSON{ID: u.ID, Username: u.Username, Admin: u.Admin, Claims: u.Claims, CreatedAt: u.CreatedAt.UTC()}
	j.UpdatedAt = j.UpdatedAt.UTC()
	return j
}

// users manages the server's accounts.
func (a *app) users(ctx context.Context, args []string) error {
	sub, args, err := subcommand("users", args, "create", "list", "set-password", "delete")
	if err != nil {
		return err
	}
	switch sub {
	case "create":
		return a.usersCreate(ctx, args)
	case "list":
		return a.usersList(ctx, args)
	case "set-password":
		return a.usersSetPassword(ctx, args)
	case "delete":
		return a.usersDelete(ctx, args)
	}
	fmt.Fprint(a.stdout, "Usage: oidcd users create|list|set-password|delete [flags]\n")
	return nil
}

// passwordFlags adds --password and --password-stdin.
type passwordFlags struct {
	password string
	stdin    bool
}

func (p *passwordFlags) register(c *command) {
	c.fs.StringVar(&p.password, "password", "", "the password (visible to other local users in the process list; prefer --password-stdin)")
	c.fs.BoolVar(&p.stdin, "password-stdin", false, "read the password from the first line of standard input")
}

func (p *passwordFlags) value(c *command) (string, error) {
	switch {
	case p.stdin && p.password != "":
		return "", usagef("%s: give --password or --password-stdin, not both", c.name)
	case p.stdin:
		line, err := bufio.NewReader(c.a.stdin).ReadString('\n')
		if err != nil && line == "" {
			return "", fmt.Errorf("read password from standard input: %w", err)
		}
		p.password = strings.TrimRight(line, "\r\n")
	}
	if p.password == "" {
		return "", usagef("%s: --password (or --password-stdin) is required", c.name)
	}
	return p.password, nil
}

func (a *app) usersCreate(ctx context.Context, args []string) error {
	c := a.newCommand("users create", "", true)
	var pw passwordFlags
	pw.register(c)
	username := c.fs.String("username", "", "login name (required)")
	admin := c.fs.Bool("admin", false, "make the user an administrator")
	var u storage.User
	str := func(p *string, name, help string) { c.fs.StringVar(p, name, "", help) }
	str(&u.Email, "email", "email claim")
	c.fs.BoolVar(&u.EmailVerified, "email-verified", false, "email_verified claim")
	str(&u.Name, "name", "name claim (full name)")
	str(&u.GivenName, "given-name", "given_name claim")
	str(&u.FamilyName, "family-name", "family_name claim")
	str(&u.MiddleName, "middle-name", "middle_name claim")
	str(&u.Nickname, "nickname", "nickname claim")
	str(&u.PreferredUsername, "preferred-username", "preferred_username claim (default: the username)")
	str(&u.Profile, "profile", "profile claim (URL)")
	str(&u.Picture, "picture", "picture claim (URL)")
	str(&u.Website, "website", "website claim (URL)")
	str(&u.Gender, "gender", "gender claim")
	str(&u.Birthdate, "birthdate", "birthdate claim (YYYY-MM-DD, or YYYY)")
	str(&u.Zoneinfo, "zoneinfo", "zoneinfo claim (e.g. Europe/Paris)")
	str(&u.Locale, "locale", "locale claim (e.g. fr-FR)")
	str(&u.PhoneNumber, "phone-number", "phone_number claim")
	c.fs.BoolVar(&u.PhoneNumberVerified, "phone-number-verified", false, "phone_number_verified claim")
	str(&u.Address.Formatted, "address-formatted", "address.formatted claim")
	str(&u.Address.StreetAddress, "address-street", "address.street_address claim")
	str(&u.Address.Locality, "address-locality", "address.locality claim")
	str(&u.Address.Region, "address-region", "address.region claim")
	str(&u.Address.PostalCode, "address-postal-code", "address.postal_code claim")
	str(&u.Address.Country, "address-country", "address.country claim")
	if _, err := c.parse(args, 0, 0); err != nil {
		return err
	}
	if *username == "" {
		return usagef("users create: --username is required")
	}
	if err := server.ValidateUsername(*username); err != nil {
		return usagef("users create: %v", strings.TrimPrefix(err.Error(), "server: "))
	}
	if err := server.ValidateUserClaims(&u); err != nil {
		return usagef("users create: %s", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	password, err := pw.value(c)
	if err != nil {
		return err
	}
	s, err := c.settings()
	if err != nil {
		return err
	}
	if err := server.CheckPasswordPolicy(password, s.PasswordMinLength); err != nil {
		return usagef("users create: %v (OIDCD_PASSWORD_MIN_LENGTH)", err)
	}
	store, err := c.open(ctx, s)
	if err != nil {
		return err
	}
	defer store.Close()
	nu, err := server.NewUser(*username, password, a.now())
	if err != nil {
		return err
	}
	u.ID, u.Username, u.PasswordHash, u.CreatedAt, u.UpdatedAt = nu.ID, nu.Username, nu.PasswordHash, nu.CreatedAt, nu.UpdatedAt
	u.Admin = *admin
	if err := store.CreateUser(ctx, &u); errors.Is(err, storage.ErrAlreadyExists) {
		return fmt.Errorf("users create: username %q is taken", u.Username)
	} else if err != nil {
		return err
	}
	c.audit(ctx, s, op.Event{Kind: op.EventAdminUserCreated, Username: u.Username, UserID: u.ID, Reason: map[bool]string{true: "admin"}[u.Admin]})
	if c.json {
		return c.printJSON(toUserJSON(&u))
	}
	fmt.Fprintf(a.stdout, "created user %q (id %s)\n", u.Username, u.ID)
	return nil
}

func (a *app) usersList(ctx context.Context, args []string) error {
	return listing(ctx, a, "users list", args, (*sqlstore.Store).ListUsers, toUserJSON,
		"USERNAME\tID\tEMAIL\tADMIN\tCREATED",
		func(u *storage.User) string {
			return fmt.Sprintf("%s\t%s\t%s\t%t\t%s", u.Username, u.ID, orDash(u.Email), u.Admin, timeText(u.CreatedAt))
		})
}

// usersSetPassword changes a password and ends the user's sessions and
// grants (SECURITY D8).
func (a *app) usersSetPassword(ctx context.Context, args []string) error {
	c := a.newCommand("users set-password", "", false)
	var pw passwordFlags
	pw.register(c)
	username := c.fs.String("username", "", "login name (required)")
	if _, err := c.parse(args, 0, 0); err != nil {
		return err
	}
	if *username == "" {
		return usagef("users set-password: --username is required")
	}
	password, err := pw.value(c)
	if err != nil {
		return err
	}
	s, err := c.settings()
	if err != nil {
		return err
	}
	if err := server.CheckPasswordPolicy(password, s.PasswordMinLength); err != nil {
		return usagef("users set-password: %v (OIDCD_PASSWORD_MIN_LENGTH)", err)
	}
	store, err := c.open(ctx, s)
	if err != nil {
		return err
	}
	defer store.Close()
	u, err := findUser(ctx, store, *username)
	if err != nil {
		return err
	}
	if err := server.SetPassword(ctx, store, u, password, a.now()); err != nil {
		return err
	}
	c.audit(ctx, s, op.Event{Kind: op.EventAdminPasswordChanged, Username: u.Username, UserID: u.ID})
	fmt.Fprintf(a.stdout, "password of %q changed; its sessions and grants are revoked\n", u.Username)
	return nil
}

func (a *app) usersDelete(ctx context.Context, args []string) error {
	c := a.newCommand("users delete", "", false)
	username := c.fs.String("username", "", "login name (required)")
	if _, err := c.parse(args, 0, 0); err != nil {
		return err
	}
	if *username == "" {
		return usagef("users delete: --username is required")
	}
	s, store, err := c.settingsAndStore(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	u, err := findUser(ctx, store, *username)
	if err != nil {
		return err
	}
	if err := store.DeleteUser(ctx, u.ID); err != nil {
		return err
	}
	c.audit(ctx, s, op.Event{Kind: op.EventAdminUserDeleted, Username: u.Username, UserID: u.ID})
	fmt.Fprintf(a.stdout, "deleted user %q\n", u.Username)
	return nil
}

func findUser(ctx context.Context, store storage.Users, username string) (*storage.User, error) {
	u, err := store.UserByUsername(ctx, username)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, fmt.Errorf("no user named %q", username)
	}
	return u, err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
