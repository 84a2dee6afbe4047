// Command oidcd is a ready-to-run OpenID Connect Provider built on the op
// library: user accounts, login page, signing keys and clients on SQLite or
// PostgreSQL, managed from this command line.
//
// Usage:
//
//	oidcd serve [flags]
//	oidcd migrate
//	oidcd keys create|list|rotate|retire|delete
//	oidcd users create|update|list|set-password|reset-password|delete
//	oidcd clients create|update|list|show|delete|rotate-secret|revoke-tokens
//	oidcd consents list|revoke, oidcd sessions list|revoke, oidcd grants list|revoke
//	oidcd audit
//	oidcd registration-tokens create
//	oidcd import django --from URL
//	oidcd backup FILE, oidcd restore FILE
//	oidcd healthcheck
//	oidcd example-config
//	oidcd version
//	oidcd help [COMMAND]
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/oidcd/oidcd/internal/buildinfo"
	"github.com/oidcd/oidcd/keys"
	"github.com/oidcd/oidcd/op"
	"github.com/oidcd/oidcd/storage/sqlstore"
)

func main() {
	a := &app{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, lookupEnv: os.LookupEnv, environ: os.Environ, now: time.Now}
	os.Exit(a.run(context.Background(), os.Args[1:]))
}

// app is one invocation: its streams, environment and clock.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	lookupEnv      func(string) (string, bool)
	environ        func() []string // nil: no environment to check
	now            func() time.Time
}

// usageError is bad command-line input: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

const usage = `oidcd is an OpenID Connect Provider.

Usage:
  oidcd serve [--addr ADDR] [--issuer URL] [--database DSN] [--config FILE] [--SETTING VALUE ...]
  oidcd migrate [--database DSN] [--config FILE]
  oidcd keys create [--alg RS256|ES256|EdDSA] [--pem FILE] [--json]
  oidcd keys list [--json]
  oidcd keys rotate [--alg RS256|ES256|EdDSA] [--json]
  oidcd keys retire KID [--json]
  oidcd keys delete KID
  oidcd users create --username U (--password P | --password-stdin) [--email E] [--email-verified]
                     [--name N] [--given-name G] [--family-name F] [--phone-number P] [--admin] [...] [--json]
  oidcd users update --username U [claim flags] [--admin[=false]] [--locked[=false]] [--json]
  oidcd users list [--search S] [--offset N] [--limit N] [--json]
  oidcd users set-password --username U (--password P | --password-stdin)
  oidcd users reset-password --username U [--json]
  oidcd users delete --username U
  oidcd clients create --name N [--type confidential|public] [--response-type T ...] --redirect-uri U ...
                       [--post-logout-redirect-uri U ...] [--scope "a b" ...] [--jwt-alg RS256|ES256|EdDSA|HS256]
                       [--require-consent=false] [--reuse-consent=false] [--website URL] [--terms-url URL]
                       [--contact-email E] [--logo-url URL] [--token-endpoint-auth-method M] [--token-endpoint-auth-signing-alg A]
                       [--grant-type G ...] [--jwks-uri URL | --jwks FILE] [--require-pushed-authorization-requests] [--request-uri U ...]
                       [--request-object-signing-alg A] [--subject-type public|pairwise]
                       [--sector-identifier-uri U] [--software-id S] [--software-version V]
                       [--resource URI ...] [--access-token-signed-response-alg RS256|ES256|EdDSA] [--dpop-bound-access-tokens]
                       [--id-token-encrypted-response-alg A] [--id-token-encrypted-response-enc E]
                       [--userinfo-signed-response-alg A] [--userinfo-encrypted-response-alg A] [--userinfo-encrypted-response-enc E]
                       [--insecure-allow-http] [--json]
  oidcd clients update ID [any flag of clients create] [--json]   (changes only the flags given)
  oidcd clients list [--search S] [--json]
  oidcd clients show ID [--json]
  oidcd clients delete ID [--json]
  oidcd clients rotate-secret ID [--overlap D] [--json]
  oidcd clients revoke-tokens ID [--json]   (every token issued to the client so far)
  oidcd consents list (--username U | --client ID) [--json]
  oidcd consents revoke --username U --client ID
  oidcd sessions list (--username U | --client ID) [--json]
  oidcd sessions revoke (SID | --username U)
  oidcd grants list (--username U | --client ID) [--json]
  oidcd grants revoke GRANT_ID | --token-stdin
  oidcd audit [--limit N] [--action A] [--target T] [--json]
  oidcd registration-tokens create [--uses N] [--expires D] [--json]
  oidcd secret rotate [--new-secret-stdin] [--json]   (stop every node first)
  oidcd import django --from URL [--dry-run] [--media DIR] [--sub id|username | --sub-map FILE] [--claims-sql SQL] [--json]
  oidcd backup FILE                   (SQLite: a consistent copy of the live database, and FILE.secret)
  oidcd restore [--force] FILE
  oidcd healthcheck [--live] [--url URL]
  oidcd example-config                (every setting, commented, as environment variables)
  oidcd version [--json]              (also: oidcd --version)
  oidcd help [COMMAND [SUBCOMMAND]]

Every command takes --database DSN and --config FILE (or OIDCD_DATABASE, OIDCD_CONFIG).
Commands other than serve and migrate refuse to create a SQLite database that
does not exist unless given --create.
Run 'oidcd help COMMAND [SUBCOMMAND]' or 'oidcd COMMAND [SUBCOMMAND] --help' for a command's flags.

`

