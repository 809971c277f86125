package counter

import (
	"time"

	"latchkey"
	"latchkey/agent"
)

// The PC's own logon through PAM (`latchkey pam`, run by pam_exec): what
// each PAM call does with the terminal's session, as a pure rule. The
// person's PAM user name is their latchkey login ID.
//
//	auth           nobody on here            → log on (every rule: concurrent sessions, quotas, reservations, standalone)
//	               the person, locked        → unlock (the screen locker's prompt)
//	               the person, unlocked      → lock, then unlock: a screen locker that did not lock the session still checks the password through the server
//	               someone else              → refused: they must log off first
//	account        the person, unlocked      → allowed
//	open_session   the person, unlocked      → allowed
//	account, open_session otherwise          → refused: not logged on through latchkey here
//	close_session  the person                → log off
//	               nobody, or someone else   → nothing to end
//	password, anything else                  → nothing (not latchkey's)

// PAMStep is what one PAM call does.
type PAMStep int

const (
	PAMNothing       PAMStep = iota // succeed without a call
	PAMLogOn                        // log on with the password
	PAMUnlock                       // unlock with the password
	PAMRelockUnlock                 // lock (lock anyway), then unlock with the password
	PAMAllow                        // the session is there and unlocked: succeed
	PAMLogOff                       // end the session
	PAMRefuseOther                  // someone else is on this terminal
	PAMRefuseMissing                // the person has no unlocked session here
)

// PAMRule says what the PAM call of type pamType (PAM_TYPE) for user
// (PAM_USER) does, given the agent's status.
func PAMRule(pamType, user string, st agent.Status) PAMStep {
	s := st.Session
	mine := s != nil && s.Identity == user
	switch pamType {
	case "auth":
		switch {
		case s == nil:
			return PAMLogOn
		case !mine:
			return PAMRefuseOther
		case s.LockedAt != nil:
			return PAMUnlock
		default:
			return PAMRelockUnlock
		}
	case "account", "open_session":
		if mine && s.LockedAt == nil {
			return PAMAllow
		}
		if s != nil && !mine {
			return PAMRefuseOther
		}
		return PAMRefuseMissing
	case "close_session":
		if mine {
			return PAMLogOff
		}
	}
	return PAMNothing
}

// PAMWords is the agent's refusal of a PAM call's log-on (a) or unlock
// as the person reads it on the logon screen: the counter's message in
// one line. The counter's button to end the other sessions from here is
// not offered by a logon screen, so the concurrent-session words say what
// is left to do.
func PAMWords(a Action, r Refusal, now time.Time, loc *time.Location) string {
	if r.Code == latchkey.ECONCURRENTSESSION {
		where := sessionList(r.Details.Sessions, nil, loc)
		if a == ActUnlock {
			return "You are also logged on at " + where + ", and it is not locked. Please return and lock the previous " +
				"session or remotely terminate it, then unlock here."
		}
		return "You are logged on at " + where + ", not locked. Please return and lock the previous session or " +
			"remotely terminate it, then log on here again."
	}
	m := Words(a, r, nil, now, loc)
	return m.Title + ": " + m.Text
}

// PAMRefusedWords says why a PAM call was refused without asking the
// agent (PAMRefuseOther, PAMRefuseMissing).
func PAMRefusedWords(step PAMStep, st agent.Status) string {
	s := st.Session
	switch {
	case step == PAMRefuseOther && s != nil:
		return s.Identity + " is logged on at this terminal: they must log off first."
	case s != nil && s.LockedAt != nil:
		return "This terminal is locked: unlock it first."
	}
	return "You are not logged on at this terminal through latchkey."
}
