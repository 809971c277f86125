package latchkey

import "time"

// AttemptPolicy is the failed-attempt lockout: MaxFailures wrong passwords
// in a row lock the identity for LockoutDuration.
//
// Staff accounts (admins, delegates) back off instead, when StaffBackoffMax
// is set: the MaxFailures-th wrong password in a row locks for
// StaffBackoffBase, and each further one (after that lock lapsed) for
// twice as long as the one before, up to StaffBackoffMax. Five bad guesses
// cannot lock the admin out for 15 minutes; a guesser who keeps going
// earns locks no longer than StaffBackoffMax, and each guess costs them
// the wait.
type AttemptPolicy struct {
	MaxFailures      int
	LockoutDuration  time.Duration
	StaffBackoffBase time.Duration
	StaffBackoffMax  time.Duration
}

// DefaultAttemptPolicy is the API's default: 5 in a row, 15 minutes; staff
// back off from 1 s to at most a minute.
var DefaultAttemptPolicy = AttemptPolicy{MaxFailures: 5, LockoutDuration: 15 * time.Minute,
	StaffBackoffBase: time.Second, StaffBackoffMax: time.Minute}

// lockout is how long the failures-th wrong password in a row locks the
// identity for: LockoutDuration, or a staff account's back-off.
func (p AttemptPolicy) lockout(failures int, staff bool) time.Duration {
	if !staff || p.StaffBackoffMax <= 0 {
		return p.LockoutDuration
	}
	d := max(p.StaffBackoffBase, time.Millisecond)
	for i := p.MaxFailures; i < failures && d < p.StaffBackoffMax; i++ {
		d *= 2
	}
	return min(d, p.StaffBackoffMax)
}

// backsOff reports whether an identity's failures survive a lapsed lock
// (a staff account under back-off).
func (p AttemptPolicy) backsOff(staff bool) bool { return staff && p.StaffBackoffMax > 0 }

// AttemptState is an identity's failed-attempt counter.
type AttemptState struct {
	Failures    int
	LockedUntil *time.Time
}

// CredentialCheck is what the caller knows about one credential check.
type CredentialCheck struct {
	Known      bool // the identity exists
	PasswordOK bool // the password matched its verifier (false if not tried)
	Disabled   bool // the identity's principal is disabled
	Staff      bool // the identity's principal is an admin or delegate
}

// CredentialOutcome is the verdict on a credential check: Err is nil when
// the credentials are accepted. Reason is the event-26 reason of a refusal.
// State is the identity's new counter; Changed says whether to store it.
type CredentialOutcome struct {
	Err     error
	Reason  string
	State   AttemptState
	Changed bool
}

// CheckCredentials applies rule 1 of login and unlock: a locked identity is
// refused before its password counts; a wrong password counts a failure and
// the MaxFailures-th in a row locks the identity; a disabled principal is
// refused after a right password; success clears the counter.
func CheckCredentials(st AttemptState, c CredentialCheck, now time.Time, p AttemptPolicy) CredentialOutcome {
	if !c.Known {
		return CredentialOutcome{Err: Errorf(EINVALIDCREDENTIALS, "wrong identity or password"), Reason: ReasonInvalidCredentials, State: st}
	}
	if st.LockedUntil != nil && now.Before(*st.LockedUntil) {
		return CredentialOutcome{Err: lockedErr(*st.LockedUntil), Reason: ReasonAccountLocked, State: st}
	}
	if st.LockedUntil != nil { // a lapsed lockout starts a fresh count, but for staff backing off
		kept := 0
		if p.backsOff(c.Staff) {
			kept = st.Failures
		}
		st = AttemptState{Failures: kept}
		if c.PasswordOK {
			return accepted(st, c, true)
		}
	}
	if !c.PasswordOK {
		st.Failures++
		if p.MaxFailures > 0 && st.Failures >= p.MaxFailures {
			until := now.Add(p.lockout(st.Failures, c.Staff)).UTC()
			kept := AttemptState{LockedUntil: &until}
			if p.backsOff(c.Staff) {
				kept.Failures = st.Failures
			}
			return CredentialOutcome{Err: lockedErr(until), Reason: ReasonAttemptsExceeded,
				State: kept, Changed: true}
		}
		return CredentialOutcome{Err: Errorf(EINVALIDCREDENTIALS, "wrong identity or password"),
			Reason: ReasonInvalidCredentials, State: st, Changed: true}
	}
	return accepted(st, c, st.Failures != 0 && !c.Disabled)
}

func accepted(st AttemptState, c CredentialCheck, changed bool) CredentialOutcome {
	if c.Disabled {
		return CredentialOutcome{Err: Errorf(EACCOUNTDISABLED, "the account is disabled"),
			Reason: ReasonAccountDisabled, State: st, Changed: changed}
	}
	return CredentialOutcome{State: AttemptState{}, Changed: changed}
}

func lockedErr(until time.Time) *Error {
	return Errorf(EACCOUNTLOCKED, "too many failed attempts; locked until %s", until.UTC().Format(time.RFC3339)).
		With("until", until.UTC())
}
