package server

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters of new hashes: OWASP's minimum recommendation
// (19 MiB, 2 passes, 1 lane). Hashes keep their own parameters, so these may
// be raised later without invalidating stored passwords.
const (
	argonMemory  = 19 * 1024 // KiB
	argonTime    = 2
	argonThreads = 1
	argonSaltLen = 16
	argonKeyLen  = 32
)

// Bounds on the parameters CheckPassword accepts, so that a corrupt or
// hostile hash cannot make one check take minutes or gigabytes.
const (
	maxArgonMemory  = 1024 * 1024 // 1 GiB in KiB
	maxArgonTime    = 16
	maxArgonThreads = 16
)

// MaxPasswordLen bounds passwords (in bytes) so that hashing cost stays
// predictable.
const MaxPasswordLen = 1024

var b64 = base64.RawStdEncoding

// dummyHash is checked for unknown users so that they take as long as a
// wrong password (SECURITY F8). It hashes a random password that was thrown
// away, with the current parameters (a test keeps them in step); its result
// is never used. Being a constant, it costs no hashing at start-up.
const dummyHash = "$argon2id$v=19$m=19456,t=2,p=1$leoMvGRqUWtTJdrTyfehzg$tmqi2Q9lVWa+/tAmwln9fxZJAGnf8HfyFhCu+BYmnu4"

// argonSlots bounds how many hashes run at once: each takes argonMemory, so
// a flood of login attempts queues instead of exhausting memory.
var argonSlots = make(chan struct{}, max(2, runtime.NumCPU()))

func idKey(pw, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
	return withArgonSlot(func() []byte { return argon2.IDKey(pw, salt, time, memory, threads, keyLen) })
}

// withArgonSlot runs a memory-hard hash (argon2, scrypt) in one of the
// argonSlots.
func withArgonSlot(f func() []byte) []byte {
	argonSlots <- struct{}{}
	defer func() { <-argonSlots }()
	return f()
}

// HashPassword returns the argon2id hash of pw in PHC string form:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>.
func HashPassword(pw string) (string, error) {
	if pw == "" {
		return "", errors.New("server: empty password")
	}
	if len(pw) > MaxPasswordLen {
		return "", fmt.Errorf("server: password longer than %d bytes", MaxPasswordLen)
	}
	salt := make([]byte, argonSaltLen)
	rand.Read(salt)
	key := idKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, argonMemory, argonTime, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// CheckPassword reports whether pw matches the PHC hash made by
// HashPassword, or a password hash imported from Django in one of the
// formats DjangoHasherSupported accepts, comparing in constant time. A
// malformed hash never matches.
func CheckPassword(phc, pw string) bool {
	if len(pw) > MaxPasswordLen {
		return false
	}
	if !strings.HasPrefix(phc, "$") {
		return checkDjango(phc, pw)
	}
	p, ok := parsePHC(phc)
	if !ok {
		return false
	}
	key := idKey([]byte(pw), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
	return subtle.ConstantTimeCompare(key, p.key) == 1
}

// NeedsRehash reports whether a stored hash that just matched should be
// replaced by HashPassword's: hashes imported from Django are.
func NeedsRehash(phc string) bool {
	return !strings.HasPrefix(phc, "$argon2id$")
}

type argonParams struct {
	memory, time uint32
	threads      uint8
	salt, key    []byte
}

func parsePHC(phc string) (argonParams, bool) {
	var p argonParams
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	f := strings.Split(phc, "$")
	if len(f) != 6 || f[0] != "" || f[1] != "argon2id" || f[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, false
	}
	for _, kv := range strings.Split(f[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return p, false
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n == 0 {
			return p, false
		}
		switch k {
		case "m":
			p.memory = uint32(n)
		case "t":
			p.time = uint32(n)
		case "p":
			if n > maxArgonThreads {
				return p, false
			}
			p.threads = uint8(n)
		default:
			return p, false
		}
	}
	if p.memory == 0 || p.memory > maxArgonMemory || p.time == 0 || p.time > maxArgonTime || p.threads == 0 {
		return p, false
	}
	var err error
	if p.salt, err = b64.DecodeString(f[4]); err != nil || len(p.salt) < 8 {
		return p, false
	}
	if p.key, err = b64.DecodeString(f[5]); err != nil || len(p.key) < 16 || len(p.key) > 64 {
		return p, false
	}
	return p, true
}
