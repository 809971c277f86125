package agent

import (
	"context"
	"slices"
	"testing"
	"time"

	"latchkey"
)

var bg = context.Background()

func mustStatus(t *testing.T) func(Status, error) Status {
	return func(st Status, err error) Status {
		t.Helper()
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return st
	}
}

func TestStandaloneEnterAndLeave(t *testing.T) {
	fc := newFakeClock()
	f := newFakeServer(t, fc)
	f.addPerson("alice", "pri_a", "pw-a", latchkey.RoleUser, true)
	g, _ := testGateway(t, f, t.TempDir())
	if err := g.Sync(bg); err != nil || g.Mode() != ModeOnline {
		t.Fatalf("first sync: %v, mode %s", err, g.Mode())
	}
	// A refusal is a real answer: the gateway stays online.
	if _, err := g.Login(bg, LoginRequest{Identity: "alice", Password: "wrong"}); codeOf(err) != latchkey.EINVALIDCREDENTIALS {
		t.Fatalf("wrong password online: %v", err)
	}
	if g.Mode() != ModeOnline {
		t.Fatal("a refusal put the gateway in standalone mode")
	}
	for _, how := range []string{"unreachable", "503"} {
		t.Run(how, func(t *testing.T) {
			if how == "503" {
				f.set503(true)
			} else {
				f.setDown(true)
			}
			if err := g.Sync(bg); err == nil {
				t.Fatal("sync with the server away succeeded")
			}
			st := g.Status(bg)
			if st.Mode != ModeStandalone || !st.ModeSince.Equal(fc.Real()) {
				t.Fatalf("status %+v, want standalone since %s", st, fc.Real())
			}
			f.set503(false)
			f.setDown(false)
			fc.Advance(time.Minute)
			if err := g.Sync(bg); err != nil || g.Mode() != ModeOnline {
				t.Fatalf("sync after return: %v, mode %s", err, g.Mode())
			}
			f.mu.Lock()
			last := f.statuses[len(f.statuses)-1]
			f.mu.Unlock()
			if last.Standalone || !last.Since.Equal(fc.Real()) {
				t.Fatalf("status report %+v", last)
			}
		})
	}
}

func TestUnreachablePollFeedsTheMode(t *testing.T) {
	fc := newFakeClock()
	f := newFakeServer(t, fc)
	g, _ := testGateway(t, f, t.TempDir())
	g.Sync(bg)
	g.ServerUnreachable(latchkey.Errorf(latchkey.EFORBIDDEN, "no"))
	if g.Mode() != ModeOnline {
		t.Fatal("a refused poll made the gateway standalone")
	}
	g.ServerUnreachable(latchkey.Errorf(latchkey.EUNAVAILABLE, "down"))
	if g.Mode() != ModeStandalone {
		t.Fatal("an unavailable poll did not make the gateway standalone")
	}
	g.ServerReachable()
	select {
	case <-g.kick:
	default:
		t.Fatal("a poll answered did not ask for a reconnect")
	}
}

func TestRunLeavesStandaloneByItself(t *testing.T) {
	fc := newFakeClock()
	f := newFakeServer(t, fc)
	f.setDown(true)
	g, _ := testGateway(t, f, t.TempDir()) // ticks every 1 s, probes every 5 s, refreshes every 1 min
	ctx, cancel := context.WithCancel(bg)
	done := make(chan error)
	go func() { done <- g.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitFor(t, "standalone", func() bool { return g.Mode() == ModeStandalone })
	f.setDown(false)
	// Run's ticks and intervals are the fake clock's: no time passes, no
	// probe.
	time.Sleep(50 * time.Millisecond)
	if g.Mode() != ModeStandalone {
		t.Fatal("the gateway probed the server before the fake clock let the probe interval pass")
	}
	drive(t, fc, "online", func() bool { return g.Mode() == ModeOnline })
	f.setDown(true)
	drive(t, fc, "standalone again", func() bool { return g.Mode() == ModeStandalone })
}

// drive lets time pass on fc, a second at a time, until cond holds (for
// up to 20 s of real time).
func drive(t *testing.T, fc *fakeClock, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		fc.Advance(time.Second)
		time.Sleep(2 * time.Millisecond)
	}
}

