package latchkey

// Access rules: who may do what, as pure predicates over the caller and
// the target. The store calls them; each has a table test. A predicate
// answers nil when the call is allowed, or a forbidden error whose
// message says why.

// roleRank orders the roles of people: a staff member acts on people
// below their own rank. Terminals and unknown roles rank below everyone.
func roleRank(r Role) int {
	switch r {
	case RoleAdmin:
		return 3
	case RoleDelegate:
		return 2
	case RoleUser:
		return 1
	}
	return 0
}

// PasswordChange is what CanSetPassword judges: the owner of the identity
// whose password is set, and whether the caller gave the old password.
type PasswordChange struct {
	OwnerID   string // the principal the identity belongs to
	OwnerRole Role
}

// Own reports whether the caller sets a password of their own identity.
func (p PasswordChange) Own(c Caller) bool {
	return c.PrincipalID != "" && c.PrincipalID == p.OwnerID
}

// CanSetPassword decides who may set an identity's password and whether
// the old password is needed. Anyone changes their own password with the
// old one, staff included. Without the old one, an admin resets anyone
// else's password (another admin's too: only an admin sets an admin's);
// a delegate resets only users' passwords, never a delegate's or an
// admin's. A terminal sets no password.
func CanSetPassword(c Caller, p PasswordChange) (needOld bool, err error) {
	if c.PrincipalID == "" {
		return false, Errorf(EFORBIDDEN, "a password is changed by a person, not a terminal")
	}
	if p.Own(c) {
		return true, nil
	}
	switch {
	case c.Role == RoleAdmin:
		return false, nil
	case c.Role == RoleDelegate && roleRank(p.OwnerRole) < roleRank(RoleDelegate):
		return false, nil
	case c.IsStaff():
		return false, Errorf(EFORBIDDEN, "a %s may reset only the passwords of people below their own role; only an admin sets an admin's or a delegate's password", c.Role)
	}
	return false, ErrNotYours("you may only change your own password")
}

// ErrNotYours is the refusal a caller who is not staff gets for something
// that is not theirs — the same whether the thing exists or not, so that
// nobody learns which logins or records exist by telling 403 from 404.
func ErrNotYours(msg string) *Error { return Errorf(EFORBIDDEN, "%s", msg) }

// CanRevokeTokens decides who may revoke every user token of a principal:
// admins for anyone, delegates for anyone who is not an admin.
func CanRevokeTokens(c Caller, targetRole Role) error {
	switch {
	case c.Role == RoleAdmin:
		return nil
	case c.Role == RoleDelegate && targetRole != RoleAdmin:
		return nil
	case c.Role == RoleDelegate:
		return Errorf(EFORBIDDEN, "only an admin may revoke an admin's tokens")
	}
	return Errorf(EFORBIDDEN, "revoking a principal's tokens needs an admin or delegate")
}

// CanRotateTerminalToken decides who may give a terminal a new token (and
// so end the old one): staff.
func CanRotateTerminalToken(c Caller) error {
	if !c.IsStaff() {
		return Errorf(EFORBIDDEN, "a terminal's token is rotated by an admin or delegate")
	}
	return nil
}
