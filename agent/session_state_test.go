package agent

import (
	"slices"
	"testing"
	"time"
)

// Every (state, event) pair, each listed once: allowed makes its move,
// refused leaves the state as it was and says no.
func TestSessionTransitions(t *testing.T) {
	type move struct {
		from sessionState
		ev   sessionEvent
		to   sessionState
	}
	allowed := []move{
		{from: stateOffline, ev: evVerdictOK, to: stateAcked},
		{from: stateOffline, ev: evVerdictWarn, to: stateWarned},
		{from: stateOffline, ev: evVerdictLogoff, to: stateEnded},
		{from: stateOffline, ev: evRejected, to: stateRejected},
		{from: stateOffline, ev: evEndUntold, to: stateEnding},
		{from: stateLive, ev: evEndUntold, to: stateEnding},
		{from: stateLive, ev: evEndTold, to: stateEnded},
		{from: stateLive, ev: evEndByServer, to: stateEnded},
		// An offline session's entry carries its end: it is uploaded
		// again even when the server was told.
		{from: stateAcked, ev: evEndUntold, to: stateEnding},
		{from: stateAcked, ev: evEndTold, to: stateEnding},
		{from: stateAcked, ev: evEndByServer, to: stateEnded},
		{from: stateWarned, ev: evEndUntold, to: stateEnding},
		{from: stateWarned, ev: evEndTold, to: stateEnding},
		{from: stateWarned, ev: evEndByServer, to: stateEnded},
		{from: stateEnding, ev: evVerdictOK, to: stateEnded},
		{from: stateEnding, ev: evVerdictWarn, to: stateEnded},
		{from: stateEnding, ev: evVerdictLogoff, to: stateEnded},
		{from: stateEnding, ev: evRejected, to: stateRejected},
	}
	ends := []sessionEvent{evEndUntold, evEndTold, evEndByServer}
	verdicts := []sessionEvent{evVerdictOK, evVerdictWarn, evVerdictLogoff, evRejected}
	refused := []struct {
		from sessionState
		evs  []sessionEvent
	}{
		// The server can neither have been told of nor have ended a
		// session it does not hold yet.
		{from: stateOffline, evs: []sessionEvent{evEndTold, evEndByServer}},
		// No verdict comes for an entry that is not waiting for upload.
		{from: stateLive, evs: verdicts},
		{from: stateAcked, evs: verdicts},
		{from: stateWarned, evs: verdicts},
		// An ended session does not end again; only an entry waiting
		// for upload gets a verdict.
		{from: stateEnding, evs: ends},
		{from: stateEnded, evs: slices.Concat(verdicts, ends)},
		{from: stateRejected, evs: slices.Concat(verdicts, ends)},
	}
	seen := map[[2]string]bool{}
	pair := func(st sessionState, ev sessionEvent) {
		t.Helper()
		k := [2]string{string(st), string(ev)}
		if seen[k] {
			t.Errorf("%s + %s is listed twice", st, ev)
		}
		seen[k] = true
	}
	for _, m := range allowed {
		pair(m.from, m.ev)
		if to, ok := next(m.from, m.ev); !ok || to != m.to {
			t.Errorf("%s + %s: %s, %v; want %s", m.from, m.ev, to, ok, m.to)
		}
	}
	for _, r := range refused {
		for _, ev := range r.evs {
			pair(r.from, ev)
			if to, ok := next(r.from, ev); ok || to != r.from {
				t.Errorf("%s + %s: %s, %v; want refused, staying %s", r.from, ev, to, ok, r.from)
			}
		}
	}
	// Every pair of every state and every event is listed above, and the
	// lists name every state and event of the table.
	for _, st := range sessionStates {
		for _, ev := range sessionEvents {
			if !seen[[2]string{string(st), string(ev)}] {
				t.Errorf("%s + %s is not listed", st, ev)
			}
		}
	}
	for from, evs := range sessionTransitions {
		for ev, to := range evs {
			if !slices.Contains(sessionStates, from) || !slices.Contains(sessionStates, to) || !slices.Contains(sessionEvents, ev) {
				t.Errorf("%s + %s -> %s: a state or event not in sessionStates, sessionEvents", from, ev, to)
			}
		}
	}
}

// What each state says.
func TestSessionStatePredicates(t *testing.T) {
	for _, c := range []struct {
		st                    sessionState
		known, pending, ended bool
	}{
		{st: stateOffline, pending: true},
		{st: stateLive, known: true},
		{st: stateAcked, known: true},
		{st: stateWarned, known: true},
		{st: stateEnding, pending: true, ended: true},
		{st: stateEnded, ended: true},
		{st: stateRejected, ended: true},
	} {
		if c.st.known() != c.known || c.st.pending() != c.pending || c.st.ended() != c.ended {
			t.Errorf("%s: known %v pending %v ended %v; want %v %v %v", c.st,
				c.st.known(), c.st.pending(), c.st.ended(), c.known, c.pending, c.ended)
		}
	}
}