// waitFor polls cond for up to 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestOfflineLogonBySiteSetting(t *testing.T) {
	type try struct {
		identity, password string
		code               string // "" = let in
	}
	cases := []struct {
		name  string
		site  func(*latchkey.Site)
		tries []try
	}{
		{"standalone disallowed: only admins", func(s *latchkey.Site) { s.AllowStandalone = false }, []try{
			{"root", "pw-root", ""},
			{"root", "bad", latchkey.EINVALIDCREDENTIALS},
			{"alice", "pw-a", latchkey.EFORBIDDEN},
			{"nobody", "x", latchkey.EINVALIDCREDENTIALS},
		}},
		{"cached", func(s *latchkey.Site) { s.StandaloneAuth = latchkey.StandaloneAuthCached }, []try{
			{"alice", "pw-a", ""},
			{"alice", "bad", latchkey.EINVALIDCREDENTIALS},
			{"nobody", "x", latchkey.EINVALIDCREDENTIALS},
			{"bob", "pw-b", latchkey.EINVALIDCREDENTIALS}, // a person without a cached verifier
			{"root", "pw-root", ""},
		}},
		{"any", func(s *latchkey.Site) { s.StandaloneAuth = latchkey.StandaloneAuthAny }, []try{
			{"alice", "bad", ""},
			{"nobody", "x", ""},
			{"alice", "pw-a", ""},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fc := newFakeClock()
			f := newFakeServer(t, fc)
			f.addPerson("root", "pri_r", "pw-root", latchkey.RoleAdmin, true)
			f.addPerson("alice", "pri_a", "pw-a", latchkey.RoleUser, true)
			f.addPerson("bob", "pri_b", "pw-b", latchkey.RoleUser, false)
			f.site(tc.site)
			g, _ := testGateway(t, f, t.TempDir())
			g.Sync(bg)
			f.setDown(true)
			for _, tr := range tc.tries {
				st, err := g.Login(bg, LoginRequest{Identity: tr.identity, Password: tr.password})
				if codeOf(err) != tr.code {
					t.Fatalf("%s/%s: error %v, want code %q", tr.identity, tr.password, err, tr.code)
				}
				if err != nil {
					if off, _ := latchkey.ErrorDetails(err)["offline"].(bool); !off {
						t.Errorf("%s: refusal without details.offline: %v", tr.identity, err)
					}
					continue
				}
				if st.Mode != ModeStandalone || st.Session == nil || st.Session.Identity != tr.identity || !st.Session.Standalone {
					t.Fatalf("%s: status %+v", tr.identity, st)
				}
			}
		})
	}
}

func TestOfflineFailuresLockTheLoginAndPersist(t *testing.T) {
	fc, f, g, j, dir := aliceGateway(t)
	f.setDown(true)
	for i := range latchkey.MaxOfflineFailures {
		if _, err := g.Login(bg, LoginRequest{Identity: "alice", Password: "bad"}); codeOf(err) != latchkey.EINVALIDCREDENTIALS {
			t.Fatalf("attempt %d: %v", i+1, err)
		}
	}
	j.Close()
	g, _ = testGateway(t, f, dir) // the counters survive a restart
	_, err := g.Login(bg, LoginRequest{Identity: "alice", Password: "pw-a"})
	if codeOf(err) != latchkey.EACCOUNTLOCKED || latchkey.ErrorDetails(err)["until"] == nil {
		t.Fatalf("right password while locked out: %v", err)
	}
	fc.Advance(latchkey.OfflineLockout)
	mustStatus(t)(g.Login(bg, LoginRequest{Identity: "alice", Password: "pw-a"}))
}

