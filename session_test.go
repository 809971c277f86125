package latchkey_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"latchkey"
)

// failList renders fail as "id:reason" in order.
func failList(fail []latchkey.FailedSession) []string {
	out := []string{}
	for _, f := range fail {
		out = append(out, f.Session.ID+":"+f.Reason)
	}
	return out
}

// checkFailedSessionsIntact checks every failed session is passed through
// exactly as given in the input (the caller writes it back by id and more).
func checkFailedSessionsIntact(t *testing.T, fail []latchkey.FailedSession, inputs ...latchkey.Session) {
	t.Helper()
	for _, f := range fail {
		i := slices.IndexFunc(inputs, func(s latchkey.Session) bool { return s.ID == f.Session.ID })
		if i < 0 {
			t.Fatalf("failed session %s was not in the input", f.Session.ID)
		}
		if !reflect.DeepEqual(f.Session, inputs[i]) {
			t.Fatalf("failed session %s altered:\n got  %+v\n want %+v", f.Session.ID, f.Session, inputs[i])
		}
	}
}

// ---- Session.Unlocked ----

func TestSessionUnlocked(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		s    latchkey.Session
		want bool
	}{
		{"active unlocked", sess("s", thisTerm, "alice", false), true},
		{"active locked", sess("s", thisTerm, "alice", true), false},
		{"failed unlocked", withStatus(sess("s", thisTerm, "alice", false), latchkey.SessionFailed), false},
		{"ended unlocked", withStatus(sess("s", thisTerm, "alice", false), latchkey.SessionEnded), false},
		{"expired unlocked", withStatus(sess("s", thisTerm, "alice", false), latchkey.SessionExpired), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := c.s.Unlocked(); got != c.want {
				t.Fatalf("Unlocked() = %v, want %v", got, c.want)
			}
		})
	}
}

// ---- DecideLogin ----

