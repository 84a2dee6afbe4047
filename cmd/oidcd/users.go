package main

import (
	"bufio"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/oidcd/oidcd/manage"
	"github.com/oidcd/oidcd/server"
	"github.com/oidcd/oidcd/storage"
)

// userJSON is an account in --json output (never the password hash): its
// standard claims are storage.Claims, whose JSON names are the claims'.
type userJSON struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	Admin    bool   `json:"admin"`
	Locked   bool   `json:"locked"`
	storage.Claims
	CreatedAt time.Time `json:"created_at"`
}

func toUserJSON(u *storage.User) userJSON {
	j := userJSON{ID: u.ID, Username: u.Username, Admin: u.Admin, Locked: u.Locked, Claims: u.Claims, CreatedAt: u.CreatedAt.UTC()}
	j.UpdatedAt = j.UpdatedAt.UTC()
	return j
}

// users manages the server's accounts, through the service layer.
func (a *app) users(ctx context.Context, args []string) error {
	sub, args, err := subcommand("users", args, "create", "update", "list", "set-password", "reset-password", "delete")
	if err != nil {
		return err
	}
	switch sub {
	case "create":
		return a.usersCreate(ctx, args)
	case "update":
		return a.usersUpdate(ctx, args)
	case "list":
		return a.usersList(ctx, args)
	case "set-password":
		return a.usersSetPassword(ctx, args)
	case "reset-password":
		return a.usersResetPassword(ctx, args)
	case "delete":
		return a.usersDelete(ctx, args)
	}
	fmt.Fprint(a.stdout, "Usage: oidcd users create|update|list|set-password|reset-password|delete [flags]\n")
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

// claimFlags adds a flag for each standard claim, writing into u.
func claimFlags(c *command, u *storage.Claims) {
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
	c.fs.Var(localizedFlag{&u.Localized}, "localized-claim", "a claim in another language or script, CLAIM#TAG=VALUE (name#ja-Kana-JP=ヤマダタロウ; OIDC Core §5.2); repeatable (users update: replaces them all; \"\" removes them)")
}

// localizedFlag collects --localized-claim values into a claims map.
type localizedFlag struct{ m *map[string]string }

func (f localizedFlag) String() string {
	if f.m == nil {
		return ""
	}
	return fmt.Sprint(*f.m)
}

func (f localizedFlag) Set(v string) error {
	if *f.m == nil {
		*f.m = map[string]string{}
	}
	if v == "" {
		return nil
	}
	k, val, ok := strings.Cut(v, "=")
	if !ok {
		return fmt.Errorf("%q: want CLAIM#TAG=VALUE", v)
	}
	(*f.m)[k] = val
	return nil
}

// setClaims copies the claims whose flags were given from src to dst.
func setClaims(dst, src *storage.Claims, given map[string]bool) {
	fields := map[string]func(){
		"email": func() { dst.Email = src.Email }, "email-verified": func() { dst.EmailVerified = src.EmailVerified },
		"name": func() { dst.Name = src.Name }, "given-name": func() { dst.GivenName = src.GivenName },
		"family-name": func() { dst.FamilyName = src.FamilyName }, "middle-name": func() { dst.MiddleName = src.MiddleName },
		"nickname": func() { dst.Nickname = src.Nickname }, "preferred-username": func() { dst.PreferredUsername = src.PreferredUsername },
		"profile": func() { dst.Profile = src.Profile }, "picture": func() { dst.Picture = src.Picture },
		"website": func() { dst.Website = src.Website }, "gender": func() { dst.Gender = src.Gender },
		"birthdate": func() { dst.Birthdate = src.Birthdate }, "zoneinfo": func() { dst.Zoneinfo = src.Zoneinfo },
		"locale": func() { dst.Locale = src.Locale }, "phone-number": func() { dst.PhoneNumber = src.PhoneNumber },
		"phone-number-verified": func() { dst.PhoneNumberVerified = src.PhoneNumberVerified },
		"address-formatted":     func() { dst.Address.Formatted = src.Address.Formatted },
		"address-street":        func() { dst.Address.StreetAddress = src.Address.StreetAddress },
		"address-locality":      func() { dst.Address.Locality = src.Address.Locality },
		"address-region":        func() { dst.Address.Region = src.Address.Region },
		"address-postal-code":   func() { dst.Address.PostalCode = src.Address.PostalCode },
		"address-country":       func() { dst.Address.Country = src.Address.Country },
		"localized-claim":       func() { dst.Localized = src.Localized },
	}
	for name := range given {
		if f, ok := fields[name]; ok {
			f()
		}
	}
}

func (a *app) usersCreate(ctx context.Context, args []string) error {
	c := a.newCommand("users create", "", true)
	var pw passwordFlags
	pw.register(c)
	username := c.fs.String("username", "", "login name (required)")
	admin := c.fs.Bool("admin", false, "make the user an administrator")
	var claims storage.Claims
	claimFlags(c, &claims)
	if _, err := c.parse(args, 0, 0); err != nil {
		return err
	}
	if *username == "" {
		return usagef("users create: --username is required")
	}
	// The service checks all of it again; checking here first reports bad
	// input before the database is opened.
	rules := server.AccountRules{}
	if err := rules.ValidateUsername(*username); err != nil {
		return usagef("users create: %v", strings.TrimPrefix(err.Error(), "server: "))
	}
	if err := rules.ValidateClaims(&storage.User{Claims: claims}); err != nil {
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
	svc, store, err := c.service(ctx, s, false)
	if err != nil {
		return err
	}
	defer store.Close()
	u, err := svc.CreateUser(ctx, c.actor(), manage.NewUser{Username: *username, Password: password, Admin: *admin, Claims: claims})
	if err != nil {
		return serviceErr("users create", err)
	}
	if c.json {
		return c.printJSON(toUserJSON(u))
	}
	fmt.Fprintf(a.stdout, "created user %q (id %s)\n", u.Username, u.ID)
	return nil
}

// usersUpdate changes the claims whose flags are given, and the admin
// flag and lock when --admin or --locked is given.
func (a *app) usersUpdate(ctx context.Context, args []string) error {
	c := a.newCommand("users update", "", true)
	username := c.fs.String("username", "", "login name of the user to change (required)")
	admin := c.fs.Bool("admin", false, "grant (--admin) or remove (--admin=false) the admin flag")
	locked := c.fs.Bool("locked", false, "lock (--locked: no sign-in; its sessions and grants end) or unlock (--locked=false)")
	var claims storage.Claims
	claimFlags(c, &claims)
	if _, err := c.parse(args, 0, 0); err != nil {
		return err
	}
	if *username == "" {
		return usagef("users update: --username is required")
	}
	given := givenFlags(c)
	_, svc, store, err := c.openService(ctx, false)
	if err != nil {
		return err
	}
	defer store.Close()
	u, err := findUserID(ctx, svc, *username)
	if err != nil {
		return err
	}
	actor := c.actor()
	u, err = svc.UpdateUserClaims(ctx, actor, u.ID, func(dst *storage.Claims) error {
		setClaims(dst, &claims, given)
		return nil
	})
	if err != nil {
		return serviceErr("users update", err)
	}
	if given["admin"] {
		if err := svc.SetAdmin(ctx, actor, u.ID, *admin); err != nil {
			return serviceErr("users update", err)
		}
	}
	if given["locked"] {
		if err := svc.SetLocked(ctx, actor, u.ID, *locked); err != nil {
			return serviceErr("users update", err)
		}
	}
	if u, err = svc.User(ctx, u.ID); err != nil {
		return err
	}
	if c.json {
		return c.printJSON(toUserJSON(u))
	}
	fmt.Fprintf(a.stdout, "updated user %q (id %s)\n", u.Username, u.ID)
	return nil
}

func (a *app) usersList(ctx context.Context, args []string) error {
	c := a.newCommand("users list", "", true)
	search := c.fs.String("search", "", "only users whose username, name, email or id contain this (any case)")
	offset := c.fs.Int("offset", 0, "skip this many users")
	limit := c.fs.Int("limit", 0, "list at most this many users (default all)")
	if _, err := c.parse(args, 0, 0); err != nil {
		return err
	}
	if *offset < 0 || *limit < 0 {
		return usagef("users list: --offset and --limit must not be negative")
	}
	_, svc, store, err := c.openService(ctx, false)
	if err != nil {
		return err
	}
	defer store.Close()
	page, err := svc.ListUsers(ctx, storage.UserQuery{Search: *search, Offset: *offset, Limit: *limit})
	if err != nil {
		return err
	}
	return printRows(c, page.Users, func(u *storage.User) any { return toUserJSON(u) },
		"USERNAME\tID\tEMAIL\tADMIN\tLOCKED\tCREATED",
		func(u *storage.User) string {
			return fmt.Sprintf("%s\t%s\t%s\t%t\t%t\t%s", u.Username, u.ID, orDash(u.Email), u.Admin, u.Locked, timeText(u.CreatedAt))
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
	svc, store, err := c.service(ctx, s, false)
	if err != nil {
		return err
	}
	defer store.Close()
	u, err := findUserID(ctx, svc, *username)
	if err != nil {
		return err
	}
	if err := svc.SetPassword(ctx, c.actor(), u.ID, password); err != nil {
		return serviceErr("users set-password", err)
	}
	fmt.Fprintf(a.stdout, "password of %q changed; its sessions and grants are revoked\n", u.Username)
	return nil
}

// usersResetPassword sets a generated password and prints it once.
func (a *app) usersResetPassword(ctx context.Context, args []string) error {
	c := a.newCommand("users reset-password", "", true)
	username := c.fs.String("username", "", "login name (required)")
	if _, err := c.parse(args, 0, 0); err != nil {
		return err
	}
	if *username == "" {
		return usagef("users reset-password: --username is required")
	}
	_, svc, store, err := c.openService(ctx, false)
	if err != nil {
		return err
	}
	defer store.Close()
	u, err := findUserID(ctx, svc, *username)
	if err != nil {
		return err
	}
	pw, err := svc.ResetPassword(ctx, c.actor(), u.ID)
	if err != nil {
		return serviceErr("users reset-password", err)
	}
	if c.json {
		return c.printJSON(map[string]string{"username": u.Username, "password": pw})
	}
	fmt.Fprintf(a.stdout, "password of %q reset; its sessions and grants are revoked\npassword: %s\n(shown only now)\n", u.Username, pw)
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
	_, svc, store, err := c.openService(ctx, false)
	if err != nil {
		return err
	}
	defer store.Close()
	u, err := findUserID(ctx, svc, *username)
	if err != nil {
		return err
	}
	if err := svc.DeleteUser(ctx, c.actor(), u.ID); err != nil {
		return serviceErr("users delete", err)
	}
	fmt.Fprintf(a.stdout, "deleted user %q\n", u.Username)
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