func TestJournalUploadIsIdempotentAndContinuesOnline(t *testing.T) {
	fc, f, g, _, _ := aliceGateway(t)
	f.setDown(true)
	st := mustStatus(t)(g.Login(bg, LoginRequest{Identity: "alice", Password: "pw-a"}))
	id := st.Session.ID
	fc.Advance(10 * time.Minute)
	// The server records the upload but the answer is lost: the agent
	// stays standalone and sends the same entry again.
	f.setDown(false)
	f.mu.Lock()
	f.dropJournal = 1
	f.mu.Unlock()
	if err := g.Sync(bg); err == nil || g.Mode() != ModeStandalone {
		t.Fatalf("sync with a lost answer: %v, mode %s", err, g.Mode())
	}
	if err := g.Sync(bg); err != nil || g.Mode() != ModeOnline {
		t.Fatalf("sync: %v, mode %s", err, g.Mode())
	}
	ups := f.uploads(id)
	if len(ups) != 2 || ups[0].EndedAt != nil || !ups[0].Verified || !ups[0].Standalone || ups[0].Password != "" {
		t.Fatalf("uploads %+v", ups)
	}
	f.mu.Lock()
	n := len(f.sessions)
	f.mu.Unlock()
	if n != 1 {
		t.Fatalf("the server holds %d sessions, want 1", n)
	}
	st = g.Status(bg)
	if st.Session == nil || st.Session.ID != id || !st.Session.Known || st.PendingUploads != 0 {
		t.Fatalf("status after reconnect %+v", st)
	}
	// The session now goes through the server: a lock is the server's.
	mustStatus(t)(g.Lock(bg, LockRequest{Reason: LockManual}))
	if s := f.session(id); s.LockedAt == nil {
		t.Fatal("the server did not lock the continued session")
	}
	mustStatus(t)(g.Unlock(bg, UnlockRequest{Password: "pw-a"}))
	// Its end is uploaded again, with ended_at.
	fc.Advance(5 * time.Minute)
	st = mustStatus(t)(g.Logout(bg))
	if st.Session != nil || st.PendingUploads != 0 {
		t.Fatalf("status after logout %+v", st)
	}
	ups = f.uploads(id)
	last := ups[len(ups)-1]
	if last.EndedAt == nil || !last.EndedAt.Equal(fc.Real()) {
		t.Fatalf("last upload %+v, want ended at %s", last, fc.Real())
	}
	if s := f.session(id); s.Status != latchkey.SessionEnded {
		t.Fatalf("server session %+v", s)
	}
	// Nothing is sent again.
	before := len(f.uploads(id))
	g.Sync(bg)
	if len(f.uploads(id)) != before {
		t.Fatal("an acknowledged entry was uploaded again")
	}
}