func TestDecideLogin(t *testing.T) {
	t.Parallel()
	// This terminal's previous sessions.
	here := sess("s-here", thisTerm, "alice", false)
	hereLocked := sess("s-here-locked", thisTerm, "alice", true)
	hereOtherIdentity := sess("s-here-alice2", thisTerm, "alice2", false)
	hereBob := ofPrincipal(sess("s-here-bob", thisTerm, "bob", false), "p-bob")
	hereBobLocked := ofPrincipal(sess("s-here-bob-locked", thisTerm, "bob", true), "p-bob")
	// Sessions of the principal elsewhere.
	unlockedA := sess("s-a", "term-a", "alice", false)
	unlockedB := sess("s-b", "term-b", "alice", false)
	lockedC := sess("s-c", "term-c", "alice", true)
	lockedD := sess("s-d", "term-d", "alice", true)
	otherIdLocked := sess("s-e", "term-e", "alice2", true)
	otherIdUnlocked := sess("s-f", "term-f", "alice2", false)
	otherIdLocked3 := sess("s-g", "term-g", "alice3", true)

	type tc struct {
		name       string
		global     bool
		legacy     bool
		force      bool
		active     []latchkey.Session
		onTerminal *latchkey.Session
		wantCode   string
		wantRefs   []string // details.sessions ids
		wantFail   []string // "id:reason" in order
	}
	cases := []tc{
		// No sessions at all.
		{name: "no sessions", wantFail: []string{}},
		{name: "no sessions, force", force: true, wantFail: []string{}},
		{name: "no sessions, legacy, force", legacy: true, force: true, wantFail: []string{}},
		{name: "no sessions, global", global: true, wantFail: []string{}},

		// Rule 2: clean-up of this terminal's ACTIVE session.
		{name: "cleanup own unlocked session on this terminal",
			active: []latchkey.Session{here}, onTerminal: &here,
			wantFail: []string{"s-here:terminal_cleanup"}},
		{name: "cleanup own locked session on this terminal",
			active: []latchkey.Session{hereLocked}, onTerminal: &hereLocked,
			wantFail: []string{"s-here-locked:terminal_cleanup"}},
		{name: "cleanup another principal's unlocked session on this terminal",
			onTerminal: &hereBob,
			wantFail:   []string{"s-here-bob:terminal_cleanup"}},
		{name: "cleanup another principal's locked session on this terminal",
			onTerminal: &hereBobLocked,
			wantFail:   []string{"s-here-bob-locked:terminal_cleanup"}},
		{name: "cleanup on legacy site",
			legacy: true, onTerminal: &hereBobLocked,
			wantFail: []string{"s-here-bob-locked:terminal_cleanup"}},
		{name: "cleanup for a global principal",
			global: true, active: []latchkey.Session{here}, onTerminal: &here,
			wantFail: []string{"s-here:terminal_cleanup"}},
		{name: "own session on this terminal under another identity is cleaned up, not identity_in_use",
			active: []latchkey.Session{hereOtherIdentity}, onTerminal: &hereOtherIdentity,
			wantFail: []string{"s-here-alice2:terminal_cleanup"}},
		{name: "session on this terminal in Active does not count as elsewhere (other identity, unlocked)",
			active:   []latchkey.Session{hereOtherIdentity},
			wantFail: []string{}},
		{name: "non-active session on this terminal is not cleaned up",
			onTerminal: ptr(withStatus(here, latchkey.SessionFailed)),
			wantFail:   []string{}},
		{name: "ended session on this terminal is not cleaned up",
			onTerminal: ptr(withStatus(hereBob, latchkey.SessionEnded)),
			wantFail:   []string{}},
		{name: "cleanup comes first, before forced sessions",
			force: true, active: []latchkey.Session{unlockedA, here, unlockedB}, onTerminal: &here,
			wantFail: []string{"s-here:terminal_cleanup", "s-a:forced", "s-b:forced"}},
		{name: "cleanup of another principal comes first, before forced sessions",
			force: true, active: []latchkey.Session{unlockedA}, onTerminal: &hereBob,
			wantFail: []string{"s-here-bob:terminal_cleanup", "s-a:forced"}},

		// Rule 3: identity_in_use.
		{name: "other identity locked elsewhere",
			active:   []latchkey.Session{otherIdLocked},
			wantCode: latchkey.EIDENTITYINUSE, wantRefs: []string{"s-e"}},
		{name: "other identity unlocked elsewhere",
			active:   []latchkey.Session{otherIdUnlocked},
			wantCode: latchkey.EIDENTITYINUSE, wantRefs: []string{"s-f"}},
		{name: "other identity elsewhere: force does not help",
			force: true, active: []latchkey.Session{otherIdUnlocked},
			wantCode: latchkey.EIDENTITYINUSE, wantRefs: []string{"s-f"}},
		{name: "other identity elsewhere: refused login cleans nothing up",
			active: []latchkey.Session{otherIdLocked, here}, onTerminal: &here,
			wantCode: latchkey.EIDENTITYINUSE, wantRefs: []string{"s-e"}},
		{name: "other identity elsewhere: refused login cleans up no other principal's session either",
			onTerminal: &hereBob, active: []latchkey.Session{otherIdLocked},
			wantCode: latchkey.EIDENTITYINUSE, wantRefs: []string{"s-e"}},
		{name: "identity_in_use lists only the other identities' sessions",
			active:   []latchkey.Session{lockedC, otherIdLocked, unlockedA, otherIdLocked3},
			wantCode: latchkey.EIDENTITYINUSE, wantRefs: []string{"s-e", "s-g"}},
		{name: "identity_in_use wins over concurrent_session",
			active:   []latchkey.Session{unlockedA, otherIdLocked},
			wantCode: latchkey.EIDENTITYINUSE, wantRefs: []string{"s-e"}},
		{name: "identity_in_use applies to a global principal",
			global: true, active: []latchkey.Session{otherIdLocked},
			wantCode: latchkey.EIDENTITYINUSE, wantRefs: []string{"s-e"}},
		{name: "identity_in_use applies to a global principal with force",
			global: true, force: true, active: []latchkey.Session{otherIdUnlocked},
			wantCode: latchkey.EIDENTITYINUSE, wantRefs: []string{"s-f"}},
		{name: "identity_in_use on a legacy site",
			legacy: true, active: []latchkey.Session{otherIdLocked},
			wantCode: latchkey.EIDENTITYINUSE, wantRefs: []string{"s-e"}},
		{name: "same identity locked elsewhere is allowed",
			active:   []latchkey.Session{lockedC},
			wantFail: []string{}},

		// Rule 4: concurrent_session.
		{name: "unlocked elsewhere, no force",
			active:   []latchkey.Session{unlockedA},
			wantCode: latchkey.ECONCURRENTSESSION, wantRefs: []string{"s-a"}},
		{name: "unlocked elsewhere, no force: refused login cleans nothing up",
			active: []latchkey.Session{unlockedA, here}, onTerminal: &here,
			wantCode: latchkey.ECONCURRENTSESSION, wantRefs: []string{"s-a"}},
		{name: "two unlocked elsewhere, no force",
			active:   []latchkey.Session{unlockedA, unlockedB},
			wantCode: latchkey.ECONCURRENTSESSION, wantRefs: []string{"s-a", "s-b"}},
		{name: "unlocked elsewhere, force",
			force: true, active: []latchkey.Session{unlockedA},
			wantFail: []string{"s-a:forced"}},
		{name: "mixture one unlocked + several locked, no force: only the unlocked is listed",
			active:   []latchkey.Session{lockedC, unlockedA, lockedD},
			wantCode: latchkey.ECONCURRENTSESSION, wantRefs: []string{"s-a"}},
		{name: "mixture one unlocked + several locked, force: only the unlocked is failed",
			force: true, active: []latchkey.Session{lockedC, unlockedA, lockedD},
			wantFail: []string{"s-a:forced"}},
		{name: "locked-only elsewhere, no force",
			active:   []latchkey.Session{lockedC, lockedD},
			wantFail: []string{}},
		{name: "locked-only elsewhere, force: nothing failed",
			force: true, active: []latchkey.Session{lockedC, lockedD},
			wantFail: []string{}},
		{name: "locked-only elsewhere plus clean-up",
			active: []latchkey.Session{lockedC, here}, onTerminal: &here,
			wantFail: []string{"s-here:terminal_cleanup"}},

		// Legacy site: locked sessions count as unlocked.
		{name: "legacy: locked elsewhere conflicts",
			legacy: true, active: []latchkey.Session{lockedC},
			wantCode: latchkey.ECONCURRENTSESSION, wantRefs: []string{"s-c"}},
		{name: "legacy: mixture lists all",
			legacy: true, active: []latchkey.Session{lockedC, unlockedA, lockedD},
			wantCode: latchkey.ECONCURRENTSESSION, wantRefs: []string{"s-c", "s-a", "s-d"}},
		{name: "legacy: force fails locked ones too",
			legacy: true, force: true, active: []latchkey.Session{lockedC, unlockedA, lockedD},
			wantFail: []string{"s-c:forced", "s-a:forced", "s-d:forced"}},
		{name: "legacy: force with clean-up first",
			legacy: true, force: true, active: []latchkey.Session{lockedC, hereLocked}, onTerminal: &hereLocked,
			wantFail: []string{"s-here-locked:terminal_cleanup", "s-c:forced"}},
		{name: "legacy: own session on this terminal does not conflict",
			legacy: true, active: []latchkey.Session{hereLocked},
			wantFail: []string{}},

		// Global principals skip rule 4.
		{name: "global: unlocked elsewhere allowed",
			global: true, active: []latchkey.Session{unlockedA, unlockedB},
			wantFail: []string{}},
		{name: "global: force fails nothing",
			global: true, force: true, active: []latchkey.Session{unlockedA, lockedC},
			wantFail: []string{}},
		{name: "global: legacy site, force fails nothing",
			global: true, legacy: true, force: true, active: []latchkey.Session{unlockedA, lockedC},
			wantFail: []string{}},
		{name: "global: clean-up still happens, nothing forced",
			global: true, force: true, active: []latchkey.Session{unlockedA, here}, onTerminal: &here,
			wantFail: []string{"s-here:terminal_cleanup"}},

		// Non-active statuses in the input are ignored.
		{name: "non-active sessions elsewhere are ignored",
			active: []latchkey.Session{
				withStatus(unlockedA, latchkey.SessionFailed),
				withStatus(unlockedB, latchkey.SessionEnded),
				withStatus(otherIdUnlocked, latchkey.SessionExpired),
			},
			wantFail: []string{}},
		{name: "non-active sessions elsewhere are ignored, force fails nothing",
			force: true,
			active: []latchkey.Session{
				withStatus(unlockedA, latchkey.SessionFailed),
				withStatus(unlockedB, latchkey.SessionEnded),
				withStatus(lockedC, latchkey.SessionExpired),
			},
			wantFail: []string{}},
		{name: "non-active sessions elsewhere are ignored on a legacy site",
			legacy: true, force: true,
			active: []latchkey.Session{
				withStatus(lockedC, latchkey.SessionFailed),
				withStatus(otherIdLocked, latchkey.SessionExpired),
			},
			wantFail: []string{}},
		{name: "non-active mixed with an active unlocked: only the active one listed",
			active: []latchkey.Session{
				withStatus(unlockedB, latchkey.SessionFailed),
				unlockedA,
			},
			wantCode: latchkey.ECONCURRENTSESSION, wantRefs: []string{"s-a"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			site := ccSite()
			if c.legacy {
				site = legacySite()
			}
			in := latchkey.LoginInput{
				Principal:  user(c.global),
				Identity:   "alice",
				Terminal:   thisTerm,
				Site:       site,
				Force:      c.force,
				Active:     slices.Clone(c.active),
				OnTerminal: c.onTerminal,
			}
			d, err := latchkey.DecideLogin(in)
			wantCode(t, err, c.wantCode)
			if c.wantCode != "" {
				if len(d.Fail) != 0 {
					t.Fatalf("refused login fails sessions: %v (a refused login changes nothing)", failList(d.Fail))
				}
				if got := refIDs(t, err); !slices.Equal(got, c.wantRefs) {
					t.Fatalf("details.sessions = %v, want %v", got, c.wantRefs)
				}
				return
			}
			if got := failList(d.Fail); !slices.Equal(got, c.wantFail) {
				t.Fatalf("Fail = %v, want %v", got, c.wantFail)
			}
			all := slices.Clone(c.active)
			if c.onTerminal != nil {
				all = append(all, *c.onTerminal)
			}
			checkFailedSessionsIntact(t, d.Fail, all...)
		})
	}
}

