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

// Role is what a principal (or token) may do.
type Role string

const (
	RoleAdmin    Role = "admin"
	RoleDelegate Role = "delegate"
	RoleUser     Role = "user"
	// RoleTerminal is the role of a terminal token; no principal has it.
	RoleTerminal Role = "terminal"
)

// ValidPrincipalRole reports whether r may be given to a principal.
func ValidPrincipalRole(r Role) bool {
	return r == RoleAdmin || r == RoleDelegate || r == RoleUser
}

// IsStaff reports whether r is an admin's or a delegate's role.
func (r Role) IsStaff() bool { return r == RoleAdmin || r == RoleDelegate }

// Principal is a person (or service account) known to latchkey.
type Principal struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Role      Role      `json:"role"`
	Global    bool      `json:"global"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"created_at"`
}

// Identity is a login ID with its password; it belongs to one principal.
type Identity struct {
	Login       string     `json:"login"`
	PrincipalID string     `json:"principal"`
	CreatedAt   time.Time  `json:"created_at"`
	LockedUntil *time.Time `json:"locked_until,omitempty"`
}

// Terminal is a counter, PC or workstation. Its token is shown once, at
// registration.
type Terminal struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	SiteID    string    `json:"site"`
	CreatedAt time.Time `json:"created_at"`
	Token     string    `json:"token,omitempty"`
	// ServerKey is the server's ed25519 public key (base64), shown with a
	// new token: the terminal's agent pins it (--server-key).
	ServerKey string `json:"server_key,omitempty"`
	// Online (the agent polled within two poll periods) and LockedGroups
	// (groups of instructions delivered and not yet answered) come from
	// the agent's polls; Standalone is reported by the agent (issue 5).
	AgentSeenAt  *time.Time `json:"agent_seen_at,omitempty"`
	Online       bool       `json:"online"`
	Standalone   bool       `json:"standalone"`
	LockedGroups []string   `json:"locked_groups"`
}

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

// NewID returns a new random, roughly time-ordered ID with the given prefix.
func NewID(prefix string) string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return fmt.Sprintf("%s_%011x%s", prefix, time.Now().UnixMilli(), hex.EncodeToString(b[:]))
}

// Caller is who makes a request: a person through a user token, or a
// terminal through its terminal token.
type Caller struct {
	Role        Role
	PrincipalID string // set for user tokens
	TerminalID  string // set for terminal tokens
	// TokenID names the user token itself (its stored hash; never shown):
	// a lock is held by a user token, not by the person.
	TokenID string
	// Name is a user token's principal's name as of authentication.
	Name string
}

// IsStaff reports whether the caller is an admin or a delegate.
func (c Caller) IsStaff() bool { return c.Role.IsStaff() }

// Actor is how the caller appears in audit records.
func (c Caller) Actor() string {
	switch {
	case c.PrincipalID != "":
		return c.PrincipalID
	case c.TerminalID != "":
		return c.TerminalID
	}
	return "system"
}

// Page asks for one page of a list.
type Page struct {
	Limit int
	After string
}

// DefaultPageLimit and MaxPageLimit bound list pages.
const (
	DefaultPageLimit = 100
	MaxPageLimit     = 1000
)

// Normalize fills in the default limit and caps it.
func (p Page) Normalize() Page {
	if p.Limit <= 0 {
		p.Limit = DefaultPageLimit
	}
	if p.Limit > MaxPageLimit {
		p.Limit = MaxPageLimit
	}
	return p
}
