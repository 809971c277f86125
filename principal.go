package latchkey

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"
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

// PrincipalUpdate is a PATCH of a principal; nil fields stay as they are.
type PrincipalUpdate struct {
	Disabled *bool `json:"disabled"`
	Role     *Role `json:"role"`
	Global   *bool `json:"global"`
}

// PrincipalService manages people and their identities. Writes need an
// admin or delegate caller (forbidden otherwise).
type PrincipalService interface {
	// CreatePrincipal errors: bad_request, forbidden, conflict (name taken).
	CreatePrincipal(ctx context.Context, c Caller, p Principal) (*Principal, error)
	// GetPrincipal: staff, or the principal itself. Errors: not_found, forbidden.
	GetPrincipal(ctx context.Context, c Caller, id string) (*Principal, error)
	ListPrincipals(ctx context.Context, c Caller, page Page) ([]Principal, string, error)
	// PrincipalNames names, in one read, the people of ids that c may
	// read (CanReadPrincipal); the others are not in the map.
	PrincipalNames(ctx context.Context, c Caller, ids []string) (map[string]string, error)
	// SearchPrincipals finds people whose name starts with q (any case)
	// or who have a login ID starting with q, by name, at most
	// MaxSearchResults (SearchPrefix; staff only).
	SearchPrincipals(ctx context.Context, c Caller, q string) ([]Principal, error)
	// UpdatePrincipal errors: bad_request, forbidden, not_found.
	UpdatePrincipal(ctx context.Context, c Caller, id string, u PrincipalUpdate) (*Principal, error)
	// AddIdentity errors: bad_request, forbidden, not_found, conflict (login taken).
	AddIdentity(ctx context.Context, c Caller, principalID, login, password string) (*Identity, error)
	// ChangePassword: anyone for their own identity (old password
	// required), staff for people below them (CanSetPassword); the owner's
	// other user tokens are revoked. Errors: bad_request,
	// invalid_credentials, account_locked, forbidden, not_found.
	ChangePassword(ctx context.Context, c Caller, login, oldPassword, newPassword string) error
	// RevokeTokens makes every user token of a principal stop working
	// (CanRevokeTokens). Errors: forbidden, not_found.
	RevokeTokens(ctx context.Context, c Caller, principalID string) error
}

// MaxSearchResults bounds a search for people.
const MaxSearchResults = 100

// SearchBounds are the bounds of a prefix search for people: a name
// matches when NameLo <= lower(name) < NameHi, a login ID when LoginLo <=
// login < LoginHi, in byte order.
type SearchBounds struct{ NameLo, NameHi, LoginLo, LoginHi string }

// SearchPrefix turns what an admin typed to find people into the bounds
// of a prefix search: names in any case of the letters A-Z (the stores
// fold only those, the same on both backends; other letters match as
// typed), login IDs as typed (they are compared exactly), the text
// trimmed. Each upper bound is the
// prefix followed by the highest code point, which sorts after every
// string that starts with the prefix. The text must be a valid name
// (bad_request on q).
func SearchPrefix(q string) (SearchBounds, error) {
	q = strings.TrimSpace(q)
	if err := ValidName("q", q); err != nil {
		return SearchBounds{}, err
	}
	lo, top := FoldASCII(q), string(utf8.MaxRune)
	return SearchBounds{NameLo: lo, NameHi: lo + top, LoginLo: q, LoginHi: q + top}, nil
}

// FoldASCII lowercases the letters A-Z and leaves every other character
// as it is: the case folding of a search for people, which both stores
// can index (SQLite's lower() folds only these).
func FoldASCII(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}