// The SessionRefs of a refusal carry the listed sessions' details.
func TestDecideLoginSessionRefs(t *testing.T) {
	t.Parallel()
	a := sess("s-a", "term-a", "alice", false)
	a.StartedAt = t0.Add(-3 * time.Hour)
	for _, c := range []struct {
		name  string
		s     latchkey.Session
		code  string
		legac bool
	}{
		{"concurrent_session unlocked", a, latchkey.ECONCURRENTSESSION, false},
		{"concurrent_session legacy locked", sess("s-c", "term-c", "alice", true), latchkey.ECONCURRENTSESSION, true},
		{"identity_in_use", sess("s-e", "term-e", "alice2", true), latchkey.EIDENTITYINUSE, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			site := ccSite()
			if c.legac {
				site = legacySite()
			}
			_, err := latchkey.DecideLogin(latchkey.LoginInput{Principal: user(false), Identity: "alice", Terminal: thisTerm,
				Site: site, Active: []latchkey.Session{c.s}})
			wantCode(t, err, c.code)
			rs := detail(t, err, "sessions").([]latchkey.SessionRef)
			want := latchkey.SessionRef{ID: c.s.ID, TerminalID: c.s.TerminalID, Identity: c.s.Identity,
				StartedAt: c.s.StartedAt, LockedAt: c.s.LockedAt}
			if len(rs) != 1 || !reflect.DeepEqual(rs[0], want) {
				t.Fatalf("details.sessions = %+v, want [%+v]", rs, want)
			}
			if latchkey.ErrorMessage(err) == "" {
				t.Fatal("refusal has no message")
			}
		})
	}
}

// DecideLogin must not modify its input.
func TestDecideLoginDoesNotMutateInput(t *testing.T) {
	t.Parallel()
	here := sess("s-here", thisTerm, "alice", false)
	active := []latchkey.Session{sess("s-a", "term-a", "alice", false), sess("s-c", "term-c", "alice", true), here}
	before := slices.Clone(active)
	hereBefore := here
	if _, err := latchkey.DecideLogin(latchkey.LoginInput{Principal: user(false), Identity: "alice", Terminal: thisTerm,
		Site: ccSite(), Force: true, Active: active, OnTerminal: &here}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(active, before) || !reflect.DeepEqual(here, hereBefore) {
		t.Fatal("DecideLogin modified its input")
	}
}

// ---- DecideUnlock ----

func TestDecideUnlock(t *testing.T) {
	t.Parallel()
	self := sess("s-self", thisTerm, "alice", true)
	selfStaleUnlocked := sess("s-self", thisTerm, "alice", false) // same id, as loaded before the lock
	unlockedA := sess("s-a", "term-a", "alice", false)
	unlockedB := sess("s-b", "term-b", "alice2", false)
	lockedC := sess("s-c", "term-c", "alice", true)
	lockedD := sess("s-d", "term-d", "alice", true)

	cases := []struct {
		name     string
		global   bool
		legacy   bool
		force    bool
		active   []latchkey.Session
		wantCode string
		wantRefs []string
		wantFail []string
	}{
		{name: "only the session itself", active: []latchkey.Session{self}, wantFail: []string{}},
		{name: "the session itself, seen unlocked, never conflicts", active: []latchkey.Session{selfStaleUnlocked}, wantFail: []string{}},
		{name: "the session itself on a legacy site with force", legacy: true, force: true,
			active: []latchkey.Session{self}, wantFail: []string{}},
		{name: "empty active list", wantFail: []string{}},
		{name: "other unlocked", active: []latchkey.Session{self, unlockedA},
			wantCode: latchkey.ECONCURRENTSESSION, wantRefs: []string{"s-a"}},
		{name: "other unlocked under another identity", active: []latchkey.Session{self, unlockedB},
			wantCode: latchkey.ECONCURRENTSESSION, wantRefs: []string{"s-b"}},
		{name: "two others unlocked", active: []latchkey.Session{unlockedA, self, unlockedB},
			wantCode: latchkey.ECONCURRENTSESSION, wantRefs: []string{"s-a", "s-b"}},
		{name: "other unlocked, force", force: true, active: []latchkey.Session{self, unlockedA, unlockedB},
			wantFail: []string{"s-a:forced", "s-b:forced"}},
		{name: "locked others fine", active: []latchkey.Session{lockedC, self, lockedD}, wantFail: []string{}},
		{name: "locked others, force: none failed", force: true, active: []latchkey.Session{lockedC, self, lockedD}, wantFail: []string{}},
		{name: "mixture, no force: only unlocked listed", active: []latchkey.Session{lockedC, unlockedA, self, lockedD},
			wantCode: latchkey.ECONCURRENTSESSION, wantRefs: []string{"s-a"}},
		{name: "mixture, force: only unlocked failed", force: true, active: []latchkey.Session{lockedC, unlockedA, self, lockedD},
			wantFail: []string{"s-a:forced"}},
		{name: "legacy: locked other conflicts", legacy: true, active: []latchkey.Session{self, lockedC},
			wantCode: latchkey.ECONCURRENTSESSION, wantRefs: []string{"s-c"}},
		{name: "legacy: force fails locked others too", legacy: true, force: true, active: []latchkey.Session{self, lockedC, unlockedA},
			wantFail: []string{"s-c:forced", "s-a:forced"}},
		{name: "global: unlocked other allowed", global: true, active: []latchkey.Session{self, unlockedA},
			wantFail: []string{}},
		{name: "global: force fails nothing", global: true, force: true, active: []latchkey.Session{self, unlockedA, lockedC},
			wantFail: []string{}},
		{name: "global: legacy, force fails nothing", global: true, legacy: true, force: true,
			active: []latchkey.Session{self, unlockedA, lockedC}, wantFail: []string{}},
		{name: "non-active others ignored", force: true, legacy: true,
			active: []latchkey.Session{self, withStatus(unlockedA, latchkey.SessionFailed),
				withStatus(lockedC, latchkey.SessionEnded), withStatus(unlockedB, latchkey.SessionExpired)},
			wantFail: []string{}},
		{name: "non-active others ignored, no force",
			active:   []latchkey.Session{self, withStatus(unlockedA, latchkey.SessionFailed)},
			wantFail: []string{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			site := ccSite()
			if c.legacy {
				site = legacySite()
			}
			d, err := latchkey.DecideUnlock(latchkey.UnlockInput{Session: self, Identity: "alice", Principal: user(c.global), Site: site,
				Force: c.force, Active: slices.Clone(c.active), Now: t0.Add(time.Minute)})
			wantCode(t, err, c.wantCode)
			if c.wantCode != "" {
				if len(d.Fail) != 0 {
					t.Fatalf("refused unlock fails sessions: %v", failList(d.Fail))
				}
				if got := refIDs(t, err); !slices.Equal(got, c.wantRefs) {
					t.Fatalf("details.sessions = %v, want %v", got, c.wantRefs)
				}
				return
			}
			if got := failList(d.Fail); !slices.Equal(got, c.wantFail) {
				t.Fatalf("Fail = %v, want %v", got, c.wantFail)
			}
			checkFailedSessionsIntact(t, d.Fail, c.active...)
			if d.Session.ID != self.ID || d.Session.LockedAt != nil || !d.Session.LastActivityAt.Equal(t0.Add(time.Minute)) {
				t.Fatalf("unlocked session %+v; want %s unlocked, last active now", d.Session, self.ID)
			}
		})
	}
}

// ---- CheckSessionCall ----

func TestCheckSessionCall(t *testing.T) {
	t.Parallel()
	base := sess("s1", thisTerm, "alice", false)
	failed := withStatus(base, latchkey.SessionFailed)
	failed.EndReason = latchkey.EndForced
	cases := []struct {
		name       string
		s          latchkey.Session
		terminal   string
		wantCode   string
		wantStatus string // details.status, for conflict
	}{
		{name: "own active unlocked", s: base, terminal: thisTerm, wantCode: "", wantStatus: ""},
		{name: "own active locked", s: sess("s1", thisTerm, "alice", true), terminal: thisTerm, wantCode: "", wantStatus: ""},
		{name: "other terminal", s: base, terminal: "term-other", wantCode: latchkey.EFORBIDDEN, wantStatus: ""},
		{name: "other terminal, empty id", s: base, terminal: "", wantCode: latchkey.EFORBIDDEN, wantStatus: ""},
		{name: "other terminal checked before status", s: failed, terminal: "term-other", wantCode: latchkey.EFORBIDDEN, wantStatus: ""},
		{name: "failed", s: failed, terminal: thisTerm, wantCode: latchkey.ESESSIONFAILED, wantStatus: ""},
		{name: "ended", s: withStatus(base, latchkey.SessionEnded), terminal: thisTerm, wantCode: latchkey.ECONFLICT, wantStatus: "ended"},
		{name: "expired", s: withStatus(base, latchkey.SessionExpired), terminal: thisTerm, wantCode: latchkey.ECONFLICT, wantStatus: "expired"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			err := latchkey.CheckSessionCall(c.s, c.terminal)
			wantCode(t, err, c.wantCode)
			switch c.wantCode {
			case latchkey.ESESSIONFAILED:
				got, ok := detail(t, err, "session").(latchkey.Session)
				if !ok || got.ID != c.s.ID || got.Status != latchkey.SessionFailed {
					t.Fatalf("details.session = %#v, want the failed session %s", detail(t, err, "session"), c.s.ID)
				}
			case latchkey.ECONFLICT:
				if got := detail(t, err, "status"); got != c.wantStatus {
					t.Fatalf("details.status = %#v, want %q", got, c.wantStatus)
				}
			}
		})
	}
	if latchkey.ESESSIONFAILED != "session_failed" {
		t.Fatalf("ESESSIONFAILED = %q, API.md says session_failed", latchkey.ESESSIONFAILED)
	}
}