func TestVerdicts(t *testing.T) {
	fc := newFakeClock()
	f := newFakeServer(t, fc)
	f.site(func(s *latchkey.Site) { s.StandaloneAuth = latchkey.StandaloneAuthAny; s.WarningSeconds = 90 })
	f.addPerson("alice", "pri_a", "pw-a", latchkey.RoleUser, false)
	g, _ := testGateway(t, f, t.TempDir())
	g.Sync(bg)

	t.Run("logoff: an identity the server does not accept", func(t *testing.T) {
		f.setDown(true)
		st := mustStatus(t)(g.Login(bg, LoginRequest{Identity: "mallory", Password: "guess"}))
		f.setDown(false)
		g.Sync(bg)
		if ups := f.uploads(st.Session.ID); len(ups) != 1 || ups[0].Password != "guess" || ups[0].Verified {
			t.Fatalf("uploads %+v: an unverified session goes with its password", ups)
		}
		after := g.Status(bg)
		if after.Session != nil || after.LastEnded == nil || after.LastEnded.Reason != "invalid_identity" {
			t.Fatalf("status %+v, want logged off", after)
		}
	})
	t.Run("ok: a right password checked by the server", func(t *testing.T) {
		f.setDown(true)
		st := mustStatus(t)(g.Login(bg, LoginRequest{Identity: "alice", Password: "pw-a"}))
		f.setDown(false)
		g.Sync(bg)
		if after := g.Status(bg); after.Session == nil || after.Session.ID != st.Session.ID || !after.Session.Known {
			t.Fatalf("status %+v", after)
		}
		mustStatus(t)(g.Logout(bg))
	})
	t.Run("warn_then_logoff", func(t *testing.T) {
		f.setDown(true)
		st := mustStatus(t)(g.Login(bg, LoginRequest{Identity: "alice", Password: "pw-a"}))
		f.mu.Lock()
		f.verdicts["alice"] = latchkey.JournalResult{Verdict: latchkey.VerdictWarnThenLogoff, Reason: latchkey.EQUOTAEXCEEDED, WarningSeconds: 45}
		f.mu.Unlock()
		f.setDown(false)
		g.Sync(bg)
		after := g.Status(bg)
		if after.Warning == nil || after.Warning.Reason != latchkey.EQUOTAEXCEEDED || after.Warning.SecondsLeft != 45 {
			t.Fatalf("status %+v, want the warning", after)
		}
		fc.Advance(44 * time.Second)
		g.Tick(bg)
		if g.Status(bg).Session == nil {
			t.Fatal("logged off before the warning ran out")
		}
		fc.Advance(time.Second)
		g.Tick(bg)
		if after := g.Status(bg); after.Session != nil {
			t.Fatalf("status %+v, want logged off", after)
		}
		f.mu.Lock()
		calls := f.endCalls
		f.mu.Unlock()
		if len(calls) == 0 || calls[len(calls)-1] != st.Session.ID {
			t.Fatalf("end calls %v, want the server told", calls)
		}
	})
}

func TestWallClockChangeDoesNotExtendASession(t *testing.T) {
	fc := newFakeClock()
	f := newFakeServer(t, fc)
	f.site(func(s *latchkey.Site) { s.MaxSessionMinutes = 30; s.WarningSeconds = 60 })
	f.addPerson("alice", "pri_a", "pw-a", latchkey.RoleUser, true)
	g, _ := testGateway(t, f, t.TempDir())
	g.Sync(bg)
	f.setDown(true)
	start := fc.Real()
	st := mustStatus(t)(g.Login(bg, LoginRequest{Identity: "alice", Password: "pw-a"}))
	if st.Session.Limit != string(latchkey.LimitMaxSession) || !st.Session.EndsAt.Equal(start.Add(30*time.Minute)) || *st.MinutesLeft != 30 {
		t.Fatalf("status %+v", st)
	}
	fc.SetWall(start.Add(-2 * time.Hour)) // the clock is set back
	fc.Advance(28 * time.Minute)
	if now := g.Clock().Now(); !now.Equal(start.Add(28 * time.Minute)) {
		t.Fatalf("trusted clock reads %s, want %s", now, start.Add(28*time.Minute))
	}
	g.Tick(bg)
	st = g.Status(bg)
	if st.Session == nil || st.Warning != nil || *st.MinutesLeft != 2 {
		t.Fatalf("at 28 min: %+v", st)
	}
	fc.Advance(time.Minute)
	st = g.Status(bg)
	if st.Warning == nil || st.Warning.Reason != string(latchkey.LimitMaxSession) || st.Warning.SecondsLeft != 60 {
		t.Fatalf("at 29 min: warning %+v", st.Warning)
	}
	fc.Advance(time.Minute)
	g.Tick(bg)
	st = g.Status(bg)
	if st.Session != nil || st.LastEnded == nil || st.LastEnded.Reason != string(latchkey.LimitMaxSession) ||
		!st.LastEnded.At.Equal(start.Add(30*time.Minute)) {
		t.Fatalf("at 30 min: %+v", st)
	}
}