func (a *app) run(ctx context.Context, args []string) int {
	err := a.dispatch(ctx, args)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, new(usageError)):
		fmt.Fprintf(a.stderr, "oidcd: %v\nRun 'oidcd help' for usage.\n", err)
		return 2
	default:
		fmt.Fprintf(a.stderr, "oidcd: %v\n", err)
		return 1
	}
}

func (a *app) dispatch(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(a.stderr, usage)
		return usageError{"no command given"}
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "version", "--version", "-version":
		return a.version(rest)
	case "serve":
		return a.serve(ctx, rest)
	case "migrate":
		return a.migrate(ctx, rest)
	case "keys":
		return a.keys(ctx, rest)
	case "users":
		return a.users(ctx, rest)
	case "clients":
		return a.clients(ctx, rest)
	case "consents":
		return a.consents(ctx, rest)
	case "sessions":
		return a.sessions(ctx, rest)
	case "grants":
		return a.grants(ctx, rest)
	case "audit":
		return a.auditCmd(ctx, rest)
	case "backup":
		return a.backup(ctx, rest)
	case "restore":
		return a.restore(ctx, rest)
	case "healthcheck":
		return a.healthcheck(ctx, rest)
	case "example-config":
		if len(rest) > 0 {
			if rest[0] == "-h" || rest[0] == "--help" || rest[0] == "-help" {
				fmt.Fprintln(a.stdout, "Usage: oidcd example-config\n\nPrints every setting as a commented environment-variable line (packaging/oidcd.env).")
				return nil
			}
			return usagef("example-config: unexpected argument %q", rest[0])
		}
		exampleConfig(a.stdout)
		return nil
	case "registration-tokens":
		return a.registrationTokens(ctx, rest)
	case "import":
		return a.importCmd(ctx, rest)
	case "secret":
		return a.secret(ctx, rest)
	case "help", "-h", "-help", "--help":
		if cmd == "help" && len(rest) > 0 && rest[0] != "help" {
			// "oidcd help users create" is "oidcd users create --help".
			return a.dispatch(ctx, append(slices.Clone(rest), "--help"))
		}
		fmt.Fprint(a.stdout, usage)
		printSettings(a.stdout)
		return nil
	}
	return usagef("unknown command %q", cmd)
}

// subcommand picks the subcommand of a command group.
func subcommand(group string, args []string, names ...string) (string, []string, error) {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			return "help", nil, nil
		}
		return "", nil, usagef("%s: missing subcommand (one of %s)", group, strings.Join(names, ", "))
	}
	for _, n := range names {
		if args[0] == n {
			return n, args[1:], nil
		}
	}
	return "", nil, usagef("%s: unknown subcommand %q (one of %s)", group, args[0], strings.Join(names, ", "))
}

// command is one parsed subcommand: its flag set and the settings flags
// every command shares.
type command struct {
	a     *app
	name  string // "clients show"
	fs    *flag.FlagSet
	sf    settingFlags
	json  bool
	extra string // positional-argument synopsis for usage
	// mustExist refuses a SQLite database that does not exist yet, unless
	// create (--create) is set: every command but serve and migrate.
	mustExist, create bool
}

// newCommand creates a flag set for "oidcd name" with --database and
// --config; withJSON adds --json.
func (a *app) newCommand(name, extra string, withJSON bool) *command {
	c := &command{a: a, name: name, fs: flag.NewFlagSet("oidcd "+name, flag.ContinueOnError), extra: extra}
	c.fs.SetOutput(a.stdout)
	c.sf.register(c.fs, "database")
	if name != "migrate" {
		c.mustExist = true
		c.fs.BoolVar(&c.create, "create", false, "create the SQLite database when it does not exist (without it, a missing database is an error: a typo in --database must not start an empty one)")
	}
	if withJSON {
		c.fs.BoolVar(&c.json, "json", false, "print machine-readable JSON")
	}
	c.fs.Usage = func() {
		fmt.Fprintf(c.fs.Output(), "Usage: oidcd %s [flags]%s\n\nFlags:\n", name, extra)
		printFlags(c.fs.Output(), c.fs)
	}
	return c
}

// printFlags lists the flags of fs with the usual double-dash spelling
// (flag.PrintDefaults writes "-name").
func printFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if arg != "" {
			line += " " + arg
		}
		fmt.Fprintf(w, "%s\n        %s", line, strings.ReplaceAll(usage, "\n", "\n        "))
		if d := f.DefValue; d != "" && d != "false" && d != "0" {
			fmt.Fprintf(w, " (default %q)", d)
		}
		fmt.Fprintln(w)
	})
}

