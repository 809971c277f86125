// Package screenlock ties the desktop's screen lock to the latchkey
// session at the terminal (issue 14): when systemd-logind locks the login
// session's screen, the latchkey session is locked through the agent's
// gateway; when logind unlocks the screen from outside the screen locker
// (loginctl unlock-session) while the latchkey session is still locked,
// the screen is locked again, because only the person's password (given
// at the screen locker's prompt, whose PAM stack runs `latchkey pam`)
// unlocks a latchkey session.
//
// Decide is the rule, without D-Bus; Watcher (logind.go) is the D-Bus
// shell around it.
package screenlock

import (
	"latchkey"
	"latchkey/agent"
	"latchkey/counter"
)

// Signal is a screen lock signal of the login session.
type Signal string

const (
	// Lock is logind's Session.Lock signal: the screen is being locked.
	Lock Signal = "Lock"
	// Unlock is logind's Session.Unlock signal: the screen is being
	// unlocked (by loginctl unlock-session, an admin, or a locker that
	// asks logind).
	Unlock Signal = "Unlock"
)

// Action is what a signal calls for.
type Action string

const (
	// None: nothing to do.
	None Action = "none"
	// LockSession: lock the latchkey session through the gateway
	// (POST /lock, reason manual, lock_anyway: the screen is locked
	// whatever the server says, so an unreachable server gives an offline
	// lock the agent reports later).
	LockSession Action = "lock"
	// Relock: lock the screen again (logind's Session.Lock method).
	Relock Action = "relock"
	// Terminate: end the login session (logind's Session.Terminate): the
	// latchkey session ended by a rule, so the desktop is logged off.
	Terminate Action = "terminate"
)

// Decision is the action and the words logged for it.
type Decision struct {
	Action Action
	Why    string
}

// Decide is the rule for signal sig, given the gateway's status st read
// just before (nil when the agent could not be read).
//
//	signal  latchkey session      action
//	Lock    unlocked              lock it
//	Lock    locked                none
//	Lock    none at the terminal  none
//	Lock    agent unreadable      lock it (the call says why it fails)
//	Unlock  locked                relock the screen
//	Unlock  unlocked              none (the password was given)
//	Unlock  none at the terminal  none
//	Unlock  agent unreadable      relock the screen (fail closed)
func Decide(sig Signal, st *agent.Status) Decision {
	switch sig {
	case Lock:
		switch {
		case st == nil:
			return Decision{LockSession, "the screen was locked and the agent cannot be read: trying to lock the latchkey session all the same"}
		case st.Session == nil:
			return Decision{None, "the screen was locked; nobody is logged on to latchkey at this terminal: nothing to lock"}
		case st.Session.LockedAt != nil:
			return Decision{None, "the screen was locked; " + st.Session.Identity + "'s latchkey session is already locked"}
		}
		return Decision{LockSession, "the screen was locked: locking " + st.Session.Identity + "'s latchkey session"}
	case Unlock:
		switch {
		case st == nil:
			return Decision{Relock, "the screen was unlocked but the agent cannot be read, so the latchkey session may still be locked: locking the screen again"}
		case st.Session == nil:
			return Decision{None, "the screen was unlocked; nobody is logged on to latchkey at this terminal: nothing to do"}
		case st.Session.LockedAt != nil:
			who := st.Session.Identity
			return Decision{Relock, "the screen was unlocked from outside the screen locker while " + who +
				"'s latchkey session is locked, and only " + who + "'s password unlocks it: locking the screen again"}
		}
		return Decision{None, "the screen was unlocked; " + st.Session.Identity + "'s latchkey session is unlocked (the password was given): nothing to do"}
	}
	return Decision{None, "not a screen lock signal: " + string(sig)}
}

// LockedOutcome says what the gateway's answer st to a lock means.
func LockedOutcome(st *agent.Status) string {
	switch {
	case st == nil || st.Session == nil:
		return "no session at the terminal any more: nothing was locked"
	case st.Session.LockedAt == nil:
		return "the latchkey session is still unlocked"
	case st.Session.LockedOffline:
		return "locked at this terminal only: the server cannot be reached; the agent tells it when it is back"
	}
	return "locked; the server was told"
}

// Follow is the rule for the latchkey session's end, looked at every few
// seconds: seen is the ID of the session in progress at the last look (""
// for none). A session that ended since for anything but the person's own
// log-off (its limit, a forced timeout, a reconnect verdict, a log-on or
// an unlock at another terminal that ended it) ends the login session
// too, so the PC is logged off at the end as the counter is; a log-off is
// the person's own, already under way. It returns the decision and the
// session to remember for the next look.
func Follow(seen string, st *agent.Status) (Decision, string) {
	if st == nil {
		return Decision{None, "the agent cannot be read"}, seen
	}
	now := ""
	if st.Session != nil {
		now = st.Session.ID
	}
	e := st.LastEnded
	if seen == "" || now == seen || e == nil || e.ID != seen || e.Reason == latchkey.EndLogout {
		return Decision{None, ""}, now
	}
	return Decision{Terminate, e.Identity + "'s latchkey session ended (" + counter.EndedWords(e.Reason) +
		"): logging the desktop session off"}, now
}