func TestRestartKeepsTheOfflineSession(t *testing.T) {
	fc := newFakeClock()
	f := newFakeServer(t, fc)
	f.site(func(s *latchkey.Site) { s.MaxSessionMinutes = 60 })
	f.addPerson("alice", "pri_a", "pw-a", latchkey.RoleUser, true)
	dir := t.TempDir()
	g, j := testGateway(t, f, dir)
	g.Sync(bg)
	f.setDown(true)
	start := fc.Real()
	id := mustStatus(t)(g.Login(bg, LoginRequest{Identity: "alice", Password: "pw-a"})).Session.ID
	fc.Advance(20 * time.Minute)
	j.Close() // killed: nothing is cleaned up

	g, j = testGateway(t, f, dir)
	g.Sync(bg) // still offline
	st := g.Status(bg)
	if st.Mode != ModeStandalone || st.Session == nil || st.Session.ID != id || *st.MinutesLeft != 40 || st.PendingUploads != 1 {
		t.Fatalf("after restart: %+v", st)
	}
	fc.Advance(40 * time.Minute)
	g.Tick(bg)
	if st := g.Status(bg); st.Session != nil || st.PendingUploads != 1 {
		t.Fatalf("after the limit: %+v", st)
	}
	j.Close()
	g, _ = testGateway(t, f, dir)
	f.setDown(false)
	if err := g.Sync(bg); err != nil {
		t.Fatal(err)
	}
	ups := f.uploads(id)
	if len(ups) != 1 || ups[0].EndedAt == nil || !ups[0].EndedAt.Equal(start.Add(time.Hour)) {
		t.Fatalf("uploads %+v, want one entry ended at %s", ups, start.Add(time.Hour))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.sessions) != 1 || f.sessions[id].Status != latchkey.SessionEnded {
		t.Fatalf("server sessions %v", f.sessions)
	}
}

func TestRebootEndsTheSessionAtTheLastKnownTime(t *testing.T) {
	fc, f, g, j, dir := aliceGateway(t)
	f.setDown(true)
	id := mustStatus(t)(g.Login(bg, LoginRequest{Identity: "alice", Password: "pw-a"})).Session.ID
	fc.Advance(15 * time.Minute)
	g.Status(bg)
	g.saveClock(bg, true) // the last high-water mark the agent persisted
	lastSeen := fc.Real()
	j.Close()
	fc.Reboot(time.Hour)
	fc.SetWall(lastSeen.Add(-24 * time.Hour)) // and the wall clock is wrong
	g, _ = testGateway(t, f, dir)
	if st := g.Status(bg); st.Session != nil || st.PendingUploads != 1 {
		t.Fatalf("after reboot: %+v", st)
	}
	if now := g.Clock().Now(); now.Before(lastSeen) {
		t.Fatalf("after reboot the clock reads %s, before the high-water mark %s", now, lastSeen)
	}
	f.setDown(false)
	g.Sync(bg)
	if ups := f.uploads(id); len(ups) != 1 || !ups[0].EndedAt.Equal(lastSeen) {
		t.Fatalf("uploads %+v, want ended at %s", ups, lastSeen)
	}
}