// ---- DecideLock ----

func TestDecideLock(t *testing.T) {
	t.Parallel()
	sent := time.Date(2025, 3, 14, 10, 30, 15, 123456789, cet) // 09:30:15.123456789 UTC
	firstLock := t0.Add(-time.Minute)
	cases := []struct {
		name       string
		s          latchkey.Session
		terminal   string
		wantCode   string
		wantLocked *time.Time // nil = must stay unlocked
	}{
		{name: "unlocked active gets locked at time_sent", s: sess("s1", thisTerm, "alice", false), terminal: thisTerm, wantCode: "", wantLocked: &sent},
		{name: "already locked keeps the first lock time", s: sess("s1", thisTerm, "alice", true), terminal: thisTerm, wantCode: "", wantLocked: &firstLock},
		{name: "failed session", s: withStatus(sess("s1", thisTerm, "alice", false), latchkey.SessionFailed), terminal: thisTerm, wantCode: latchkey.ESESSIONFAILED, wantLocked: nil},
		{name: "ended session", s: withStatus(sess("s1", thisTerm, "alice", false), latchkey.SessionEnded), terminal: thisTerm, wantCode: latchkey.ECONFLICT, wantLocked: nil},
		{name: "expired session", s: withStatus(sess("s1", thisTerm, "alice", false), latchkey.SessionExpired), terminal: thisTerm, wantCode: latchkey.ECONFLICT, wantLocked: nil},
		{name: "other terminal", s: sess("s1", "term-other", "alice", false), terminal: thisTerm, wantCode: latchkey.EFORBIDDEN, wantLocked: nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			in := c.s
			var inLocked *time.Time
			if in.LockedAt != nil {
				inLocked = ptr(*in.LockedAt)
			}
			got, err := latchkey.DecideLock(c.s, c.terminal, sent)
			wantCode(t, err, c.wantCode)
			// The input is passed by value; its LockedAt must be left alone.
			if (in.LockedAt == nil) != (inLocked == nil) || (inLocked != nil && !in.LockedAt.Equal(*inLocked)) {
				t.Fatal("DecideLock modified the caller's LockedAt")
			}
			if c.wantLocked == nil {
				if got.LockedAt != nil {
					t.Fatalf("LockedAt = %v, want nil", got.LockedAt)
				}
				if !reflect.DeepEqual(got, c.s) {
					t.Fatalf("refused lock changed the session: %+v", got)
				}
				return
			}
			if got.LockedAt == nil {
				t.Fatal("LockedAt is nil")
			}
			if !got.LockedAt.Equal(*c.wantLocked) {
				t.Fatalf("LockedAt = %v, want %v", got.LockedAt, c.wantLocked)
			}
			if got.LockedAt.Location() != time.UTC {
				t.Fatalf("LockedAt location = %v, want UTC", got.LockedAt.Location())
			}
			if got.LockedAt.Nanosecond() != c.wantLocked.Nanosecond() {
				t.Fatalf("LockedAt lost precision: %v", got.LockedAt)
			}
			// Nothing else changes.
			rest := got
			rest.LockedAt = c.s.LockedAt
			if !reflect.DeepEqual(rest, c.s) {
				t.Fatalf("DecideLock changed more than LockedAt:\n got  %+v\n want %+v", got, c.s)
			}
			if got.Status != latchkey.SessionActive {
				t.Fatalf("status = %s", got.Status)
			}
		})
	}
}

// ---- ApplyIdle / IdleDeadline ----

func idleSite(inactivity, forced int) latchkey.Site {
	s := ccSite()
	s.InactivityLockMinutes = inactivity
	s.ForcedTimeoutMinutes = forced
	return s
}

