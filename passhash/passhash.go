// Package passhash hashes and verifies passwords with argon2id, encoding
// hashes in the PHC string format ($argon2id$v=19$m=...,t=...,p=...$salt$key).
package passhash

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id's cost parameters.
type Params struct {
	Time      uint32 // passes over memory
	MemoryKiB uint32 // memory in KiB
	Threads   uint8  // lanes
	KeyLen    uint32 // output length in bytes
	SaltLen   uint32 // salt length in bytes
}

// Production is the default: OWASP's argon2id profile (19 MiB, 2 passes,
// one lane), about 20-40 ms per hash on a current server core.
var Production = Params{Time: 2, MemoryKiB: 19 * 1024, Threads: 1, KeyLen: 32, SaltLen: 16}

// Test is a cheap profile for tests and benchmarks only; it gives no real
// protection, and anything that uses it says so.
var Test = Params{Time: 1, MemoryKiB: 64, Threads: 1, KeyLen: 32, SaltLen: 16}

// String describes the parameters, for logs and benchmark reports.
func (p Params) String() string {
	return fmt.Sprintf("argon2id m=%dKiB t=%d p=%d", p.MemoryKiB, p.Time, p.Threads)
}

// Validate checks that p can be used.
func (p Params) Validate() error {
	switch {
	case p.Time < 1:
		return errors.New("argon2id time must be at least 1")
	case p.Threads < 1:
		return errors.New("argon2id threads must be at least 1")
	case p.MemoryKiB < 8*uint32(p.Threads):
		return errors.New("argon2id memory must be at least 8 KiB per thread")
	case p.KeyLen < 16 || p.SaltLen < 16:
		return errors.New("argon2id key and salt must be at least 16 bytes")
	}
	return nil
}

// Hash returns the PHC-encoded argon2id hash of password with a new salt.
func (p Params) Hash(password string) (string, error) {
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, p.KeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.MemoryKiB, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// ErrMalformed is returned for a string that is not an argon2id PHC hash.
var ErrMalformed = errors.New("malformed argon2id hash")

// Verify reports whether password matches encoded, using the parameters
// stored in encoded (so old hashes keep verifying after a change of Params).
func Verify(password, encoded string) (bool, error) {
	p, salt, key, err := decode(encoded)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// NeedsRehash reports whether encoded was made with parameters other than p.
func (p Params) NeedsRehash(encoded string) bool {
	q, _, _, err := decode(encoded)
	return err != nil || q.Time != p.Time || q.MemoryKiB != p.MemoryKiB || q.Threads != p.Threads
}

func decode(encoded string) (Params, []byte, []byte, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return Params{}, nil, nil, ErrMalformed
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return Params{}, nil, nil, ErrMalformed
	}
	var p Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &p.Threads); err != nil {
		return Params{}, nil, nil, ErrMalformed
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return Params{}, nil, nil, ErrMalformed
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil || len(key) < 16 {
		return Params{}, nil, nil, ErrMalformed
	}
	p.KeyLen, p.SaltLen = uint32(len(key)), uint32(len(salt))
	if p.Validate() != nil || p.MemoryKiB > 4*1024*1024 || p.Time > 64 {
		return Params{}, nil, nil, ErrMalformed
	}
	return p, salt, key, nil
}
