package djangoimport

import (
	"fmt"
	"io"
	"strings"
)

// Kinds of imported objects, in the order they are imported and reported.
var kinds = []string{"clients", "keys", "users", "consents", "tokens", "codes"}

// Report tells what an import did (or, with DryRun, would do).
type Report struct {
	Source string `json:"source"`
	// Release is the django-oidc-provider release line of the schema
	// ("0.8"; "0.8+" when it has newer migrations than this importer knows).
	Release string `json:"release"`
	// Migration is the newest applied migration of the oidc_provider app.
	Migration string `json:"migration"`
	DryRun    bool   `json:"dry_run"`
	// Counts per kind (clients, keys, users, consents, tokens, codes).
	Counts map[string]*Count `json:"counts"`
	// Skipped lists every row (or part of a row) not imported, with why.
	Skipped []Skip `json:"skipped"`
	// MustResetPassword lists the users imported without a usable password:
	// an unsupported Django hasher, or none set. They sign in again after a
	// password reset (oidcd users set-password).
	MustResetPassword []string `json:"must_reset_password"`
	// Notes are remarks about the whole import.
	Notes []string `json:"notes"`
}

// Count is what happened to the rows of one kind. Tokens count Django
// Token rows (each an access token and usually a refresh token).
type Count struct {
	Read      int `json:"read"`
	Created   int `json:"created"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
	Skipped   int `json:"skipped"`
}

// Skip is one row left out, or one part of a row (a redirect URI, a
// refresh token) left out of an imported object.
type Skip struct {
	Kind   string `json:"kind"`
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

func newReport() *Report {
	r := &Report{Counts: map[string]*Count{}, Skipped: []Skip{}, MustResetPassword: []string{}, Notes: []string{}}
	for _, k := range kinds {
		r.Counts[k] = &Count{}
	}
	return r
}

func (r *Report) skip(kind, id, format string, args ...any) {
	r.Counts[kind].Skipped++
	r.part(kind, id, format, args...)
}

// part records a left-out part of an object that was imported.
func (r *Report) part(kind, id, format string, args ...any) {
	r.Skipped = append(r.Skipped, Skip{Kind: kind, ID: id, Reason: fmt.Sprintf(format, args...)})
}

// Changed reports whether the import wrote (or would write) anything.
func (r *Report) Changed() bool {
	for _, c := range r.Counts {
		if c.Created+c.Updated > 0 {
			return true
		}
	}
	return false
}

// WriteText prints the report for people.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	verb := "imported"
	if r.DryRun {
		verb = "would import (dry run: nothing written)"
	}
	fmt.Fprintf(&b, "django-oidc-provider %s schema (migration %s) from %s: %s\n", r.Release, r.Migration, r.Source, verb)
	fmt.Fprintf(&b, "%-9s %5s %8s %8s %10s %8s\n", "", "read", "created", "updated", "unchanged", "skipped")
	for _, k := range kinds {
		c := r.Counts[k]
		fmt.Fprintf(&b, "%-9s %5d %8d %8d %10d %8d\n", k, c.Read, c.Created, c.Updated, c.Unchanged, c.Skipped)
	}
	if len(r.Skipped) > 0 {
		fmt.Fprintf(&b, "left out:\n")
		for _, s := range r.Skipped {
			fmt.Fprintf(&b, "  %s %s: %s\n", s.Kind, s.ID, s.Reason)
		}
	}
	if len(r.MustResetPassword) > 0 {
		fmt.Fprintf(&b, "users who must reset their password: %s\n", strings.Join(r.MustResetPassword, ", "))
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
