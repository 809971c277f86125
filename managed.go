package latchkey

import "time"

// The admin dialogs' edit locks (exclusive-edit-locks.txt): while one
// holds a dialog's lock, the operations that dialog manages are refused
// to everyone else, whatever the client (API.md: "users" and "trusts"
// config domains; issue 13: principals and identities, sites' signup
// settings). The holder makes them under its grant (lock_token).
const (
	LockAdminUsers  = "admin/users"  // principals, identities, the users config domain
	LockAdminTrusts = "admin/trusts" // the trusts config domain
	LockAdminSignup = "admin/signup" // sites' standalone, quota and reservation settings
)

// CheckManaged is the rule for an operation a dialog's lock manages, given
// the lock settled at now and the grant the caller acts under (c.LockToken,
// 0 for none): with nobody holding the lock it is allowed, as if nothing
// managed it; the holder's token with its current grant is allowed;
// anyone else is refused with lock_held, naming the holder. Operations the
// seed keeps always available (a person changing their own password,
// Change Pwd for one account) are not managed and never call this.
func CheckManaged(l Lock, c Caller, now time.Time) error {
	h := l.Holder
	if h == nil || !now.Before(h.ExpiresAt) {
		return nil
	}
	if c.LockToken != 0 && l.held(c.TokenID, c.LockToken, now) {
		return nil
	}
	e := Errorf(ELOCKHELD, "%s is being edited by %s under lock %s: ask for the lock (REQ LOCK), force it, or wait", managedWhat(l.Name), h.Name, l.Name).
		With("lock", l.Name).With("holder", *h)
	if c.LockToken != 0 {
		e = e.With("token", c.LockToken)
	}
	return e
}

func managedWhat(lock string) string {
	switch lock {
	case LockAdminUsers:
		return "users"
	case LockAdminSignup:
		return "the sites' signup policy"
	case LockAdminTrusts:
		return "trusts"
	}
	return "this"
}

// SignupManaged says whether a site change touches what the Signup Policy
// dialog manages: standalone operation, quotas and reservations.
func (u SiteSettings) SignupManaged() bool {
	return u.AllowStandalone != nil || u.StandaloneAuth != nil || u.StandaloneQuotas != nil ||
		u.DailyQuotaMinutes != nil || u.MaxReservationsPerUser != nil || u.MaxBookingDaysAhead != nil
}