// dashes rewrites the flag package's "-name" in an error message to the
// "--name" spelling the help text uses.
func dashes(err error) string {
	msg := err.Error()
	for _, p := range []string{"not defined: -", "needs an argument: -", "for flag -"} {
		msg = strings.Replace(msg, p, p+"-", 1)
	}
	return msg
}

// parse parses flags and positional arguments in any order and checks
// their number.
func (c *command) parse(args []string, minPos, maxPos int) ([]string, error) {
	var pos []string
	// Parse quietly: flag would print the whole usage on every error.
	c.fs.SetOutput(io.Discard)
	for {
		if err := c.fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				// Asked-for help is output, not an error: stdout.
				c.fs.SetOutput(c.a.stdout)
				c.fs.Usage()
				return nil, err
			}
			msg := dashes(err)
			if maxPos > 0 && strings.Contains(msg, "not defined: -") {
				// Key ids are base64url and may begin with "-".
				msg += ` (an argument that begins with "-" goes after "--")`
			}
			return nil, usagef("%s: %s", c.name, msg)
		}
		args = c.fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) < minPos || len(pos) > maxPos {
		if maxPos == 0 {
			return nil, usagef("%s: unexpected argument %q", c.name, pos[0])
		}
		return nil, usagef("%s: expected arguments:%s", c.name, c.extra)
	}
	return pos, nil
}

// settings loads the settings with this command's flags, checks that no
// unknown OIDCD_ variable is set and, unless the command may create it,
// that the database exists. It reports every problem at once.
func (c *command) settings() (*Settings, error) {
	s, err := loadSettings(&c.sf, c.a.lookupEnv)
	if c.a.environ != nil {
		err = errors.Join(err, checkEnviron(c.a.environ()))
	}
	if err == nil && c.mustExist && !c.create {
		err = databaseMissing(s)
	}
	return s, err
}

// settingsAndStore loads the settings and opens (and migrates) the database
// they name: the start of every command.
func (c *command) settingsAndStore(ctx context.Context) (*Settings, *sqlstore.Store, error) {
	s, err := c.settings()
	if err != nil {
		return nil, nil, err
	}
	store, err := c.open(ctx, s)
	if err != nil {
		return nil, nil, err
	}
	return s, store, nil
}

// open opens and migrates the database of s.
func (c *command) open(ctx context.Context, s *Settings) (*sqlstore.Store, error) {
	store, err := sqlstore.Open(ctx, s.Database)
	if err != nil {
		return nil, err
	}
	if err := store.Migrate(ctx); err != nil {
		store.Close()
		return nil, err
	}
	return store, nil
}

// throwawaySealer seals nothing that is kept: NewClient needs a sealer to
// validate a client before the database and its secret are opened.
func throwawaySealer() keys.Sealer {
	b := make([]byte, keys.MinSecretLen)
	rand.Read(b)
	s, _ := keys.NewSealer(b)
	return s
}

// listing runs a "list" command: the rows fetch returns, printed as a JSON
// array (--json) or as a table with header and one tab-separated row each.
func listing[T, J any](ctx context.Context, a *app, name string, args []string,
	fetch func(*sqlstore.Store, context.Context) ([]T, error), toJSON func(T) J, header string, row func(T) string) error {
	c := a.newCommand(name, "", true)
	if _, err := c.parse(args, 0, 0); err != nil {
		return err
	}
	_, store, err := c.settingsAndStore(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	all, err := fetch(store, ctx)
	if err != nil {
		return err
	}
	if c.json {
		out := []J{}
		for _, v := range all {
			out = append(out, toJSON(v))
		}
		return c.printJSON(out)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, v := range all {
		fmt.Fprintln(tw, row(v))
	}
	return tw.Flush()
}

// printJSON writes v indented.
func (c *command) printJSON(v any) error {
	enc := json.NewEncoder(c.a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ", ") }

func (l *stringList) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// timeText formats a time for tables.
func timeText(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// version prints the build's identity: module version, commit and Go
// version (oidcd version, oidcd --version).
func (a *app) version(args []string) error {
	fs := flag.NewFlagSet("oidcd version", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	asJSON := fs.Bool("json", false, "print machine-readable JSON")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: oidcd version [flags]\n\nPrints the module version, the commit and the Go version of this build.\n\nFlags:\n")
		printFlags(fs.Output(), fs)
	}
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(a.stdout)
		fs.Usage()
		return err
	} else if err != nil {
		return usagef("version: %s", dashes(err))
	}
	if fs.NArg() > 0 {
		return usagef("version: unexpected argument %q", fs.Arg(0))
	}
	bi := buildinfo.Read()
	if *asJSON {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(bi)
	}
	fmt.Fprintln(a.stdout, "oidcd", bi)
	return nil
}

// audit logs an admin change as a security event on standard error (one
// line with a stable "event" field, JSON with OIDCD_LOG_FORMAT=json), as
// the server logs its own events.
func (c *command) audit(ctx context.Context, s *Settings, e op.Event) {
	op.LogEvent(ctx, newLogger(s, c.a.stderr), e)
}