func TestApplyIdle(t *testing.T) {
	t.Parallel()
	la := time.Date(2025, 3, 14, 8, 0, 0, 0, time.UTC) // last activity
	earlyLock := la.Add(2 * time.Minute)
	mins := func(n int) time.Time { return la.Add(time.Duration(n) * time.Minute) }

	active := func(locked bool) latchkey.Session {
		s := sess("s1", thisTerm, "alice", false)
		s.LastActivityAt = la
		if locked {
			s.LockedAt = ptr(earlyLock)
		}
		return s
	}
	cases := []struct {
		name        string
		s           latchkey.Session
		inactivity  int
		forced      int
		now         time.Time
		want        latchkey.IdleChange
		wantLocked  *time.Time
		wantEndedAt *time.Time
	}{
		{name: "inactivity: 1ns before", s: active(false), inactivity: 10, forced: 0, now: mins(10).Add(-time.Nanosecond), want: latchkey.IdleNone, wantLocked: nil, wantEndedAt: nil},
		{name: "inactivity: exactly at", s: active(false), inactivity: 10, forced: 0, now: mins(10), want: latchkey.IdleLocked, wantLocked: ptr(mins(10)), wantEndedAt: nil},
		{name: "inactivity: long after, locked at last_activity+N", s: active(false), inactivity: 10, forced: 0, now: mins(500), want: latchkey.IdleLocked, wantLocked: ptr(mins(10)), wantEndedAt: nil},
		{name: "inactivity: now before last activity", s: active(false), inactivity: 10, forced: 0, now: la.Add(-time.Hour), want: latchkey.IdleNone, wantLocked: nil, wantEndedAt: nil},
		{name: "forced: 1ns before", s: active(false), inactivity: 0, forced: 30, now: mins(30).Add(-time.Nanosecond), want: latchkey.IdleNone, wantLocked: nil, wantEndedAt: nil},
		{name: "forced: exactly at", s: active(false), inactivity: 0, forced: 30, now: mins(30), want: latchkey.IdleExpired, wantLocked: nil, wantEndedAt: ptr(mins(30))},
		{name: "forced: long after, ended at last_activity+forced", s: active(false), inactivity: 0, forced: 30, now: mins(900), want: latchkey.IdleExpired, wantLocked: nil, wantEndedAt: ptr(mins(30))},
		{name: "both: only inactivity due", s: active(false), inactivity: 10, forced: 30, now: mins(15), want: latchkey.IdleLocked, wantLocked: ptr(mins(10)), wantEndedAt: nil},
		{name: "both: 1ns before forced", s: active(false), inactivity: 10, forced: 30, now: mins(30).Add(-time.Nanosecond), want: latchkey.IdleLocked, wantLocked: ptr(mins(10)), wantEndedAt: nil},
		{name: "both due: expired", s: active(false), inactivity: 10, forced: 30, now: mins(30), want: latchkey.IdleExpired, wantLocked: nil, wantEndedAt: ptr(mins(30))},
		{name: "both due, forced shorter than inactivity: expired", s: active(false), inactivity: 10, forced: 5, now: mins(7), want: latchkey.IdleExpired, wantLocked: nil, wantEndedAt: ptr(mins(5))},
		{name: "both, forced shorter, 1ns before forced", s: active(false), inactivity: 10, forced: 5, now: mins(5).Add(-time.Nanosecond), want: latchkey.IdleNone, wantLocked: nil, wantEndedAt: nil},
		{name: "locked session is not re-locked", s: active(true), inactivity: 10, forced: 0, now: mins(500), want: latchkey.IdleNone, wantLocked: ptr(earlyLock), wantEndedAt: nil},
		{name: "locked session, both set, only inactivity due", s: active(true), inactivity: 10, forced: 30, now: mins(20), want: latchkey.IdleNone, wantLocked: ptr(earlyLock), wantEndedAt: nil},
		{name: "locked session can expire", s: active(true), inactivity: 10, forced: 30, now: mins(30), want: latchkey.IdleExpired, wantLocked: ptr(earlyLock), wantEndedAt: ptr(mins(30))},
		{name: "locked session expires with forced only", s: active(true), inactivity: 0, forced: 30, now: mins(31), want: latchkey.IdleExpired, wantLocked: ptr(earlyLock), wantEndedAt: ptr(mins(30))},
		{name: "zero settings never change", s: active(false), inactivity: 0, forced: 0, now: mins(1 << 20), want: latchkey.IdleNone, wantLocked: nil, wantEndedAt: nil},
	}
	for _, st := range []latchkey.SessionStatus{latchkey.SessionFailed, latchkey.SessionEnded, latchkey.SessionExpired} {
		s := withStatus(active(false), st)
		cases = append(cases, struct {
			name        string
			s           latchkey.Session
			inactivity  int
			forced      int
			now         time.Time
			want        latchkey.IdleChange
			wantLocked  *time.Time
			wantEndedAt *time.Time
		}{name: "non-active " + string(st) + " untouched", s: s, inactivity: 10, forced: 30, now: mins(1000), want: latchkey.IdleNone, wantLocked: nil, wantEndedAt: nil})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, ch := latchkey.ApplyIdle(c.s, idleSite(c.inactivity, c.forced), c.now)
			if ch != c.want {
				t.Fatalf("change = %v, want %v", ch, c.want)
			}
			if ch == latchkey.IdleNone {
				if !reflect.DeepEqual(got, c.s) {
					t.Fatalf("IdleNone but session changed:\n got  %+v\n want %+v", got, c.s)
				}
				return
			}
			if (got.LockedAt == nil) != (c.wantLocked == nil) || (c.wantLocked != nil && !got.LockedAt.Equal(*c.wantLocked)) {
				t.Fatalf("LockedAt = %v, want %v", got.LockedAt, c.wantLocked)
			}
			if (got.EndedAt == nil) != (c.wantEndedAt == nil) || (c.wantEndedAt != nil && !got.EndedAt.Equal(*c.wantEndedAt)) {
				t.Fatalf("EndedAt = %v, want %v", got.EndedAt, c.wantEndedAt)
			}
			switch ch {
			case latchkey.IdleLocked:
				if got.Status != latchkey.SessionActive || got.EndReason != "" {
					t.Fatalf("locked session: status %s reason %q, want active and no reason", got.Status, got.EndReason)
				}
			case latchkey.IdleExpired:
				if got.Status != latchkey.SessionExpired || got.EndReason != latchkey.EndForcedTimeout {
					t.Fatalf("expired session: status %s reason %q, want expired/forced_timeout", got.Status, got.EndReason)
				}
			}
			// Nothing else changes.
			rest := got
			rest.Status, rest.LockedAt, rest.EndedAt, rest.EndReason = c.s.Status, c.s.LockedAt, c.s.EndedAt, c.s.EndReason
			if !reflect.DeepEqual(rest, c.s) {
				t.Fatalf("ApplyIdle changed other fields:\n got  %+v\n want %+v", got, c.s)
			}
		})
	}
}

func TestIdleDeadline(t *testing.T) {
	t.Parallel()
	la := time.Date(2025, 3, 14, 8, 0, 0, 0, time.UTC)
	mins := func(n int) time.Time { return la.Add(time.Duration(n) * time.Minute) }
	s := sess("s1", thisTerm, "alice", false)
	s.LastActivityAt = la
	locked := s
	locked.LockedAt = ptr(la.Add(time.Minute))
	cases := []struct {
		name       string
		s          latchkey.Session
		inactivity int
		forced     int
		want       time.Time // zero = never
	}{
		{name: "inactivity only", s: s, inactivity: 10, forced: 0, want: mins(10)},
		{name: "forced only", s: s, inactivity: 0, forced: 30, want: mins(30)},
		{name: "both, inactivity earlier", s: s, inactivity: 10, forced: 30, want: mins(10)},
		{name: "both, forced earlier", s: s, inactivity: 10, forced: 5, want: mins(5)},
		{name: "both equal", s: s, inactivity: 10, forced: 10, want: mins(10)},
		{name: "locked, both: forced", s: locked, inactivity: 10, forced: 30, want: mins(30)},
		{name: "locked, forced earlier", s: locked, inactivity: 10, forced: 5, want: mins(5)},
		{name: "locked, inactivity only: never", s: locked, inactivity: 10, forced: 0, want: time.Time{}},
		{name: "zero settings: never", s: s, inactivity: 0, forced: 0, want: time.Time{}},
		{name: "failed: never", s: withStatus(s, latchkey.SessionFailed), inactivity: 10, forced: 30, want: time.Time{}},
		{name: "ended: never", s: withStatus(s, latchkey.SessionEnded), inactivity: 10, forced: 30, want: time.Time{}},
		{name: "expired: never", s: withStatus(s, latchkey.SessionExpired), inactivity: 10, forced: 30, want: time.Time{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			site := idleSite(c.inactivity, c.forced)
			got := latchkey.IdleDeadline(c.s, site)
			if !got.Equal(c.want) || got.IsZero() != c.want.IsZero() {
				t.Fatalf("IdleDeadline = %v, want %v", got, c.want)
			}
			// Consistency with ApplyIdle: nothing before the deadline,
			// a change at it; never anything when there is none.
			if got.IsZero() {
				if _, ch := latchkey.ApplyIdle(c.s, site, la.Add(100000*time.Hour)); ch != latchkey.IdleNone {
					t.Fatalf("no deadline but ApplyIdle changes the session (%v)", ch)
				}
				return
			}
			if _, ch := latchkey.ApplyIdle(c.s, site, got.Add(-time.Nanosecond)); ch != latchkey.IdleNone {
				t.Fatalf("ApplyIdle changes the session 1ns before the deadline (%v)", ch)
			}
			if _, ch := latchkey.ApplyIdle(c.s, site, got); ch == latchkey.IdleNone {
				t.Fatal("ApplyIdle does not change the session at the deadline")
			}
		})
	}
}

