package agent

import (
	"testing"
	"time"

	"latchkey"
)

func TestForcedTimeoutWarning(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	site := latchkey.Site{ForcedTimeoutMinutes: 10, WarningSeconds: 60}
	for _, tc := range []struct {
		name    string
		site    latchkey.Site
		known   time.Time
		pending bool
		now     time.Duration // after t0
		want    int           // seconds left; -1: no warning
	}{
		{"before the warning's time", site, t0, false, 8*time.Minute + 59*time.Second, -1},
		{"at the warning's time: a minute left", site, t0, false, 9 * time.Minute, 60},
		{"half a second in: rounded up", site, t0, false, 9*time.Minute + 500*time.Millisecond, 60},
		{"ten seconds left", site, t0, false, 9*time.Minute + 50*time.Second, 10},
		{"the time is up: has expired", site, t0, false, 10 * time.Minute, 0},
		{"long after: still zero until the server says", site, t0, false, time.Hour, 0},
		{"activity waiting to be sent: none (it moves the timeout)", site, t0, true, 9*time.Minute + 30*time.Second, -1},
		{"no forced timeout at the site", latchkey.Site{WarningSeconds: 60}, t0, false, time.Hour, -1},
		{"no warning at the site", latchkey.Site{ForcedTimeoutMinutes: 10}, t0, false, 9*time.Minute + 30*time.Second, -1},
		{"no activity known", site, time.Time{}, false, time.Hour, -1},
	} {
		w := forcedTimeoutWarning(tc.site, tc.known, tc.pending, t0.Add(tc.now))
		switch {
		case tc.want < 0 && w != nil:
			t.Errorf("%s: %+v, want none", tc.name, w)
		case tc.want >= 0 && (w == nil || w.SecondsLeft != tc.want || w.Reason != ReasonForcedTimeout):
			t.Errorf("%s: %+v, want %d s left", tc.name, w, tc.want)
		}
	}
}

func TestSoonerWarning(t *testing.T) {
	a, b := &Warning{Reason: "quota", SecondsLeft: 50}, &Warning{Reason: ReasonForcedTimeout, SecondsLeft: 20}
	for _, tc := range []struct{ x, y, want *Warning }{
		{nil, nil, nil}, {a, nil, a}, {nil, b, b}, {a, b, b}, {b, a, b},
	} {
		if got := sooner(tc.x, tc.y); got != tc.want {
			t.Errorf("sooner(%v, %v) = %v, want %v", tc.x, tc.y, got, tc.want)
		}
	}
}

// EUM-CE-CL-90/100 through the gateway: an idle session is warned
// warning_seconds before the forced timeout (over the lock too); activity
// in the window is sent at once and takes the warning away; once the time
// is up the gateway asks the server, and a session the server expired
// ends here with its reason.
func TestGatewayForcedTimeout(t *testing.T) {
	fc, f, g, _, _ := aliceGateway(t)
	f.site(func(s *latchkey.Site) { s.ForcedTimeoutMinutes, s.WarningSeconds = 10, 60 })
	g.Sync(bg)
	id := mustStatus(t)(g.Login(bg, LoginRequest{Identity: "alice", Password: "pw-a"})).Session.ID

	fc.Advance(8 * time.Minute)
	g.Tick(bg)
	if st := g.Status(bg); st.Warning != nil {
		t.Fatalf("8 minutes idle: %+v", st.Warning)
	}
	fc.Advance(90 * time.Second)
	g.Tick(bg)
	if st := g.Status(bg); st.Warning == nil || st.Warning.Reason != ReasonForcedTimeout || st.Warning.SecondsLeft != 30 {
		t.Fatalf("9.5 minutes idle: %+v", st.Warning)
	}
	// The clerk types: the warning goes.
	mustStatus(t)(g.Touch(bg))
	if st := g.Status(bg); st.Warning != nil {
		t.Fatalf("after activity: %+v", st.Warning)
	}

	// Locked and left: warned over the lock screen, then expired.
	mustStatus(t)(g.Lock(bg, LockRequest{Reason: LockManual}))
	fc.Advance(9*time.Minute + 10*time.Second)
	g.Tick(bg)
	if st := g.Status(bg); st.Warning == nil || st.Warning.SecondsLeft != 50 || st.Session.LockedAt == nil {
		t.Fatalf("locked and idle: %+v", st)
	}
	fc.Advance(time.Minute)
	f.mu.Lock()
	ended := f.clock.Real()
	f.sessions[id].Status, f.sessions[id].EndedAt, f.sessions[id].EndReason = latchkey.SessionExpired, &ended, latchkey.EndForcedTimeout
	f.mu.Unlock()
	g.Tick(bg)
	st := g.Status(bg)
	if st.Session != nil || st.LastEnded == nil || st.LastEnded.Reason != latchkey.EndForcedTimeout {
		t.Fatalf("after the forced timeout: %+v", st)
	}
}

// Activity waiting to be sent (batched) when the warning's window opens is
// sent at once, so the person is not warned while working.
func TestGatewayForcedTimeoutSendsWaitingActivity(t *testing.T) {
	fc, f, g, _, _ := aliceGateway(t)
	f.site(func(s *latchkey.Site) { s.ForcedTimeoutMinutes, s.WarningSeconds = 1, 50 })
	g.Sync(bg)
	id := mustStatus(t)(g.Login(bg, LoginRequest{Identity: "alice", Password: "pw-a"})).Session.ID
	mustStatus(t)(g.Touch(bg)) // sent: the first
	fc.Advance(5 * time.Second)
	mustStatus(t)(g.Touch(bg)) // waits: batched for TouchEvery
	n := len(f.touchesOf(id))
	fc.Advance(6 * time.Second) // 11 s idle: the window (from 10 s) is open
	if st := g.Status(bg); st.Warning != nil {
		t.Fatalf("activity is waiting: no warning, got %+v", st.Warning)
	}
	g.Tick(bg)
	if got := len(f.touchesOf(id)); got != n+1 {
		t.Fatalf("touches after the window opened: %d, want %d (the waiting one sent at once)", got, n+1)
	}
	if st := g.Status(bg); st.Warning != nil {
		t.Fatalf("after the waiting activity was sent: %+v", st.Warning)
	}
}
