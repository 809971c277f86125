package counter

import (
	"testing"
	"time"

	"latchkey"
	"latchkey/agent"
)

func TestPAMRule(t *testing.T) {
	at := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	none := agent.Status{}
	aliceOn := agent.Status{Session: &agent.SessionStatus{Identity: "alice"}}
	aliceLocked := agent.Status{Session: &agent.SessionStatus{Identity: "alice", LockedAt: &at}}
	bobOn := agent.Status{Session: &agent.SessionStatus{Identity: "bob"}}
	bobLocked := agent.Status{Session: &agent.SessionStatus{Identity: "bob", LockedAt: &at}}
	for _, tc := range []struct {
		typ  string
		st   agent.Status
		want PAMStep
	}{
		{"auth", none, PAMLogOn},
		{"auth", aliceLocked, PAMUnlock},
		{"auth", aliceOn, PAMRelockUnlock},
		{"auth", bobOn, PAMRefuseOther},
		{"auth", bobLocked, PAMRefuseOther},
		{"account", aliceOn, PAMAllow},
		{"account", aliceLocked, PAMRefuseMissing},
		{"account", none, PAMRefuseMissing},
		{"account", bobOn, PAMRefuseOther},
		{"open_session", aliceOn, PAMAllow},
		{"open_session", none, PAMRefuseMissing},
		{"open_session", bobLocked, PAMRefuseOther},
		{"close_session", aliceOn, PAMLogOff},
		{"close_session", aliceLocked, PAMLogOff},
		{"close_session", none, PAMNothing},
		{"close_session", bobOn, PAMNothing},
		{"password", aliceOn, PAMNothing},
		{"", none, PAMNothing},
	} {
		if got := PAMRule(tc.typ, "alice", tc.st); got != tc.want {
			t.Errorf("%s with %+v: %v, want %v", tc.typ, tc.st.Session, got, tc.want)
		}
	}
}

func TestPAMWords(t *testing.T) {
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	other := []latchkey.SessionRef{{TerminalID: "term_2", TerminalName: "PC 2", StartedAt: now.Add(-30 * time.Minute)}}
	reset := now.Add(3 * time.Hour)
	for _, tc := range []struct {
		name string
		a    Action
		r    Refusal
		want string
	}{
		{"log on elsewhere unlocked: no end-them button, so the words say what is left", ActLogOn,
			Refusal{Code: latchkey.ECONCURRENTSESSION, Details: RefusalDetails{Sessions: other}},
			"You are logged on at PC 2 (since 09:30), not locked. Please return and lock the previous session or remotely terminate it, then log on here again."},
		{"unlock with another unlocked", ActUnlock,
			Refusal{Code: latchkey.ECONCURRENTSESSION, Details: RefusalDetails{Sessions: other}},
			"You are also logged on at PC 2 (since 09:30), and it is not locked. Please return and lock the previous session or remotely terminate it, then unlock here."},
		{"the counter's words otherwise", ActLogOn,
			Refusal{Code: latchkey.EQUOTAEXCEEDED, Details: RefusalDetails{ResetAt: &reset}},
			"Daily time used up: Your time at this site for today is used up. It starts again at 13:00 (in 3 hours)."},
		{"unlock offline", ActUnlock, Refusal{Code: latchkey.EUNAVAILABLE, Details: RefusalDetails{Offline: true}},
			"The counter cannot be unlocked: The data centre cannot be reached, so the counter cannot be unlocked now. It stays locked: try again when the network is back."},
	} {
		if got := PAMWords(tc.a, tc.r, now, time.UTC); got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
	at := now
	for _, tc := range []struct {
		step PAMStep
		st   agent.Status
		want string
	}{
		{PAMRefuseOther, agent.Status{Session: &agent.SessionStatus{Identity: "bob"}}, "bob is logged on at this terminal: they must log off first."},
		{PAMRefuseMissing, agent.Status{Session: &agent.SessionStatus{Identity: "alice", LockedAt: &at}}, "This terminal is locked: unlock it first."},
		{PAMRefuseMissing, agent.Status{}, "You are not logged on at this terminal through latchkey."},
	} {
		if got := PAMRefusedWords(tc.step, tc.st); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.step, got, tc.want)
		}
	}
}
