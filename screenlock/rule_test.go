package screenlock

import (
	"strings"
	"testing"
	"time"

	"latchkey/agent"
)

// The rule, signal by signal and state by state: a screen lock locks the
// latchkey session; a screen unlock from outside the screen locker is
// undone while the latchkey session is locked (only the person's password
// unlocks it); nothing is done with no session at the terminal.
func TestScreenLockDecide(t *testing.T) {
	at := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	noSession := &agent.Status{Mode: "online"}
	unlocked := &agent.Status{Mode: "online", Session: &agent.SessionStatus{ID: "s1", Identity: "alice"}}
	locked := &agent.Status{Mode: "online", Session: &agent.SessionStatus{ID: "s1", Identity: "alice", LockedAt: &at}}
	lockedOffline := &agent.Status{Mode: "standalone", Session: &agent.SessionStatus{ID: "s1", Identity: "alice", LockedAt: &at, LockedOffline: true}}
	for _, tc := range []struct {
		name   string
		sig    Signal
		st     *agent.Status
		want   Action
		saying string // part of the words logged
	}{
		{"lock, unlocked session", Lock, unlocked, LockSession, "locking alice's latchkey session"},
		{"lock, already locked", Lock, locked, None, "already locked"},
		{"lock, already locked offline", Lock, lockedOffline, None, "already locked"},
		{"lock, no session", Lock, noSession, None, "nobody is logged on"},
		{"lock, agent unreadable", Lock, nil, LockSession, "cannot be read"},
		{"unlock, locked session", Unlock, locked, Relock, "only alice's password unlocks it"},
		{"unlock, locked offline", Unlock, lockedOffline, Relock, "locking the screen again"},
		{"unlock, unlocked session", Unlock, unlocked, None, "alice's latchkey session is unlocked"},
		{"unlock, no session", Unlock, noSession, None, "nobody is logged on"},
		{"unlock, agent unreadable", Unlock, nil, Relock, "cannot be read"},
		{"unknown signal", Signal("Rename"), unlocked, None, "not a screen lock signal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(tc.sig, tc.st)
			if d.Action != tc.want {
				t.Errorf("Decide(%s) = %s (%q), want %s", tc.sig, d.Action, d.Why, tc.want)
			}
			if !strings.Contains(d.Why, tc.saying) {
				t.Errorf("Decide(%s) says %q, want it to say %q", tc.sig, d.Why, tc.saying)
			}
		})
	}
}

// What is logged after the latchkey session was locked.
func TestScreenLockLockedOutcome(t *testing.T) {
	at := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	for _, tc := range []struct {
		st     *agent.Status
		saying string
	}{
		{&agent.Status{Session: &agent.SessionStatus{Identity: "alice", LockedAt: &at}}, "the server was told"},
		{&agent.Status{Session: &agent.SessionStatus{Identity: "alice", LockedAt: &at, LockedOffline: true}}, "the agent tells it when it is back"},
		{&agent.Status{Session: &agent.SessionStatus{Identity: "alice"}}, "still unlocked"},
		{&agent.Status{}, "no session"},
		{nil, "no session"},
	} {
		if got := LockedOutcome(tc.st); !strings.Contains(got, tc.saying) {
			t.Errorf("LockedOutcome(%+v) = %q, want it to say %q", tc.st, got, tc.saying)
		}
	}
}

func TestFollow(t *testing.T) {
	on := &agent.Status{Session: &agent.SessionStatus{ID: "ses_1", Identity: "alice"}}
	ended := func(reason string) *agent.Status {
		return &agent.Status{LastEnded: &agent.EndedSession{ID: "ses_1", Identity: "alice", Reason: reason}}
	}
	for _, tc := range []struct {
		name     string
		seen     string
		st       *agent.Status
		want     Action
		nextSeen string
	}{
		{"a session in progress is remembered", "", on, None, "ses_1"},
		{"still in progress", "ses_1", on, None, "ses_1"},
		{"ended for its quota: the desktop is logged off", "ses_1", ended("quota"), Terminate, ""},
		{"ended by a forced timeout", "ses_1", ended("forced_timeout"), Terminate, ""},
		{"ended from another terminal", "ses_1", ended("failed"), Terminate, ""},
		{"the person logged off: already under way", "ses_1", ended("logout"), None, ""},
		{"never seen: nothing to end", "", ended("quota"), None, ""},
		{"another session ended", "ses_9", ended("quota"), None, ""},
		{"the agent cannot be read: remember what was seen", "ses_1", nil, None, "ses_1"},
	} {
		d, next := Follow(tc.seen, tc.st)
		if d.Action != tc.want || next != tc.nextSeen {
			t.Errorf("%s: %s (%q), next %q; want %s, next %q", tc.name, d.Action, d.Why, next, tc.want, tc.nextSeen)
		}
	}
	if d, _ := Follow("ses_1", ended("quota")); d.Why != "alice's latchkey session ended (Your session is being ended: your time for today is used up.): logging the desktop session off" {
		t.Errorf("the words: %q", d.Why)
	}
}
