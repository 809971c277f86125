package latchkey

// Access rules: who may do what, as pure predicates over the caller and
// the target. The store calls them; each has a table test. A predicate
// answers nil when the call is allowed, or a forbidden error whose
// message says why.

import "slices"

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

// staffOnly is the refusal of a call that needs an admin or delegate.
func staffOnly(c Caller) error {
	if !c.IsStaff() {
		return Errorf(EFORBIDDEN, "this needs an admin or delegate")
	}
	return nil
}

// peopleOnly is the refusal of a call that needs a user token (any
// person), with why as the message.
func peopleOnly(c Caller, why string) error {
	if c.PrincipalID == "" {
		return Errorf(EFORBIDDEN, "%s", why)
	}
	return nil
}

// CanManagePrincipals: listing people and creating, changing and
// disabling them is for staff.
func CanManagePrincipals(c Caller) error { return staffOnly(c) }

// CanCreatePrincipal: staff create people; only an admin creates an admin.
func CanCreatePrincipal(c Caller, role Role) error {
	if err := staffOnly(c); err != nil {
		return err
	}
	if role == RoleAdmin && c.Role != RoleAdmin {
		return Errorf(EFORBIDDEN, "only an admin may create an admin")
	}
	return nil
}

// CanReadPrincipal: staff, or the principal itself.
func CanReadPrincipal(c Caller, id string) error {
	if !c.IsStaff() && c.PrincipalID != id {
		return Errorf(EFORBIDDEN, "you may only read your own principal")
	}
	return nil
}

// CanUpdatePrincipal: staff; only an admin changes an admin or makes one.
func CanUpdatePrincipal(c Caller, current Role, newRole *Role) error {
	if err := staffOnly(c); err != nil {
		return err
	}
	if c.Role != RoleAdmin && (current == RoleAdmin || (newRole != nil && *newRole == RoleAdmin)) {
		return Errorf(EFORBIDDEN, "only an admin may change an admin or make one")
	}
	return nil
}

// CanAddIdentity: staff; only an admin adds an identity (and so a
// password) to an admin.
func CanAddIdentity(c Caller, ownerRole Role) error {
	if err := staffOnly(c); err != nil {
		return err
	}
	if ownerRole == RoleAdmin && c.Role != RoleAdmin {
		return Errorf(EFORBIDDEN, "only an admin may add an identity to an admin")
	}
	return nil
}

// CanSetOfflineLogon: staff allow or revoke a person's offline logon.
func CanSetOfflineLogon(c Caller) error { return staffOnly(c) }

// CanManageSites: staff create and change sites and register terminals.
func CanManageSites(c Caller) error { return staffOnly(c) }

// CanReadSite: any person; a terminal only its own site (ownSite is the
// site of the calling terminal, "" when unknown).
func CanReadSite(c Caller, siteID, ownSite string) error {
	if c.PrincipalID != "" || (c.Role == RoleTerminal && ownSite != "" && ownSite == siteID) {
		return nil
	}
	return Errorf(EFORBIDDEN, "a terminal may read only its own site")
}

// CanListSites: people only (a terminal reads its own site by ID).
func CanListSites(c Caller) error {
	return peopleOnly(c, "a terminal may read only its own site")
}

// CanReadTerminal: any person; a terminal only itself.
func CanReadTerminal(c Caller, id string) error {
	if c.PrincipalID != "" || (c.Role == RoleTerminal && c.TerminalID == id) {
		return nil
	}
	return Errorf(EFORBIDDEN, "a terminal may read only itself")
}

// CanListTerminals: people only.
func CanListTerminals(c Caller) error { return peopleOnly(c, "a terminal may read only itself") }

// CanActAsAgent: any terminal's token (its agent), with why as the
// message of a refusal.
func CanActAsAgent(c Caller, why string) error {
	if c.Role != RoleTerminal || c.TerminalID == "" {
		return Errorf(EFORBIDDEN, "%s", why)
	}
	return nil
}

