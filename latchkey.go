// Package latchkey holds the domain of the latchkey session and access
// broker: its types, error codes, service interfaces and the pure rule
// functions that decide what may happen. It imports none of its subpackages.
package latchkey

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
	"unicode"
)

// MaxNameLen bounds every human-given name.
const MaxNameLen = 200

// MaxPasswordLen bounds a password in bytes (argon2id takes any length;
// this bounds the work one request can ask for).
const MaxPasswordLen = 1024

// ValidName checks a human-given name: non-empty, at most MaxNameLen
// characters, no control characters. Any other character (quotes,
// semicolons, SQL or shell metacharacters) is plain data.
func ValidName(field, s string) error {
	if strings.TrimSpace(s) == "" {
		return BadField(field, "%s must not be empty", field)
	}
	if len([]rune(s)) > MaxNameLen {
		return BadField(field, "%s must be at most %d characters", field, MaxNameLen)
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return BadField(field, "%s must not contain control characters", field)
		}
	}
	return nil
}

// ValidPassword checks a password given (to log on, unlock, or prove an
// old one): present and at most MaxPasswordLen bytes. The rules of a
// password being set are CheckNewPassword's.
func ValidPassword(field, pw string) error {
	if pw == "" {
		return BadField(field, "%s is required", field)
	}
	if len(pw) > MaxPasswordLen {
		return BadField(field, "%s must be at most %d bytes", field, MaxPasswordLen)
	}
	return nil
}

// NewID returns a new random, roughly time-ordered ID with the given prefix.
func NewID(prefix string) string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return fmt.Sprintf("%s_%011x%s", prefix, time.Now().UnixMilli(), hex.EncodeToString(b[:]))
}