// ---- ValidateTerminalEvent ----

func TestValidateTerminalEvent(t *testing.T) {
	t.Parallel()
	at := t0.Add(-time.Hour)
	ev := func(n int, reason string) latchkey.TerminalEvent {
		return latchkey.TerminalEvent{Event: n, OccurredAt: at, Reason: reason, Identity: "alice"}
	}
	cases := []struct {
		name      string
		i         int
		e         latchkey.TerminalEvent
		wantField string // "" = valid
	}{
		{"24 ok", 0, ev(24, ""), ""},
		{"25 ok", 0, ev(25, ""), ""},
		{"24 without identity ok", 0, latchkey.TerminalEvent{Event: 24, OccurredAt: at}, ""},
		{"24 with a reason", 0, ev(24, latchkey.ReasonInvalidCredentials), "events[0].reason"},
		{"25 with a reason", 3, ev(25, "x"), "events[3].reason"},
		{"26 invalid_credentials", 0, ev(26, "invalid_credentials"), ""},
		{"26 attempts_exceeded", 0, ev(26, "attempts_exceeded"), ""},
		{"26 account_locked", 0, ev(26, "account_locked"), ""},
		{"26 account_disabled", 0, ev(26, "account_disabled"), ""},
		{"26 without a reason", 1, ev(26, ""), "events[1].reason"},
		{"26 with a bad reason", 2, ev(26, "wrong_password"), "events[2].reason"},
		{"26 with a reason in the wrong case", 2, ev(26, "Account_Locked"), "events[2].reason"},
		{"event 27", 4, ev(27, ""), "events[4].event"},
		{"event 23", 5, ev(23, ""), "events[5].event"},
		{"event 0", 0, ev(0, ""), "events[0].event"},
		{"zero occurred_at", 7, latchkey.TerminalEvent{Event: 24}, "events[7].occurred_at"},
		{"zero occurred_at on 26", 8, latchkey.TerminalEvent{Event: 26, Reason: "account_locked"}, "events[8].occurred_at"},
		{"multi-digit index", 12, ev(24, "x"), "events[12].reason"},
		{"large index", 999, ev(27, ""), "events[999].event"},
		{"index 10", 10, ev(26, ""), "events[10].reason"},
		{"bad identity", 6, latchkey.TerminalEvent{Event: 25, OccurredAt: at, Identity: "al\nice"}, "events[6].identity"},
		{"bad id", 9, latchkey.TerminalEvent{ID: "a\x00b", Event: 25, OccurredAt: at}, "events[9].id"},
		{"identity with SQL metacharacters is data", 0, latchkey.TerminalEvent{Event: 25, OccurredAt: at, Identity: "o'brien;--"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			err := latchkey.ValidateTerminalEvent(c.i, c.e)
			if c.wantField == "" {
				wantCode(t, err, "")
				return
			}
			wantCode(t, err, latchkey.EBADREQUEST)
			if got := detail(t, err, "field"); got != c.wantField {
				t.Fatalf("details.field = %#v, want %q", got, c.wantField)
			}
			if latchkey.ErrorMessage(err) == "" {
				t.Fatal("no message")
			}
		})
	}
}

func TestApplyIdleSessionLimit(t *testing.T) {
	t.Parallel()
	la := time.Date(2025, 3, 14, 8, 0, 0, 0, time.UTC)
	mins := func(n int) time.Time { return la.Add(time.Duration(n) * time.Minute) }
	limited := func(end int, limit latchkey.LimitReason) latchkey.Session {
		s := sess("s1", thisTerm, "alice", false)
		s.LastActivityAt = la
		s.EndsAt, s.Limit = ptr(mins(end)), limit
		return s
	}
	for _, c := range []struct {
		name       string
		s          latchkey.Session
		forced     int
		now        time.Time
		want       latchkey.IdleChange
		wantEnd    time.Time
		wantReason string
	}{
		{name: "1ns before the limit", s: limited(20, latchkey.LimitQuota), forced: 0, now: mins(20).Add(-1), want: latchkey.IdleNone, wantEnd: time.Time{}, wantReason: ""},
		{name: "at the limit: expired at it", s: limited(20, latchkey.LimitQuota), forced: 0, now: mins(20), want: latchkey.IdleExpired, wantEnd: mins(20), wantReason: string(latchkey.LimitQuota)},
		{name: "long after: ended at the limit, not now", s: limited(20, latchkey.LimitMaxSession), forced: 0, now: mins(300), want: latchkey.IdleExpired, wantEnd: mins(20), wantReason: string(latchkey.LimitMaxSession)},
		{name: "forced timeout earlier than the limit wins", s: limited(40, latchkey.LimitReservation), forced: 30, now: mins(50), want: latchkey.IdleExpired, wantEnd: mins(30), wantReason: latchkey.EndForcedTimeout},
		{name: "limit earlier than the forced timeout wins", s: limited(20, latchkey.LimitReservation), forced: 30, now: mins(50), want: latchkey.IdleExpired, wantEnd: mins(20), wantReason: string(latchkey.LimitReservation)},
	} {
		got, ch := latchkey.ApplyIdle(c.s, idleSite(0, c.forced), c.now)
		if ch != c.want {
			t.Errorf("%s: change %v, want %v", c.name, ch, c.want)
			continue
		}
		if ch == latchkey.IdleNone {
			continue
		}
		if got.Status != latchkey.SessionExpired || !got.EndedAt.Equal(c.wantEnd) || got.EndReason != c.wantReason {
			t.Errorf("%s: %s at %v (%s), want expired at %v (%s)", c.name, got.Status, got.EndedAt, got.EndReason, c.wantEnd, c.wantReason)
		}
	}
	s := limited(20, latchkey.LimitQuota)
	if d := latchkey.IdleDeadline(s, idleSite(0, 30)); !d.Equal(mins(20)) {
		t.Errorf("deadline %v, want the limit %v", d, mins(20))
	}
	if d := latchkey.IdleDeadline(s, idleSite(0, 10)); !d.Equal(mins(10)) {
		t.Errorf("deadline %v, want the forced timeout %v", d, mins(10))
	}
}