func TestOfflineLockAndUnlock(t *testing.T) {
	fc := newFakeClock()
	f := newFakeServer(t, fc)
	f.site(func(s *latchkey.Site) { s.AllowStandalone = false })
	f.addPerson("alice", "pri_a", "pw-a", latchkey.RoleUser, true)
	g, _ := testGateway(t, f, t.TempDir())
	g.Sync(bg)
	id := mustStatus(t)(g.Login(bg, LoginRequest{Identity: "alice", Password: "pw-a"})).Session.ID
	f.setDown(true)
	fc.Advance(time.Minute)

	// A manual lock asks first.
	_, err := g.Lock(bg, LockRequest{Reason: LockManual})
	d := latchkey.ErrorDetails(err)
	if codeOf(err) != latchkey.ECONFLICT || d["offline"] != true || len(d["choices"].([]string)) != 3 {
		t.Fatalf("offline manual lock: %v %v", err, d)
	}
	if g.Mode() != ModeStandalone {
		t.Fatal("not standalone after the failed lock")
	}
	if _, err := g.Lock(bg, LockRequest{Choice: ChoiceRetry}); codeOf(err) != latchkey.ECONFLICT {
		t.Fatalf("retry with the server away: %v", err)
	}
	if st := mustStatus(t)(g.Lock(bg, LockRequest{Choice: ChoiceAbandon})); st.Session.LockedAt != nil {
		t.Fatal("abandon locked the terminal")
	}
	// The session in progress when contact was lost goes on, even though
	// standalone logon is disallowed.
	if st := g.Status(bg); st.Session == nil || st.Session.ID != id {
		t.Fatalf("the session did not continue: %+v", st)
	}
	// An inactivity lock locks locally without a word.
	fc.Advance(time.Minute)
	lockedAt := fc.Real()
	st := mustStatus(t)(g.Lock(bg, LockRequest{Reason: LockInactivity}))
	if st.Session.LockedAt == nil || !st.Session.LockedAt.Equal(lockedAt) || !st.Session.LockedOffline {
		t.Fatalf("inactivity lock: %+v", st.Session)
	}
	if s := f.session(id); s.LockedAt != nil {
		t.Fatal("the server counts an offline lock")
	}
	// Unlocking needs the server: the terminal stays locked.
	_, err = g.Unlock(bg, UnlockRequest{Password: "pw-a"})
	if codeOf(err) != latchkey.EUNAVAILABLE {
		t.Fatalf("offline unlock: %v", err)
	}
	if st := g.Status(bg); st.Session.LockedAt == nil {
		t.Fatal("a failed unlock unlocked")
	}
	// Back online the lock is reported at its own time, then unlock works.
	fc.Advance(time.Minute)
	f.setDown(false)
	if err := g.Sync(bg); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	locks := f.locks[id]
	f.mu.Unlock()
	if len(locks) != 1 || !locks[0].Equal(lockedAt) {
		t.Fatalf("lock reports %v, want one at %s", locks, lockedAt)
	}
	// And the deferred event 24, at the lock's own time, once however
	// often the report is sent.
	g.Sync(bg)
	f.mu.Lock()
	events := slices.Clone(f.events)
	f.mu.Unlock()
	if len(events) != 1 || events[0].Event != latchkey.EventPositionLocked || !events[0].OccurredAt.Equal(lockedAt) ||
		events[0].Identity != "alice" || events[0].ID == "" {
		t.Fatalf("deferred events %+v, want one 24 at %s", events, lockedAt)
	}
	if st := g.Status(bg); st.Session.LockedOffline {
		t.Fatal("still locked offline after the report")
	}
	if _, err := g.Unlock(bg, UnlockRequest{Password: "bad"}); codeOf(err) != latchkey.EINVALIDCREDENTIALS {
		t.Fatalf("wrong password: %v", err)
	}
	if st := mustStatus(t)(g.Unlock(bg, UnlockRequest{Password: "pw-a"})); st.Session.LockedAt != nil {
		t.Fatal("not unlocked")
	}
	if s := f.session(id); s.LockedAt != nil {
		t.Fatal("the server still holds the lock")
	}
}

