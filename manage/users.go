package manage

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"strings"

	"github.com/oidcd/oidcd/storage"
)

// UserPage is one page of ListUsers.
type UserPage struct {
	Users []*storage.User
	// Total is how many users match the query in all.
	Total int
}

// ListUsers returns the page of users q selects, ordered by username
// (q.Limit 0: all of them).
func (s *Service) ListUsers(ctx context.Context, q storage.UserQuery) (*UserPage, error) {
	users, total, err := s.cfg.Store.SearchUsers(ctx, q)
	if err != nil {
		return nil, err
	}
	return &UserPage{Users: users, Total: total}, nil
}

// User returns one account; storage.ErrNotFound if none has this id.
func (s *Service) User(ctx context.Context, id string) (*storage.User, error) {
	return s.cfg.Store.User(ctx, id)
}

// UserByUsername returns one account by its exact username;
// storage.ErrNotFound if none.
func (s *Service) UserByUsername(ctx context.Context, username string) (*storage.User, error) {
	return s.cfg.Store.UserByUsername(ctx, username)
}

// NewUser is an account to create.
type NewUser struct {
	Username string
	Password string
	Admin    bool
	// Claims are the account's standard claims (UpdatedAt is set).
	Claims storage.Claims
}

// CreateUser checks and creates an account. ErrInvalid for a bad
// username, claims or password, or a username that is taken.
func (s *Service) CreateUser(ctx context.Context, a Actor, nu NewUser) (*storage.User, error) {
	u := &storage.User{Username: nu.Username, Admin: nu.Admin, Claims: nu.Claims}
	if err := s.cfg.Rules.ValidateUsername(u.Username); err != nil {
		return nil, invalidf("%v", trimPrefix(err))
	}
	if err := s.cfg.Rules.ValidateClaims(u); err != nil {
		return nil, invalidf("%v", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	if err := s.cfg.Rules.CheckPasswordPolicy(nu.Password); err != nil {
		return nil, invalidf("%v", err)
	}
	hash, err := s.cfg.Rules.HashPassword(nu.Password)
	if err != nil {
		return nil, err
	}
	now := s.now()
	u.ID, u.PasswordHash, u.CreatedAt, u.UpdatedAt = newUserID(), hash, now, now
	err = s.change(ctx, a, ActionUserCreated, "user:"+u.ID, Change{UserID: u.ID, Username: u.Username}, func(tx storage.Storage, rec *storage.AuditRecord) error {
		rec.Detail = fmt.Sprintf("user %q", u.Username)
		if u.Admin {
			rec.Detail += ", admin"
		}
		return tx.CreateUser(ctx, u)
	})
	if errors.Is(err, storage.ErrAlreadyExists) {
		return nil, invalidf("username %q is taken", u.Username)
	}
	if err != nil {
		return nil, err
	}
	return u, nil
}

// UpdateUserClaims changes an account's standard claims: edit changes a
// copy of them (set what changes, leave the rest). The claims are checked
// as CreateUser checks them; the audit record names the claims changed.
// A user's own change (a.UserID == id) is recorded as account.updated.
func (s *Service) UpdateUserClaims(ctx context.Context, a Actor, id string, edit func(c *storage.Claims) error) (*storage.User, error) {
	old, err := s.cfg.Store.User(ctx, id)
	if err != nil {
		return nil, err
	}
	u := *old
	u.Localized = maps.Clone(old.Localized) // edit may change it in place
	if err := edit(&u.Claims); err != nil {
		return nil, err
	}
	if err := s.cfg.Rules.ValidateClaims(&u); err != nil {
		return nil, invalidf("%v", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	u.UpdatedAt = old.UpdatedAt
	changed := changedClaims(&old.Claims, &u.Claims)
	if len(changed) == 0 {
		return old, nil
	}
	u.UpdatedAt = s.now()
	action := ActionUserUpdated
	if a.UserID == id {
		action = ActionAccountUpdated
	}
	err = s.change(ctx, a, action, "user:"+id, Change{UserID: id, Username: u.Username}, func(tx storage.Storage, rec *storage.AuditRecord) error {
		rec.Detail = fmt.Sprintf("user %q: changed %s", u.Username, strings.Join(changed, ", "))
		return tx.UpdateUser(ctx, &u)
	})
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// changedClaims names the claims (their JSON names) that differ.
func changedClaims(a, b *storage.Claims) []string {
	var out []string
	va, vb := reflect.ValueOf(*a), reflect.ValueOf(*b)
	t := va.Type()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name == "updated_at" {
			continue
		}
		if !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			out = append(out, name)
		}
	}
	return out
}

// SetPassword gives an account a new password (checked against the
// policy). In the same transaction every grant of the user is revoked and
// every session ended, so nothing outlives the old password.
func (s *Service) SetPassword(ctx context.Context, a Actor, id, password string) error {
	if err := s.cfg.Rules.CheckPasswordPolicy(password); err != nil {
		return invalidf("%v", err)
	}
	return s.setPassword(ctx, a, ActionPasswordChanged, id, password)
}

func (s *Service) setPassword(ctx context.Context, a Actor, action, id, password string) error {
	u, err := s.cfg.Store.User(ctx, id)
	if err != nil {
		return err
	}
	hash, err := s.cfg.Rules.HashPassword(password)
	if err != nil {
		return err
	}
	now := s.now()
	return s.change(ctx, a, action, "user:"+id, Change{UserID: id, Username: u.Username}, func(tx storage.Storage, rec *storage.AuditRecord) error {
		rec.Detail = fmt.Sprintf("user %q: password changed; sessions and grants ended", u.Username)
		return tx.SetPassword(ctx, id, hash, now)
	})
}

// ResetPassword gives an account a new random password and returns it
// (to hand to the user); sessions and grants end as with SetPassword.
func (s *Service) ResetPassword(ctx context.Context, a Actor, id string) (string, error) {
	b := make([]byte, 15)
	rand.Read(b)
	pw := base64.RawURLEncoding.EncodeToString(b)
	if err := s.setPassword(ctx, a, ActionPasswordChanged, id, pw); err != nil {
		return "", err
	}
	return pw, nil
}

// ChangeOwnPassword is the account page's password change: the actor
// changes its own password and must give the current one
// (ErrWrongPassword otherwise). Every session and grant of the account
// ends, the current session included: the caller starts a new one.
func (s *Service) ChangeOwnPassword(ctx context.Context, a Actor, current, password string) error {
	if a.UserID == "" {
		return refusedf("no signed-in account")
	}
	u, err := s.cfg.Store.User(ctx, a.UserID)
	if err != nil {
		return err
	}
	if !s.cfg.Rules.CheckPassword(u.PasswordHash, current) {
		return ErrWrongPassword
	}
	if err := s.cfg.Rules.CheckPasswordPolicy(password); err != nil {
		return invalidf("%v", err)
	}
	return s.setPassword(ctx, a, ActionAccountPasswordChanged, u.ID, password)
}

// SetLocked locks or unlocks an account. A locked account cannot sign in
// (the login page and the password grant answer as for a wrong password);
// locking also ends its sessions and revokes its grants, in the same
// transaction. An actor cannot lock itself (ErrRefused).
func (s *Service) SetLocked(ctx context.Context, a Actor, id string, locked bool) error {
	if locked && a.UserID == id {
		return refusedf("you cannot lock your own account")
	}
	u, err := s.cfg.Store.User(ctx, id)
	if err != nil {
		return err
	}
	if u.Locked == locked {
		return nil
	}
	action := ActionUserUnlocked
	if locked {
		action = ActionUserLocked
	}
	now := s.now()
	return s.change(ctx, a, action, "user:"+id, Change{UserID: id, Username: u.Username}, func(tx storage.Storage, rec *storage.AuditRecord) error {
		up := *u
		up.Locked = locked
		up.UpdatedAt = now
		rec.Detail = fmt.Sprintf("user %q", u.Username)
		if err := tx.UpdateUser(ctx, &up); err != nil {
			return err
		}
		if !locked {
			return nil
		}
		rec.Detail += ": sessions and grants ended"
		if err := tx.RevokeUserGrants(ctx, id, now); err != nil {
			return err
		}
		return tx.DeleteUserSessions(ctx, id)
	})
}

// SetAdmin grants or removes the admin flag. Removing the last admin, or
// the actor's own flag, from the console is ErrRefused (nobody could then
// undo it there).
func (s *Service) SetAdmin(ctx context.Context, a Actor, id string, admin bool) error {
	u, err := s.cfg.Store.User(ctx, id)
	if err != nil {
		return err
	}
	if u.Admin == admin {
		return nil
	}
	if !admin {
		if a.UserID == id {
			return refusedf("you cannot remove your own admin flag")
		}
		if err := s.checkOtherAdmin(ctx, a, id); err != nil {
			return err
		}
	}
	action := ActionUserAdminRemoved
	if admin {
		action = ActionUserAdminGranted
	}
	return s.change(ctx, a, action, "user:"+id, Change{UserID: id, Username: u.Username}, func(tx storage.Storage, rec *storage.AuditRecord) error {
		up := *u
		up.Admin = admin
		up.UpdatedAt = s.now()
		rec.Detail = fmt.Sprintf("user %q", u.Username)
		return tx.UpdateUser(ctx, &up)
	})
}

// checkOtherAdmin refuses a console change that would leave no unlocked
// admin but id. The command line (an actor without UserID) may: it does
// not need an admin account.
func (s *Service) checkOtherAdmin(ctx context.Context, a Actor, id string) error {
	if a.UserID == "" {
		return nil
	}
	all, err := s.cfg.Store.ListUsers(ctx)
	if err != nil {
		return err
	}
	for _, o := range all {
		if o.Admin && !o.Locked && o.ID != id {
			return nil
		}
	}
	return refusedf("this is the last admin account")
}

// DeleteUser removes an account with its sessions, consents and grants.
// An actor cannot delete itself, nor (from the console) the last admin
// (ErrRefused).
func (s *Service) DeleteUser(ctx context.Context, a Actor, id string) error {
	if a.UserID == id {
		return refusedf("you cannot delete your own account here")
	}
	u, err := s.cfg.Store.User(ctx, id)
	if err != nil {
		return err
	}
	if u.Admin {
		if err := s.checkOtherAdmin(ctx, a, id); err != nil {
			return err
		}
	}
	return s.change(ctx, a, ActionUserDeleted, "user:"+id, Change{UserID: id, Username: u.Username}, func(tx storage.Storage, rec *storage.AuditRecord) error {
		rec.Detail = fmt.Sprintf("user %q", u.Username)
		return tx.DeleteUser(ctx, id)
	})
}

// newUserID returns 128 random bits, base64url, as the server's ids.
func newUserID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func trimPrefix(err error) string {
	return strings.TrimPrefix(err.Error(), "server: ")
}