// CanActAsTerminal: the token of that very terminal, and nobody else:
// a terminal token only ever acts for its own terminal.
func CanActAsTerminal(c Caller, terminalID string) error {
	if c.Role != RoleTerminal || c.TerminalID != terminalID {
		return Errorf(EFORBIDDEN, "only terminal %s's own token may do this", terminalID)
	}
	return nil
}

// CanReadSession: staff, the session's principal, or its terminal.
func CanReadSession(c Caller, s Session) error {
	if c.IsStaff() || (c.PrincipalID != "" && c.PrincipalID == s.PrincipalID) ||
		(c.Role == RoleTerminal && c.TerminalID == s.TerminalID) {
		return nil
	}
	return Errorf(EFORBIDDEN, "session %s is not yours", s.ID)
}

// CanListPrincipalSessions: staff, or the principal itself.
func CanListPrincipalSessions(c Caller, principalID string) error {
	if !c.IsStaff() && c.PrincipalID != principalID {
		return Errorf(EFORBIDDEN, "you may only list your own sessions")
	}
	return nil
}

// CanListTerminalEvents: staff, or the terminal itself.
func CanListTerminalEvents(c Caller, terminalID string) error {
	if !c.IsStaff() && (c.Role != RoleTerminal || c.TerminalID != terminalID) {
		return Errorf(EFORBIDDEN, "staff or the terminal itself only")
	}
	return nil
}

// CanUseLocks: edit locks are taken, kept, released and read by staff,
// with a user token (a lock is held by a token).
func CanUseLocks(c Caller) error {
	if err := staffOnly(c); err != nil {
		return err
	}
	if c.TokenID == "" {
		return Errorf(EFORBIDDEN, "locks are held by user tokens")
	}
	return nil
}

// CanUseConfig: staff read and write configuration; a domain the
// server's policy makes admin-only is written by admins only.
func CanUseConfig(c Caller, domain string, write, adminOnly bool) error {
	if err := staffOnly(c); err != nil {
		return err
	}
	if write && adminOnly && c.Role != RoleAdmin {
		return Errorf(EFORBIDDEN, "domain %s is written by admins only", domain).With("domain", domain)
	}
	return nil
}

// CanReadAudit: staff read the audit trail.
func CanReadAudit(c Caller) error { return staffOnly(c) }

// CanVerifyAudit: admins verify, seal and export the audit trail.
func CanVerifyAudit(c Caller) error {
	if c.Role != RoleAdmin {
		return Errorf(EFORBIDDEN, "this needs an admin")
	}
	return nil
}

// CanManageJobs: admins see, retry and cancel background jobs (they run
// with the server's authority: a delegate may not re-run them).
func CanManageJobs(c Caller) error {
	if c.Role != RoleAdmin {
		return Errorf(EFORBIDDEN, "background jobs are managed by an admin")
	}
	return nil
}

// CanManageGroupSets: staff create group sets and see a terminal's
// outstanding instructions.
func CanManageGroupSets(c Caller) error { return staffOnly(c) }

// CanReadGroupSets: people read group sets.
func CanReadGroupSets(c Caller) error { return peopleOnly(c, "group sets are read with a user token") }

// CanRequestCheckout: a person checks out for themselves; staff for
// anyone (forPrincipal is whom the check-out is for).
func CanRequestCheckout(c Caller, forPrincipal string) error {
	if err := peopleOnly(c, "check-outs are requested with a user token"); err != nil {
		return err
	}
	if forPrincipal != c.PrincipalID && !c.IsStaff() {
		return Errorf(EFORBIDDEN, "only admins and delegates check out for someone else")
	}
	return nil
}

// CanReadCheckout: staff, its person, or its terminal. Anyone else is
// told it does not exist.
func CanReadCheckout(c Caller, co Checkout) error {
	if c.IsStaff() || (c.PrincipalID != "" && c.PrincipalID == co.Principal) ||
		(c.Role == RoleTerminal && c.TerminalID == co.Terminal) {
		return nil
	}
	return Errorf(ENOTFOUND, "check-out %s not found", co.ID)
}