// ---- DecideLogin: quota, reservation and the new session ----

// The login rule decides in a fixed order: the quota, then a reservation
// holding the terminal, then the session rules; a refusal says which
// (LoginOutcome.Refused, for the audit). An accepted logon gets its
// session, without an ID, limited by the site's allowance.
func TestDecideLoginQuotaReservationOrder(t *testing.T) {
	t.Parallel()
	site := ccSite()
	site.DailyQuotaMinutes, site.MaxSessionMinutes, site.WarningSeconds = 60, 90, 120
	other := latchkey.Reservation{ID: "res-bob", Principal: "p-bob", Terminal: thisTerm, Start: t0.Add(-5 * time.Minute), Minutes: 30}
	own := other
	own.ID, own.Principal = "res-alice", princ
	later := latchkey.Reservation{ID: "res-later", Principal: "p-bob", Terminal: thisTerm, Start: t0.Add(20 * time.Minute), Minutes: 30}
	elsewhere := sess("s-a", "term-a", "alice", false)
	admin := user(false)
	admin.Role = latchkey.RoleAdmin
	for _, c := range []struct {
		name      string
		who       latchkey.Principal
		left      *time.Duration
		holding   *latchkey.Reservation
		rs        []latchkey.Reservation
		active    []latchkey.Session
		code      string
		refused   string
		wantEnds  time.Time
		wantLimit latchkey.LimitReason
	}{
		{name: "no quota or reservation: the site's maximum session ends it", who: user(false)},
		{name: "quota used up", who: user(false), left: ptr(time.Duration(0)), code: latchkey.EQUOTAEXCEEDED, refused: latchkey.RefusedQuota},
		{name: "quota before the reservation", who: user(false), left: ptr(-time.Minute), holding: &other, code: latchkey.EQUOTAEXCEEDED, refused: latchkey.RefusedQuota},
		{name: "reservation of another person holds the terminal", who: user(false), left: ptr(time.Hour), holding: &other, code: latchkey.ECONFLICT, refused: latchkey.RefusedReserved},
		{name: "reservation before the session rules", who: user(false), holding: &other, active: []latchkey.Session{elsewhere}, code: latchkey.ECONFLICT, refused: latchkey.RefusedReserved},
		{name: "the session rules last", who: user(false), active: []latchkey.Session{elsewhere}, code: latchkey.ECONCURRENTSESSION},
		{name: "own reservation: allowed, ends with it", who: user(false), holding: &own, rs: []latchkey.Reservation{own},
			wantEnds: own.End(), wantLimit: latchkey.LimitReservation},
		{name: "an admin passes another's reservation", who: admin, holding: &other, rs: []latchkey.Reservation{other}},
		{name: "quota left ends the session", who: user(false), left: ptr(10 * time.Minute), wantEnds: t0.Add(10 * time.Minute), wantLimit: latchkey.LimitQuota},
		{name: "the next reservation ends it", who: user(false), left: ptr(time.Hour), rs: []latchkey.Reservation{later},
			wantEnds: later.Start, wantLimit: latchkey.LimitReservation},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			o, err := latchkey.DecideLogin(latchkey.LoginInput{Principal: c.who, Identity: "alice", Terminal: thisTerm, Site: site,
				Now: t0, Active: c.active, QuotaLeft: c.left, QuotaReset: t0.Add(15 * time.Hour), Reservations: c.rs, Holding: c.holding})
			wantCode(t, err, c.code)
			if o.Refused != c.refused {
				t.Fatalf("Refused = %q, want %q", o.Refused, c.refused)
			}
			if c.code != "" {
				if c.code == latchkey.EQUOTAEXCEEDED && detail(t, err, "reset_at") != t0.Add(15*time.Hour) {
					t.Fatalf("reset_at = %v", detail(t, err, "reset_at"))
				}
				return
			}
			got := o.Session
			if got.ID != "" || got.PrincipalID != c.who.ID || got.TerminalID != thisTerm || got.Identity != "alice" ||
				got.Status != latchkey.SessionActive || !got.StartedAt.Equal(t0) || !got.LastActivityAt.Equal(t0) {
				t.Fatalf("session %+v; want a new active session of alice here, started now, without an ID", got)
			}
			if c.wantEnds.IsZero() {
				if c.who.Role == latchkey.RoleAdmin && got.EndsAt != nil {
					t.Fatalf("an admin's session ends %v: no limit binds an admin", *got.EndsAt)
				}
				if c.who.Role == latchkey.RoleUser && (got.EndsAt == nil || !got.EndsAt.Equal(t0.Add(90*time.Minute)) || got.Limit != latchkey.LimitMaxSession) {
					t.Fatalf("limit %v %q, want the site's maximum session", got.EndsAt, got.Limit)
				}
				return
			}
			if got.EndsAt == nil || !got.EndsAt.Equal(c.wantEnds) || got.Limit != c.wantLimit || !got.WarnAt.Equal(c.wantEnds.Add(-2*time.Minute)) {
				t.Fatalf("ends %v (%q) warn %v; want %s (%q), warned 2 minutes before", got.EndsAt, got.Limit, got.WarnAt, c.wantEnds, c.wantLimit)
			}
		})
	}
}

// Unlocking with another person's credentials is refused, whatever else.
func TestDecideUnlockOtherPerson(t *testing.T) {
	t.Parallel()
	self := sess("s-self", thisTerm, "alice", true)
	bob := latchkey.Principal{ID: "p-bob", Role: latchkey.RoleAdmin, Global: true}
	o, err := latchkey.DecideUnlock(latchkey.UnlockInput{Session: self, Identity: "bob", Principal: bob, Site: ccSite(),
		Force: true, Active: []latchkey.Session{sess("s-a", "term-a", "alice", false)}, Now: t0})
	wantCode(t, err, latchkey.EFORBIDDEN)
	if len(o.Fail) != 0 || o.Session.ID != "" {
		t.Fatalf("a refused unlock decided %+v", o)
	}
}

// ---- request validation (used by http and the store) ----

