package server

import (
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/crypto/scrypt"
)

// Password hashes imported from a Django site (django.contrib.auth.hashers)
// are kept as Django stored them, "<algorithm>$<fields>", and checked here;
// the first successful login replaces them with oidcd's argon2id
// (Server.Authenticate). The formats are Django's:
//
//	pbkdf2_sha256$<iterations>$<salt>$<base64 hash>        PBKDF2PasswordHasher (the default)
//	pbkdf2_sha1$<iterations>$<salt>$<base64 hash>          PBKDF2SHA1PasswordHasher
//	argon2$argon2id$v=19$m=<KiB>,t=<n>,p=<n>$<salt>$<hash> Argon2PasswordHasher (argon2i before Django 3.2)
//	bcrypt_sha256$$2b$<cost>$<salt+hash>                   BCryptSHA256PasswordHasher: bcrypt of hex(SHA-256(password))
//	bcrypt$$2b$<cost>$<salt+hash>                          BCryptPasswordHasher
//	scrypt$<N>$<salt>$<r>$<p>$<base64 hash>                ScryptPasswordHasher (Django 4.0+), 64-byte key
//
// Any other hasher (md5, sha1, unsalted_md5, crypt, ...) is not supported:
// such users must reset their password.

// Bounds on the work a stored Django hash may ask for, so that a corrupt or
// hostile hash cannot make one login take minutes or gigabytes. Django's own
// defaults are far below them (PBKDF2 1,000,000 iterations in Django 5.1,
// argon2 100 MiB, bcrypt cost 12, scrypt N=2^14).
const (
	maxPBKDF2Iterations = 10_000_000
	maxBcryptCost       = 16
	maxScryptMemory     = 512 << 20 // bytes: 128·N·r·p
)

// DjangoHasher returns the name of the Django hasher that made an encoded
// password ("pbkdf2_sha256", "argon2", "unsalted_md5", ...), following
// Django's identify_hasher; "" if it is empty or not in a Django format.
// An unusable password (set_unusable_password) starts with "!" and is
// reported as "unusable".
func DjangoHasher(encoded string) string {
	switch {
	case encoded == "":
		return ""
	case strings.HasPrefix(encoded, "!"):
		return "unusable"
	case len(encoded) == 32 && !strings.Contains(encoded, "$"),
		len(encoded) == 37 && strings.HasPrefix(encoded, "md5$$"):
		return "unsalted_md5"
	case len(encoded) == 46 && strings.HasPrefix(encoded, "sha1$$"):
		return "unsalted_sha1"
	}
	alg, _, ok := strings.Cut(encoded, "$")
	if !ok || alg == "" {
		return ""
	}
	return alg
}

// DjangoHasherSupported reports whether CheckPassword can verify passwords
// of this Django hasher.
func DjangoHasherSupported(hasher string) bool {
	switch hasher {
	case "pbkdf2_sha256", "pbkdf2_sha1", "argon2", "bcrypt_sha256", "bcrypt", "scrypt":
		return true
	}
	return false
}

// checkDjango reports whether pw matches a Django-encoded password,
// comparing in constant time. Malformed or out-of-bounds hashes never match.
func checkDjango(encoded, pw string) bool {
	switch DjangoHasher(encoded) {
	case "pbkdf2_sha256":
		return checkDjangoPBKDF2(encoded, pw, sha256.New, sha256.Size)
	case "pbkdf2_sha1":
		return checkDjangoPBKDF2(encoded, pw, sha1.New, sha1.Size)
	case "argon2":
		return checkDjangoArgon2(encoded, pw)
	case "bcrypt_sha256":
		// Django hashes with SHA-256 first and gives bcrypt the hex digest, so
		// long passwords are not truncated at bcrypt's 72 bytes.
		d := sha256.Sum256([]byte(pw))
		return checkBcrypt(strings.TrimPrefix(encoded, "bcrypt_sha256$"), []byte(hex.EncodeToString(d[:])))
	case "bcrypt":
		// Django's plain bcrypt hasher gives bcrypt the password, which uses
		// only its first 72 bytes.
		b := []byte(pw)
		if len(b) > 72 {
			b = b[:72]
		}
		return checkBcrypt(strings.TrimPrefix(encoded, "bcrypt$"), b)
	case "scrypt":
		return checkDjangoScrypt(encoded, pw)
	}
	return false
}

func checkDjangoPBKDF2(encoded, pw string, h func() hash.Hash, size int) bool {
	f := strings.Split(encoded, "$") // alg, iterations, salt, hash
	if len(f) != 4 || f[2] == "" {
		return false
	}
	iter, err := strconv.Atoi(f[1])
	if err != nil || iter < 1 || iter > maxPBKDF2Iterations {
		return false
	}
	want, err := base64.StdEncoding.DecodeString(f[3])
	if err != nil || len(want) != size {
		return false
	}
	got, err := pbkdf2.Key(h, pw, []byte(f[2]), iter, size)
	return err == nil && subtle.ConstantTimeCompare(got, want) == 1
}

func checkDjangoArgon2(encoded, pw string) bool {
	// argon2 + $argon2id$v=19$m=..,t=..,p=..$salt$hash (argon2-cffi's
	// encoding; salt and hash unpadded base64).
	f := strings.Split(encoded, "$")
	if len(f) != 6 || f[0] != "argon2" || f[2] != "v="+strconv.Itoa(argon2.Version) {
		// Hashes without v= are argon2 version 1.0, which x/crypto does not
		// implement: DjangoHasherSupported cannot tell, so they simply fail.
		return false
	}
	variant := f[1]
	if variant != "argon2id" && variant != "argon2i" {
		return false
	}
	p, ok := parsePHC("$argon2id$" + strings.Join(f[2:], "$"))
	if !ok {
		return false
	}
	var key []byte
	if variant == "argon2id" {
		key = idKey([]byte(pw), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
	} else {
		key = withArgonSlot(func() []byte {
			return argon2.Key([]byte(pw), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
		})
	}
	return subtle.ConstantTimeCompare(key, p.key) == 1
}

func checkBcrypt(hashed string, pw []byte) bool {
	cost, err := bcrypt.Cost([]byte(hashed))
	if err != nil || cost > maxBcryptCost {
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(hashed), pw) == nil
}

func checkDjangoScrypt(encoded, pw string) bool {
	f := strings.Split(encoded, "$") // alg, N, salt, r, p, hash
	if len(f) != 6 || f[2] == "" {
		return false
	}
	n, err1 := strconv.Atoi(f[1])
	r, err2 := strconv.Atoi(f[3])
	p, err3 := strconv.Atoi(f[4])
	if err1 != nil || err2 != nil || err3 != nil || n < 2 || n&(n-1) != 0 || r < 1 || p < 1 ||
		n > maxScryptMemory/128 || r > maxScryptMemory/128/n || p > maxScryptMemory/128/n/r {
		return false
	}
	want, err := base64.StdEncoding.DecodeString(f[5])
	if err != nil || len(want) != 64 {
		return false
	}
	got := withArgonSlot(func() []byte {
		k, err := scrypt.Key([]byte(pw), []byte(f[2]), n, r, p, len(want))
		if err != nil {
			return nil
		}
		return k
	})
	return got != nil && subtle.ConstantTimeCompare(got, want) == 1
}
