package server

import "github.com/oidcd/oidcd/storage"

// AccountRules are the server's rules for accounts, in the form the
// service layer (package manage) takes them: argon2id password hashes
// (Django hashes are checked too), the password policy with
// PasswordMinLength (DefaultPasswordMinLength when 0), ValidateUsername
// and ValidateUserClaims.
type AccountRules struct {
	PasswordMinLength int
}

// HashPassword returns the argon2id PHC string of password.
func (AccountRules) HashPassword(password string) (string, error) { return HashPassword(password) }

// CheckPassword reports whether password matches hash.
func (AccountRules) CheckPassword(hash, password string) bool { return CheckPassword(hash, password) }

// CheckPasswordPolicy is CheckPasswordPolicy with r.PasswordMinLength.
func (r AccountRules) CheckPasswordPolicy(password string) error {
	return CheckPasswordPolicy(password, r.PasswordMinLength)
}

// ValidateUsername is ValidateUsername.
func (AccountRules) ValidateUsername(username string) error { return ValidateUsername(username) }

// ValidateClaims is ValidateUserClaims.
func (AccountRules) ValidateClaims(u *storage.User) error { return ValidateUserClaims(u) }