func TestSessionRequestsValidate(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("p", latchkey.MaxPasswordLen+1)
	for _, c := range []struct {
		name  string
		r     interface{ Validate() error }
		field string
	}{
		{name: "logon", r: latchkey.LoginRequest{Identity: "alice", Password: "pw", TimeSent: t0}},
		{name: "logon without identity", r: latchkey.LoginRequest{Password: "pw", TimeSent: t0}, field: "identity"},
		{name: "logon with a control character", r: latchkey.LoginRequest{Identity: "al\nice", Password: "pw", TimeSent: t0}, field: "identity"},
		{name: "logon without password", r: latchkey.LoginRequest{Identity: "alice", TimeSent: t0}, field: "password"},
		{name: "logon with too long a password", r: latchkey.LoginRequest{Identity: "alice", Password: long, TimeSent: t0}, field: "password"},
		{name: "logon without time", r: latchkey.LoginRequest{Identity: "alice", Password: "pw"}, field: "time_sent"},
		{name: "identity before time", r: latchkey.LoginRequest{}, field: "identity"},
		{name: "unlock", r: latchkey.UnlockRequest{Identity: "alice", Password: "pw", TimeSent: t0}},
		{name: "unlock without password", r: latchkey.UnlockRequest{Identity: "alice", TimeSent: t0}, field: "password"},
		{name: "unlock without time", r: latchkey.UnlockRequest{Identity: "alice", Password: "pw"}, field: "time_sent"},
		{name: "manual lock", r: latchkey.LockRequest{TimeSent: t0, Reason: latchkey.LockManual}},
		{name: "inactivity lock", r: latchkey.LockRequest{TimeSent: t0, Reason: latchkey.LockInactivity}},
		{name: "lock without reason", r: latchkey.LockRequest{TimeSent: t0}, field: "reason"},
		{name: "lock for no known reason", r: latchkey.LockRequest{TimeSent: t0, Reason: "bored"}, field: "reason"},
		{name: "lock without time", r: latchkey.LockRequest{Reason: latchkey.LockManual}, field: "time_sent"},
	} {
		err := c.r.Validate()
		if c.field == "" {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		if latchkey.ErrorCode(err) != latchkey.EBADREQUEST || latchkey.ErrorDetails(err)["field"] != c.field {
			t.Errorf("%s: %v, want bad_request on %s", c.name, err, c.field)
		}
		if strings.Contains(latchkey.ErrorMessage(err), "pw") || strings.Contains(latchkey.ErrorMessage(err), long[:20]) {
			t.Errorf("%s: the message repeats the password: %s", c.name, latchkey.ErrorMessage(err))
		}
	}
	if err := latchkey.ValidPassword("old_password", ""); latchkey.ErrorDetails(err)["field"] != "old_password" {
		t.Errorf("ValidPassword names its field: %v", err)
	}
}

func TestOtherBranchNotice(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	locked := t0.Add(time.Minute)
	ses := func(id, term, site string, lockedAt *time.Time) latchkey.Session {
		return latchkey.Session{ID: id, TerminalID: term, SiteID: site, Status: latchkey.SessionActive, StartedAt: t0, LockedAt: lockedAt}
	}
	elsewhere := ses("ses_b", "term_b", "site_other", &locked)
	for _, tc := range []struct {
		name   string
		active []latchkey.Session
		failed []latchkey.FailedSession
		want   []string // the sessions named; nil: no notice
	}{
		{"no other session", nil, nil, nil},
		{"another counter at this branch", []latchkey.Session{ses("ses_a", "term_a", "site_here", &locked)}, nil, nil},
		{"a locked session at another branch", []latchkey.Session{elsewhere}, nil, []string{"ses_b"}},
		{"at another branch, failed by this log-on (forced)", []latchkey.Session{elsewhere},
			[]latchkey.FailedSession{{Session: elsewhere, Reason: latchkey.EndForced}}, nil},
		{"the session on this very terminal is cleaned up, not another branch", []latchkey.Session{ses("ses_t", "term_here", "site_other", nil)}, nil, nil},
		{"an ended session is not in use", []latchkey.Session{{ID: "ses_e", TerminalID: "term_e", SiteID: "site_other", Status: latchkey.SessionEnded}}, nil, nil},
		{"a session whose site is unknown is not guessed", []latchkey.Session{ses("ses_u", "term_u", "", &locked)}, nil, nil},
		{"two branches and this one", []latchkey.Session{elsewhere, ses("ses_a", "term_a", "site_here", &locked), ses("ses_c", "term_c", "site_third", &locked)},
			nil, []string{"ses_b", "ses_c"}},
	} {
		n := latchkey.OtherBranchNotice(tc.active, tc.failed, "term_here", "site_here")
		var got []string
		if n != nil {
			if n.Code != latchkey.NoticeInUseOtherBranch || n.Message == "" {
				t.Errorf("%s: %+v", tc.name, n)
			}
			for _, s := range n.Sessions {
				got = append(got, s.ID)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: notice names %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestIdleWarningDue(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	site := latchkey.Site{ForcedTimeoutMinutes: 10, WarningSeconds: 60}
	active := latchkey.Session{ID: "ses_a", Status: latchkey.SessionActive, LastActivityAt: t0}
	never := time.Time{}
	for _, tc := range []struct {
		name      string
		s         latchkey.Session
		site      latchkey.Site
		warnedFor time.Time
		at        time.Duration
		want      bool
	}{
		{"idle 8 minutes: not yet", active, site, never, 8 * time.Minute, false},
		{"idle 9 minutes: a minute left, warned", active, site, never, 9 * time.Minute, true},
		{"idle 9.5 minutes: still due", active, site, never, 9*time.Minute + 30*time.Second, true},
		{"warned already for this idle spell", active, site, t0, 9*time.Minute + 30*time.Second, false},
		{"warned for an earlier spell: warned again", active, site, t0.Add(-time.Hour), 9 * time.Minute, true},
		{"the timeout has come: it expires, no warning", active, site, never, 10 * time.Minute, false},
		{"no forced timeout", active, latchkey.Site{WarningSeconds: 60}, never, time.Hour, false},
		{"no warning time", active, latchkey.Site{ForcedTimeoutMinutes: 10}, never, 9*time.Minute + 59*time.Second, false},
		{"ended", latchkey.Session{Status: latchkey.SessionEnded, LastActivityAt: t0}, site, never, 9 * time.Minute, false},
		{"locked sessions time out too: warned", latchkey.Session{Status: latchkey.SessionActive, LastActivityAt: t0, LockedAt: &t0}, site, never, 9 * time.Minute, true},
	} {
		if got := latchkey.IdleWarningDue(tc.s, tc.site, tc.warnedFor, t0.Add(tc.at)); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	if at := latchkey.IdleWarnAt(active, site); !at.Equal(t0.Add(9 * time.Minute)) {
		t.Errorf("IdleWarnAt = %s", at)
	}
}

// Recorded activity is now, or the last activity already recorded when
// that is later (another node's estimate of the store's clock ran a
// little ahead): last activity never moves back. An unlock records it
// the same way.
func TestActivityAt(t *testing.T) {
	t.Parallel()
	last := time.Date(2026, 12, 4, 9, 0, 7, 42094000, time.UTC)
	for _, c := range []struct {
		name string
		now  time.Time
		want time.Time
	}{
		{name: "later: now", now: last.Add(time.Second), want: last.Add(time.Second)},
		{name: "a microsecond later: now", now: last.Add(time.Microsecond), want: last.Add(time.Microsecond)},
		{name: "the same instant", now: last, want: last},
		{name: "5 µs earlier (another node's clock): kept", now: last.Add(-5 * time.Microsecond), want: last},
		{name: "a second earlier: kept", now: last.Add(-time.Second), want: last},
	} {
		s := latchkey.Session{ID: "s", LastActivityAt: last}
		if got := latchkey.ActivityAt(s, c.now); !got.Equal(c.want) {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
	if got := latchkey.ActivityAt(latchkey.Session{}, last); !got.Equal(last) {
		t.Errorf("no activity before: %s, want now", got)
	}
	locked := latchkey.Session{ID: "s", PrincipalID: "alice", LastActivityAt: last, LockedAt: &last, Status: latchkey.SessionActive}
	o, err := latchkey.DecideUnlock(latchkey.UnlockInput{Session: locked, Identity: "alice", Principal: latchkey.Principal{ID: "alice"},
		Active: []latchkey.Session{locked}, Now: last.Add(-5 * time.Microsecond)})
	if err != nil || !o.Session.LastActivityAt.Equal(last) || o.Session.LockedAt != nil {
		t.Fatalf("an unlock stamped 5 µs before the last activity: %+v, %v", o.Session, err)
	}
}
