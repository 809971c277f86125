package agent

import (
	"slices"
	"testing"
	"time"

	"latchkey"
)

func (f *fakeServer) eventList() []latchkey.TerminalEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.events)
}

// The deferred events 24 and 25 (2.1.1): every lock and unlock at the
// terminal is raised there with its own time and sent later, online by
// Tick or a sync; offline they wait in the journal, across a restart of
// the agent, and reach the server once it is back, once each.
func TestDeferredLockAndUnlockEvents(t *testing.T) {
	fc, f, g, j, dir := aliceGateway(t)
	mustStatus(t)(g.Login(bg, LoginRequest{Identity: "alice", Password: "pw-a"}))
	lockedAt := fc.Real()
	mustStatus(t)(g.Lock(bg, LockRequest{Reason: LockManual}))
	fc.Advance(time.Minute)
	unlockedAt := fc.Real()
	mustStatus(t)(g.Unlock(bg, UnlockRequest{Password: "pw-a"}))
	if n := len(f.eventList()); n != 0 {
		t.Fatalf("%d events sent at once: they are deferred", n)
	}
	fc.Advance(eventsEvery)
	g.Tick(bg)
	es := f.eventList()
	if len(es) != 2 || es[0].Event != latchkey.EventPositionLocked || !es[0].OccurredAt.Equal(lockedAt) ||
		es[1].Event != latchkey.EventPositionUnlocked || !es[1].OccurredAt.Equal(unlockedAt) || es[1].Identity != "alice" {
		t.Fatalf("events after a tick: %+v", es)
	}

	// Offline: a lock anyway, then the agent restarts before the server
	// is back.
	f.setDown(true)
	g.Sync(bg)
	fc.Advance(time.Minute)
	offlineAt := fc.Real()
	mustStatus(t)(g.Lock(bg, LockRequest{Reason: LockManual, Choice: ChoiceLockAnyway}))
	fc.Advance(eventsEvery)
	g.Tick(bg)
	j.Close()
	g, _ = testGateway(t, f, dir)
	f.setDown(false)
	if err := g.Sync(bg); err != nil {
		t.Fatal(err)
	}
	g.Sync(bg) // again: nothing twice
	es = f.eventList()
	if len(es) != 3 || es[2].Event != latchkey.EventPositionLocked || !es[2].OccurredAt.Equal(offlineAt) {
		t.Fatalf("events after the restart and the reconnect: %+v", es)
	}
	if n, err := g.j.queuedEvents(bg, 10); err != nil || len(n) != 0 {
		t.Fatalf("events still queued: %v, %v", n, err)
	}
}
