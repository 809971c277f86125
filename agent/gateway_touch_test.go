package agent

import (
	"testing"
	"time"

	"latchkey"
)

func TestTouchDue(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	every := 30 * time.Second
	for _, tc := range []struct {
		name           string
		activity, sent time.Duration // after t0; -1: never
		now            time.Duration
		want           bool
	}{
		{"no activity", -1, -1, 0, false},
		{"the first activity: at once", 0, -1, 0, true},
		{"activity already sent", 10 * time.Second, 10 * time.Second, 20 * time.Second, false},
		{"newer activity, sent 10 s ago: waits", 15 * time.Second, 5 * time.Second, 15 * time.Second, false},
		{"newer activity, sent 30 s ago: due", 31 * time.Second, time.Second, 31 * time.Second, true},
		{"no newer activity, long after: nothing to send", 5 * time.Second, 5 * time.Second, time.Hour, false},
	} {
		at := func(d time.Duration) time.Time {
			if d < 0 {
				return time.Time{}
			}
			return t0.Add(d)
		}
		if got := touchDue(at(tc.activity), at(tc.sent), at(tc.now), every); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// Activity through the socket reaches the server batched: the first at
// once, then at most one per TouchEvery, the waiting one sent by Tick;
// none while the counter is locked (refused) or the server is away.
func TestTouchIsBatchedToTheServer(t *testing.T) {
	fc, f, g, _, _ := aliceGateway(t)
	id := mustStatus(t)(g.Login(bg, LoginRequest{Identity: "alice", Password: "pw-a"})).Session.ID
	for range 20 { // a clerk typing
		mustStatus(t)(g.Touch(bg))
	}
	if n := len(f.touchesOf(id)); n != 1 {
		t.Fatalf("%d touches sent for 20 reports at once, want 1", n)
	}
	fc.Advance(10 * time.Second)
	mustStatus(t)(g.Touch(bg))
	g.Tick(bg)
	if n := len(f.touchesOf(id)); n != 1 {
		t.Fatalf("%d touches 10 s later, want still 1", n)
	}
	fc.Advance(DefaultTouchEvery)
	g.Tick(bg) // the activity of 10 s was waiting: sent now
	if got := f.touchesOf(id); len(got) != 2 || !got[1].Equal(fc.Real()) {
		t.Fatalf("after the batching period: %v", got)
	}
	fc.Advance(time.Hour)
	g.Tick(bg) // nothing new: nothing sent
	if n := len(f.touchesOf(id)); n != 2 {
		t.Fatalf("%d touches without new activity, want 2", n)
	}

	mustStatus(t)(g.Lock(bg, LockRequest{Reason: LockManual}))
	if _, err := g.Touch(bg); codeOf(err) != latchkey.ECONFLICT {
		t.Fatalf("touch on a locked counter: %v", err)
	}
	mustStatus(t)(g.Unlock(bg, UnlockRequest{Password: "pw-a"}))

	f.setDown(true)
	fc.Advance(time.Hour)
	g.Sync(bg) // standalone now
	if st := mustStatus(t)(g.Touch(bg)); st.Mode != ModeStandalone {
		t.Fatalf("mode %s", st.Mode)
	}
	if n := len(f.touchesOf(id)); n != 2 {
		t.Fatalf("%d touches with the server away, want 2", n)
	}
}

// A touch the server refuses because it ended the session ends it here.
func TestTouchOfASessionTheServerEnded(t *testing.T) {
	_, f, g, _, _ := aliceGateway(t)
	id := mustStatus(t)(g.Login(bg, LoginRequest{Identity: "alice", Password: "pw-a"})).Session.ID
	f.mu.Lock()
	f.sessions[id].Status = latchkey.SessionFailed
	f.mu.Unlock()
	st := mustStatus(t)(g.Touch(bg))
	if st.Session != nil || st.LastEnded == nil || st.LastEnded.ID != id {
		t.Fatalf("after the server failed the session: %+v", st)
	}
}

func TestTouchWithoutASession(t *testing.T) {
	_, _, g, _, _ := aliceGateway(t)
	if _, err := g.Touch(bg); codeOf(err) != latchkey.ECONFLICT {
		t.Fatalf("touch with nobody logged on: %v", err)
	}
}