func TestLockAnywayAndRetry(t *testing.T) {
	_, f, g, _, _ := aliceGateway(t)
	id := mustStatus(t)(g.Login(bg, LoginRequest{Identity: "alice", Password: "pw-a"})).Session.ID
	f.setDown(true)
	if _, err := g.Lock(bg, LockRequest{}); codeOf(err) != latchkey.ECONFLICT {
		t.Fatal(err)
	}
	// The server is back: retry locks through it.
	f.setDown(false)
	st := mustStatus(t)(g.Lock(bg, LockRequest{Choice: ChoiceRetry}))
	if st.Mode != ModeOnline || st.Session.LockedAt == nil || st.Session.LockedOffline || f.session(id).LockedAt == nil {
		t.Fatalf("retry: %+v", st)
	}
	mustStatus(t)(g.Unlock(bg, UnlockRequest{Password: "pw-a"}))
	f.setDown(true)
	st = mustStatus(t)(g.Lock(bg, LockRequest{Choice: ChoiceLockAnyway}))
	if st.Session.LockedAt == nil || !st.Session.LockedOffline {
		t.Fatalf("lock anyway: %+v", st.Session)
	}
}

func TestOnlineSessionEndedOfflineIsReported(t *testing.T) {
	fc, f, g, _, _ := aliceGateway(t)
	id := mustStatus(t)(g.Login(bg, LoginRequest{Identity: "alice", Password: "pw-a"})).Session.ID
	f.setDown(true)
	fc.Advance(7 * time.Minute)
	ended := fc.Real()
	if st := mustStatus(t)(g.Logout(bg)); st.Session != nil || st.PendingUploads != 1 {
		t.Fatalf("offline logout: %+v", st)
	}
	fc.Advance(time.Minute)
	f.setDown(false)
	g.Sync(bg)
	ups := f.uploads(id)
	if len(ups) != 1 || ups[0].Session != id || ups[0].Standalone || !ups[0].EndedAt.Equal(ended) {
		t.Fatalf("uploads %+v", ups)
	}
	if s := f.session(id); s.Status != latchkey.SessionEnded || !s.EndedAt.Equal(ended) {
		t.Fatalf("server session %+v", s)
	}
}

func TestOnlineLimitIsEnforcedLocally(t *testing.T) {
	fc, f, g, _, _ := aliceGateway(t)
	f.mu.Lock()
	f.sessionEnds = 20 * time.Minute // of online logons
	f.mu.Unlock()
	st := mustStatus(t)(g.Login(bg, LoginRequest{Identity: "alice", Password: "pw-a"}))
	if st.Session.Limit != string(latchkey.LimitMaxSession) || *st.MinutesLeft != 20 {
		t.Fatalf("status %+v", st)
	}
	f.setDown(true) // the limit holds offline too
	fc.Advance(19 * time.Minute)
	if st := g.Status(bg); st.Warning == nil || st.Warning.SecondsLeft != 60 {
		t.Fatalf("warning %+v", st.Warning)
	}
	fc.Advance(time.Minute)
	g.Tick(bg)
	if st := g.Status(bg); st.Session != nil || st.PendingUploads != 1 {
		t.Fatalf("after the limit: %+v", st)
	}
}

func TestReservationsComeDueOffline(t *testing.T) {
	fc := newFakeClock()
	f := newFakeServer(t, fc)
	f.site(func(s *latchkey.Site) { s.StandaloneAuth = latchkey.StandaloneAuthAny; s.WarningSeconds = 60 })
	f.addPerson("alice", "pri_a", "pw-a", latchkey.RoleUser, true)
	f.addPerson("bob", "pri_b", "pw-b", latchkey.RoleUser, true)
	start := fc.Real().Add(20 * time.Minute)
	f.policy.Reservations = []latchkey.Reservation{{ID: "res_1", Terminal: "ter_1", Principal: "pri_b", Start: start, Minutes: 30}}
	g, _ := testGateway(t, f, t.TempDir())
	g.Sync(bg)
	f.setDown(true)
	st := mustStatus(t)(g.Login(bg, LoginRequest{Identity: "alice", Password: "pw-a"}))
	if st.Session.Limit != string(latchkey.LimitReservation) || !st.Session.EndsAt.Equal(start) {
		t.Fatalf("immediate session before a reservation: %+v", st.Session)
	}
	fc.Advance(20 * time.Minute)
	g.Tick(bg)
	if g.Status(bg).Session != nil {
		t.Fatal("the immediate session was not cut short at the reservation")
	}
	_, err := g.Login(bg, LoginRequest{Identity: "alice", Password: "pw-a"})
	if codeOf(err) != latchkey.ECONFLICT || latchkey.ErrorDetails(err)["reservation"] != "res_1" {
		t.Fatalf("someone else during the reservation: %v", err)
	}
	st = mustStatus(t)(g.Login(bg, LoginRequest{Identity: "bob", Password: "pw-b"}))
	if st.Session.Identity != "bob" {
		t.Fatalf("the reservation's person: %+v", st)
	}
}

