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

// Site is a branch: a set of terminals sharing one policy.
type Site struct {
	ID                    string `json:"id"`
	Name                  string `json:"name"`
	Timezone              string `json:"timezone"`
	ConcurrencyControls   bool   `json:"concurrency_controls"`
	AllowStandalone       bool   `json:"allow_standalone"`
	StandaloneAuth        string `json:"standalone_auth"`
	StandaloneQuotas      string `json:"standalone_quotas"`
	MaxSessionMinutes     int    `json:"max_session_minutes"`
	DailyQuotaMinutes     int    `json:"daily_quota_minutes"`
	InactivityLockMinutes int    `json:"inactivity_lock_minutes"`
	ForcedTimeoutMinutes  int    `json:"forced_timeout_minutes"`
	WarningSeconds        int    `json:"warning_seconds"`
	// MaxReservationsPerUser caps the reservations a user holds at the
	// site that have not ended; MaxBookingDaysAhead caps how far ahead a
	// user books. 0: no cap. Admins and delegates are exempt.
	MaxReservationsPerUser int       `json:"max_reservations_per_user"`
	MaxBookingDaysAhead    int       `json:"max_booking_days_ahead"`
	CreatedAt              time.Time `json:"created_at"`
}

// DefaultSite returns a site with the API's default settings.
func DefaultSite(name string) Site {
	return Site{
		Name:                name,
		Timezone:            "UTC",
		ConcurrencyControls: true,
		AllowStandalone:     true,
		StandaloneAuth:      "cached",
		StandaloneQuotas:    "snapshot",
		WarningSeconds:      60,

		MaxReservationsPerUser: DefaultMaxReservationsPerUser,
		MaxBookingDaysAhead:    DefaultMaxBookingDaysAhead,
	}
}

// Validate checks a site's settings.
func (s *Site) Validate() error {
	if err := ValidName("name", s.Name); err != nil {
		return err
	}
	if _, err := time.LoadLocation(s.Timezone); err != nil || s.Timezone == "" || s.Timezone == "Local" {
		return BadField("timezone", "timezone %q is not an IANA time zone name", s.Timezone)
	}
	if s.StandaloneAuth != "any" && s.StandaloneAuth != "cached" {
		return BadField("standalone_auth", "standalone_auth must be \"any\" or \"cached\"")
	}
	if s.StandaloneQuotas != "off" && s.StandaloneQuotas != "snapshot" {
		return BadField("standalone_quotas", "standalone_quotas must be \"off\" or \"snapshot\"")
	}
	for _, f := range []struct {
		name string
		v    int
	}{
		{"max_session_minutes", s.MaxSessionMinutes},
		{"daily_quota_minutes", s.DailyQuotaMinutes},
		{"inactivity_lock_minutes", s.InactivityLockMinutes},
		{"forced_timeout_minutes", s.ForcedTimeoutMinutes},
		{"warning_seconds", s.WarningSeconds},
	} {
		if f.v < 0 || f.v > 10*366*24*60 {
			return BadField(f.name, "%s must be between 0 and %d", f.name, 10*366*24*60)
		}
	}
	if s.MaxReservationsPerUser < 0 || s.MaxReservationsPerUser > 1000 {
		return BadField("max_reservations_per_user", "max_reservations_per_user must be between 0 (no cap) and 1000")
	}
	if s.MaxBookingDaysAhead < 0 || s.MaxBookingDaysAhead > 3660 {
		return BadField("max_booking_days_ahead", "max_booking_days_ahead must be between 0 (no cap) and 3660")
	}
	return nil
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
