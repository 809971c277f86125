package latchkey

import (
	_ "embed"
	"strings"
	"sync"
	"unicode/utf8"
)

// MinPasswordLen is the fewest characters (Unicode code points) a password
// may have when it is set. Passwords set before this rule keep working: it
// is checked only when a password is set, never when one is verified.
const MinPasswordLen = 8

// commonPasswordsText is the bundled list of the most common passwords,
// one a line, lower case; lines starting with # are comments.
//
//go:embed passwords.txt
var commonPasswordsText string

var commonPasswords = sync.OnceValue(func() map[string]bool {
	m := map[string]bool{}
	for _, line := range strings.Split(commonPasswordsText, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m[strings.ToLower(line)] = true
	}
	return m
})

// IsCommonPassword reports whether pw is on the bundled list of the most
// common passwords, compared in lower case.
func IsCommonPassword(pw string) bool { return commonPasswords()[strings.ToLower(pw)] }

// CheckNewPassword is the rule for a password being SET (a new identity, a
// change or a reset, the bootstrap admin password): present, at least
// MinPasswordLen characters, at most MaxPasswordLen bytes, and not one of
// the most common passwords. Its error is bad_request with details.field
// = field and details.reason too_short, too_long or too_common; the
// message never repeats the password.
func CheckNewPassword(field, pw string) error {
	switch {
	case pw == "":
		return BadField(field, "%s is required", field).With("reason", "required")
	case len(pw) > MaxPasswordLen:
		return BadField(field, "%s must be at most %d bytes", field, MaxPasswordLen).With("reason", "too_long")
	case utf8.RuneCountInString(pw) < MinPasswordLen:
		return BadField(field, "%s must be at least %d characters long", field, MinPasswordLen).With("reason", "too_short")
	case IsCommonPassword(pw):
		return BadField(field, "%s is one of the most common passwords, which attackers try first: choose another", field).With("reason", "too_common")
	}
	return nil
}