// At a limit reached online the agent leaves the log-off to the server
// when the server's own end is due within limitSkew (so it records the
// limit as the reason, not an ordinary log-out); a session the server has
// no such end for is logged out.
func TestOnlineLimitLeftToTheServer(t *testing.T) {
	for _, c := range []struct {
		name       string
		serverEnds time.Duration // the server's ends_at after the agent's; <0: none
		wantEnded  bool
	}{
		{"the server's end is due a moment later", 2 * time.Second, false},
		{"the server holds no limit", -1, true},
		{"the server's end is far later", time.Hour, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			fc, f, g, _, _ := aliceGateway(t)
			f.mu.Lock()
			f.sessionEnds = 20 * time.Minute // of online logons
			f.mu.Unlock()
			st := mustStatus(t)(g.Login(bg, LoginRequest{Identity: "alice", Password: "pw-a"}))
			id := st.Session.ID
			f.mu.Lock()
			srv := f.sessions[id]
			if c.serverEnds < 0 {
				srv.EndsAt = nil
			} else {
				at := srv.EndsAt.Add(c.serverEnds)
				srv.EndsAt = &at
			}
			f.mu.Unlock()
			fc.Advance(20 * time.Minute)
			g.Tick(bg)
			if g.Status(bg).Session != nil {
				t.Fatal("the session outlived its limit at the terminal")
			}
			if ended := f.session(id).Status == latchkey.SessionEnded; ended != c.wantEnded {
				t.Fatalf("logged out on the server: %v, want %v", ended, c.wantEnded)
			}
		})
	}
}

// A server that fails (500) on an upload loses no entry: the entries stay
// pending, the agent stays standalone, and the next sync uploads them.
func TestUploadSurvivesServerFaults(t *testing.T) {
	fc := newFakeClock()
	f := newFakeServer(t, fc)
	f.site(func(s *latchkey.Site) { s.StandaloneAuth = latchkey.StandaloneAuthAny })
	f.addPerson("alice", "pri_a", "pw-a", latchkey.RoleUser, true)
	g, _ := testGateway(t, f, t.TempDir())
	g.Sync(bg)
	f.setDown(true)
	g.Sync(bg)
	st := mustStatus(t)(g.Login(bg, LoginRequest{Identity: "alice", Password: "pw-a"}))
	id := st.Session.ID
	mustStatus(t)(g.Logout(bg))
	f.mu.Lock()
	f.failJournal = 3 // the batch, then the entry alone, then once more
	f.mu.Unlock()
	f.setDown(false)
	g.Sync(bg)
	if st := g.Status(bg); st.PendingUploads != 1 {
		t.Fatalf("after a failed upload: %d pending, want the entry kept", st.PendingUploads)
	}
	g.Sync(bg)
	g.Sync(bg)
	if st := g.Status(bg); st.PendingUploads != 0 || st.Mode != ModeOnline {
		t.Fatalf("after the server recovered: %+v", st)
	}
	if n := len(f.uploads(id)); n == 0 {
		t.Fatal("the entry never reached the server")
	}
}