// Every state survives the journal, and the columns an older agent wrote
// (Known, Pending, EndOnServer, Ack) read back as the state they meant.
func TestSessionStateInTheJournal(t *testing.T) {
	j, err := OpenJournal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	at := time.Date(2030, 3, 4, 9, 0, 0, 0, time.UTC)
	for i, st := range sessionStates {
		s := gwSession{ID: "ses_" + string(st), Identity: "alice", StartedAt: at.Add(time.Duration(i) * time.Minute), State: st}
		if st.ended() {
			end := s.StartedAt.Add(time.Second)
			s.EndedAt = &end
		}
		if err := j.saveSession(bg, &s); err != nil {
			t.Fatal(err)
		}
		got, err := j.sessions(bg, "WHERE id = '"+s.ID+"'")
		if err != nil || len(got) != 1 || got[0].State != st {
			t.Fatalf("%s read back as %+v, %v", st, got, err)
		}
	}
	for _, c := range []struct {
		name  string
		cols  stateColumns
		ended bool
		want  sessionState
	}{
		{name: "offline, not yet uploaded", cols: stateColumns{Pending: true}, want: stateOffline},
		{name: "started online", cols: stateColumns{Known: true}, want: stateLive},
		{name: "acknowledged in progress", cols: stateColumns{Known: true, Ack: ackOpen}, want: stateAcked},
		{name: "warn_then_logoff", cols: stateColumns{Known: true, Ack: ackOpen, EndOnServer: true}, want: stateWarned},
		{name: "ended offline, not yet uploaded", cols: stateColumns{Pending: true}, ended: true, want: stateEnding},
		{name: "online, ended untold", cols: stateColumns{Known: true, Pending: true}, ended: true, want: stateEnding},
		{name: "acknowledged, ended, to upload", cols: stateColumns{Known: true, Pending: true, Ack: ackOpen}, ended: true, want: stateEnding},
		{name: "online, ended told", cols: stateColumns{Known: true}, ended: true, want: stateEnded},
		{name: "acknowledged, ended by the server", cols: stateColumns{Known: true, Ack: ackOpen}, ended: true, want: stateEnded},
		{name: "ended entry acknowledged", cols: stateColumns{Known: true, Ack: ackEnded}, ended: true, want: stateEnded},
		{name: "logged off by verdict", cols: stateColumns{Ack: ackEnded}, ended: true, want: stateEnded},
		{name: "rejected in progress", cols: stateColumns{Ack: ackRejected}, ended: true, want: stateRejected},
		{name: "rejected after the end", cols: stateColumns{Known: true, Ack: ackRejected}, ended: true, want: stateRejected},
	} {
		if got := stateOf(c.cols, c.ended); got != c.want {
			t.Errorf("%s: %+v ended %v reads as %s, want %s", c.name, c.cols, c.ended, got, c.want)
		}
	}
}

// Every (lock state, lock event) pair, each listed once.
func TestLockTransitions(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range []struct {
		from lockState
		ev   lockEvent
		to   lockState
		ok   bool
	}{
		{from: unlocked, ev: evLockHere, to: lockedHere, ok: true},
		{from: unlocked, ev: evLockOnServer, to: lockedOnServer, ok: true},
		{from: unlocked, ev: evUnlock, to: unlocked},
		{from: lockedHere, ev: evLockHere, to: lockedHere},
		{from: lockedHere, ev: evLockOnServer, to: lockedOnServer, ok: true},
		{from: lockedHere, ev: evUnlock, to: unlocked, ok: true},
		{from: lockedOnServer, ev: evLockHere, to: lockedOnServer},
		{from: lockedOnServer, ev: evLockOnServer, to: lockedOnServer, ok: true},
		{from: lockedOnServer, ev: evUnlock, to: unlocked, ok: true},
	} {
		k := c.from.String() + " + " + string(c.ev)
		if seen[k] {
			t.Errorf("%s is listed twice", k)
		}
		seen[k] = true
		if to, ok := nextLock(c.from, c.ev); to != c.to || ok != c.ok {
			t.Errorf("%s: %s, %v; want %s, %v", k, to, ok, c.to, c.ok)
		}
	}
	for _, l := range lockStates {
		for _, ev := range lockEvents {
			if !seen[l.String()+" + "+string(ev)] {
				t.Errorf("%s + %s is not listed", l, ev)
			}
		}
	}
}

// Every lock state survives the journal.
func TestLockStateInTheJournal(t *testing.T) {
	j, err := OpenJournal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	at := time.Date(2030, 3, 4, 9, 0, 0, 0, time.UTC)
	for _, l := range lockStates {
		s := gwSession{ID: "ses_" + l.String(), Identity: "alice", StartedAt: at, State: stateLive, Lock: l}
		if l != unlocked {
			s.LockedAt = &at
		}
		if err := j.saveSession(bg, &s); err != nil {
			t.Fatal(err)
		}
		got, err := j.sessions(bg, "WHERE id = '"+s.ID+"'")
		if err != nil || len(got) != 1 || got[0].Lock != l || (got[0].LockedAt == nil) != (l == unlocked) {
			t.Fatalf("%s read back as %+v, %v", l, got, err)
		}
	}
}
