package main

import (
	"context"
	"fmt"
	"os"

	"github.com/oidcd/oidcd/internal/djangoimport"
)

// importCmd moves another provider's data into oidcd:
// "oidcd import django --from URL".
func (a *app) importCmd(ctx context.Context, args []string) error {
	sub, args, err := subcommand("import", args, "django")
	if err != nil {
		return err
	}
	if sub != "django" {
		fmt.Fprint(a.stdout, "Usage: oidcd import django --from URL [--dry-run] [--json] [--media DIR] [--sub id|username | --sub-map FILE] [--claims-sql SQL]\n")
		return nil
	}
	c := a.newCommand("import django", "", true)
	var opts djangoimport.Options
	c.fs.StringVar(&opts.From, "from", "", "the django-oidc-provider database: a SQLite file or a postgres:// URL (required; only read)")
	c.fs.BoolVar(&opts.DryRun, "dry-run", false, "report what would be imported, write nothing")
	c.fs.StringVar(&opts.MediaDir, "media", "", "the site's MEDIA_ROOT `folder`, to import client logos")
	c.fs.StringVar(&opts.Sub, "sub", "id", `the "sub" relying parties know: id (the Django user id, django-oidc-provider's default) or username`)
	subMap := c.fs.String("sub-map", "", "a CSV `file` of django_user_id,sub lines, for sites with a custom OIDC_IDTOKEN_SUB_GENERATOR")
	c.fs.StringVar(&opts.ClaimsSQL, "claims-sql", "", "a query on the source returning user_id and standard-claim columns (phone_number, locale, ...)")
	c.fs.BoolVar(&opts.InsecureAllowHTTP, "insecure-allow-http", false, "keep http redirect URIs of non-loopback hosts (development only)")
	if _, err := c.parse(args, 0, 0); err != nil {
		return err
	}
	if opts.From == "" {
		return usagef("import django: --from is required")
	}
	if opts.Sub != "id" && opts.Sub != "username" {
		return usagef("import django: --sub must be id or username, not %q", opts.Sub)
	}
	if *subMap != "" {
		f, err := os.Open(*subMap)
		if err != nil {
			return err
		}
		opts.SubMap, err = djangoimport.ReadSubMap(f)
		f.Close()
		if err != nil {
			return err
		}
	}
	s, err := c.settings()
	if err != nil {
		return err
	}
	opts.InsecureAllowHTTP = opts.InsecureAllowHTTP || s.Server.Provider.Registration.InsecureAllowHTTP
	opts.RefreshTokenExpire, opts.RefreshTokenIdleExpire = s.Server.Provider.RefreshTokenExpire, s.Server.Provider.RefreshTokenIdleExpire
	opts.Now = a.now
	store, seal, err := c.openSealed(ctx, s)
	if err != nil {
		return err
	}
	defer store.Close()
	opts.Sealer = seal
	report, err := djangoimport.Run(ctx, store, opts)
	if err != nil {
		return fmt.Errorf("import django: %w", err)
	}
	if c.json {
		return c.printJSON(report)
	}
	return report.WriteText(a.stdout)
}