// CanListCheckouts: a person lists their own check-outs; staff list
// anyone's.
func CanListCheckouts(c Caller, principal string) error {
	if err := peopleOnly(c, "check-outs are listed with a user token"); err != nil {
		return err
	}
	if c.IsStaff() || principal == c.PrincipalID {
		return nil
	}
	return Errorf(EFORBIDDEN, "only admins and delegates list someone else's check-outs")
}

// CanActOnCheckout: staff or its person check a check-out in or extend
// it. Anyone else is told it does not exist.
func CanActOnCheckout(c Caller, co Checkout) error {
	if c.IsStaff() || (c.PrincipalID != "" && c.PrincipalID == co.Principal) {
		return nil
	}
	return Errorf(ENOTFOUND, "check-out %s not found", co.ID)
}

// CanBook: a person books for themselves; staff for anyone.
func CanBook(c Caller, forPrincipal string) error {
	if err := peopleOnly(c, "reservations are made with a user token"); err != nil {
		return err
	}
	if forPrincipal != c.PrincipalID && !c.IsStaff() {
		return Errorf(EFORBIDDEN, "only admins and delegates book for someone else")
	}
	return nil
}

// CanListReservations: any person; a terminal only its own.
func CanListReservations(c Caller, terminalID string) error {
	if c.PrincipalID == "" && c.TerminalID != terminalID {
		return Errorf(EFORBIDDEN, "a terminal reads only its own reservations")
	}
	return nil
}

// CanCancelReservation: staff or its person. Anyone else is told it does
// not exist.
func CanCancelReservation(c Caller, r Reservation) error {
	if c.IsStaff() || (c.PrincipalID != "" && c.PrincipalID == r.Principal) {
		return nil
	}
	return Errorf(ENOTFOUND, "reservation %s not found", r.ID)
}

// CanAnswerInstruction: only the agent of the instruction's terminal
// replies to it; any other terminal is told it does not exist.
func CanAnswerInstruction(c Caller, in Instruction) error {
	if err := CanActAsAgent(c, "replies come from a terminal's agent"); err != nil {
		return err
	}
	if in.Terminal != c.TerminalID {
		return Errorf(ENOTFOUND, "instruction %s not found", in.ID)
	}
	return nil
}

// CanWatchTopic: staff follow every topic of the event stream; a person
// the sessions and checkouts topics; a terminal the sessions topic (each
// sees there only what concerns it).
func CanWatchTopic(c Caller, topic string) error {
	switch {
	case c.IsStaff():
		return nil
	case topic == TopicSessions && (c.PrincipalID != "" || c.Role == RoleTerminal):
		return nil
	case (topic == TopicCheckouts || topic == TopicRequests) && c.Role == RoleUser:
		return nil
	}
	return Errorf(EFORBIDDEN, "topic %s is for admins and delegates", topic).With("topic", topic)
}

// CanSeeRequest: an access request is seen by its requester, staff and
// its set's approvers; to anyone else it does not exist.
func CanSeeRequest(c Caller, r Request, set GroupSet) error {
	if err := peopleOnly(c, "requests are read with a user token"); err != nil {
		return err
	}
	if c.IsStaff() || c.PrincipalID == r.Requester || slices.Contains(set.Approvers, c.PrincipalID) {
		return nil
	}
	return Errorf(ENOTFOUND, "request %s not found", r.ID)
}

// CanCancelRequest: its requester or staff.
func CanCancelRequest(c Caller, r Request) error {
	if err := peopleOnly(c, "requests are cancelled with a user token"); err != nil {
		return err
	}
	if c.IsStaff() || c.PrincipalID == r.Requester {
		return nil
	}
	return Errorf(EFORBIDDEN, "only the requester, an admin or a delegate may cancel request %s", r.ID)
}

// CanSeeWorkItem: admins see every work item; others only the items they
// are assigned (an item with no assignees is assigned to every admin and
// delegate but the requester).
func CanSeeWorkItem(c Caller, w WorkItem) error {
	if err := peopleOnly(c, "work items are read with a user token"); err != nil {
		return err
	}
	if c.Role == RoleAdmin || w.AssignedTo(c) {
		return nil
	}
	return Errorf(ENOTFOUND, "work item %s not found", w.ID)
}
