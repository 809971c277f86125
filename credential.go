package latchkey

import "time"

// AttemptPolicy is the failed-attempt lockout: MaxFailures wrong passwords
// in a row lock the identity for LockoutDuration.
type AttemptPolicy struct {
	MaxFailures     int
	LockoutDuration time.Duration
}

// DefaultAttemptPolicy is the API's default: 5 in a row, 15 minutes.
var DefaultAttemptPolicy = AttemptPolicy{MaxFailures: 5, LockoutDuration: 15 * time.Minute}

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
	if st.LockedUntil != nil { // a lapsed lockout starts a fresh count
		st = AttemptState{}
		if c.PasswordOK {
			return accepted(st, c, true)
		}
	}
	if !c.PasswordOK {
		st.Failures++
		if p.MaxFailures > 0 && st.Failures >= p.MaxFailures {
			until := now.Add(p.LockoutDuration).UTC()
			return CredentialOutcome{Err: lockedErr(until), Reason: ReasonAttemptsExceeded,
				State: AttemptState{LockedUntil: &until}, Changed: true}
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
