package latchkey

import (
	"context"
	"time"
)

// UserToken is the answer of a successful POST /v1/auth/login.
type UserToken struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
	Principal struct {
		ID   string `json:"id"`
		Name string `json:"name"`
		Role Role   `json:"role"`
	} `json:"principal"`
}

// AuthService turns credentials into tokens and tokens into callers.
type AuthService interface {
	// Login checks an identity's password (counting failures towards the
	// lockout) and issues a user token. Errors: invalid_credentials,
	// account_locked, account_disabled.
	Login(ctx context.Context, login, password string) (*UserToken, error)
	// Logout revokes a user token. It is idempotent.
	Logout(ctx context.Context, token string) error
	// Authenticate resolves a bearer token. Errors: unauthenticated.
	Authenticate(ctx context.Context, token string) (Caller, error)
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
	// LockToken is the edit-lock grant the call is made under (a request's
	// lock_token; 0: none): see CheckManaged.
	LockToken uint64
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
