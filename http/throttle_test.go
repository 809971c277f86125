package http_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	lkhttp "latchkey/http"
)

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func at(offsets ...time.Duration) []time.Time {
	out := make([]time.Time, len(offsets))
	for i, d := range offsets {
		out[i] = t0.Add(d)
	}
	return out
}

func TestWindowAdmit(t *testing.T) {
	t.Parallel()
	w := lkhttp.Window{Limit: 3, Per: time.Minute}
	s := time.Second
	tests := []struct {
		name     string
		rule     lkhttp.Window
		failures []time.Time
		inflight int
		now      time.Duration
		wantOK   bool
		wantWait time.Duration
	}{
		{name: "nothing yet", rule: w, failures: nil, inflight: 0, now: 0, wantOK: true, wantWait: 0},
		{name: "below the limit", rule: w, failures: at(0, s), inflight: 0, now: 2 * s, wantOK: true, wantWait: 0},
		{name: "at the limit", rule: w, failures: at(0, s, 2*s), inflight: 0, now: 3 * s, wantOK: false, wantWait: 57 * s},
		{name: "the oldest leaves the window", rule: w, failures: at(0, s, 2*s), inflight: 0, now: time.Minute, wantOK: true, wantWait: 0},
		{name: "just before it leaves", rule: w, failures: at(0, s, 2*s), inflight: 0, now: time.Minute - time.Millisecond, wantOK: false, wantWait: s},
		{name: "wait rounds up", rule: w, failures: at(0, s, 2*s), inflight: 0, now: 30*s + time.Millisecond, wantOK: false, wantWait: 30 * s},
		{name: "old failures do not count", rule: w, failures: at(0, s, 2*s, 70*s), inflight: 0, now: 70 * s, wantOK: true, wantWait: 0},
		{name: "in flight does not count as failures", rule: w, failures: at(0, s), inflight: 50, now: 2 * s, wantOK: true, wantWait: 0},
		{name: "in flight cap", rule: lkhttp.Window{Limit: 3, Per: time.Minute, InFlight: 4}, failures: at(0), inflight: 4, now: s, wantOK: false, wantWait: s},
		{name: "below the in flight cap", rule: lkhttp.Window{Limit: 3, Per: time.Minute, InFlight: 4}, failures: at(0), inflight: 3, now: s, wantOK: true, wantWait: 0},
		{name: "default in flight cap", rule: w, failures: nil, inflight: lkhttp.DefaultInFlight, now: 0, wantOK: false, wantWait: s},
		{name: "failures win over in flight", rule: lkhttp.Window{Limit: 3, Per: time.Minute, InFlight: 1}, failures: at(0, s, 2*s), inflight: 1, now: 3 * s, wantOK: false, wantWait: 57 * s},
		{name: "off", rule: lkhttp.NoThrottle, failures: at(0, 0, 0, 0), inflight: 9, now: 0, wantOK: true, wantWait: 0},
		{name: "limit one", rule: lkhttp.Window{Limit: 1, Per: 10 * s}, failures: at(0), inflight: 0, now: 5 * s, wantOK: false, wantWait: 5 * s},
	}
	for _, tt := range tests {
		wait, ok := tt.rule.Admit(tt.failures, tt.inflight, t0.Add(tt.now))
		if ok != tt.wantOK || wait != tt.wantWait {
			t.Errorf("%s: admit = %v, %v; want %v, %v", tt.name, wait, ok, tt.wantWait, tt.wantOK)
		}
	}
}

func TestWindowRecord(t *testing.T) {
	t.Parallel()
	w := lkhttp.Window{Limit: 3, Per: time.Minute}
	s := time.Second
	tests := []struct {
		name     string
		failures []time.Time
		now      time.Duration
		want     []time.Time
	}{
		{"first", nil, 0, at(0)},
		{"appends", at(0, s), 2 * s, at(0, s, 2*s)},
		{"drops what left the window", at(0, s), 60 * s, at(s, 60*s)},
		{"keeps at most Limit", at(0, s, 2*s), 3 * s, at(s, 2*s, 3*s)},
		{"all old", at(0, s, 2*s), 10 * time.Minute, at(10 * time.Minute)},
	}
	for _, tt := range tests {
		got := w.Record(tt.failures, t0.Add(tt.now))
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s: record = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestParseWindow(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]lkhttp.Window{
		"10/1m":  {Limit: 10, Per: time.Minute},
		"20/15m": {Limit: 20, Per: 15 * time.Minute},
		"off":    lkhttp.NoThrottle,
	} {
		got, err := lkhttp.ParseWindow(in)
		if err != nil || got != want {
			t.Errorf("ParseWindow(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "10", "0/1m", "-1/1m", "x/1m", "10/0s", "10/500ms", "10/48h", "10/x", "Off"} {
		if _, err := lkhttp.ParseWindow(bad); err == nil {
			t.Errorf("ParseWindow(%q) accepted", bad)
		}
	}
	if s := lkhttp.DefaultAddressWindow.String(); s != "10/1m0s" {
		t.Errorf("String = %q", s)
	}
}

// fakeClock is an injected clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestThrottleKeys(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{now: t0}
	th := lkhttp.NewThrottle(lkhttp.Window{Limit: 2, Per: time.Minute}, clk.Now, 0)
	fail := func(key string) {
		t.Helper()
		if _, ok := th.Begin(key); !ok {
			t.Fatalf("%s refused", key)
		}
		th.End(key, true)
	}
	fail("a")
	fail("a")
	if wait, ok := th.Begin("a"); ok || wait != time.Minute {
		t.Fatalf("third of a: %v, %v; want refused for 1m", wait, ok)
	}
	if _, ok := th.Begin("b"); !ok { // another key is not affected
		t.Fatal("b refused")
	}
	th.End("b", false) // a success is not counted, and b is forgotten
	if n := th.Size(); n != 1 {
		t.Errorf("size %d, want 1 (only a)", n)
	}
	clk.Add(time.Minute)
	if _, ok := th.Begin("a"); !ok {
		t.Fatal("a still refused after the window")
	}
	th.End("a", false)
}

// TestThrottleInFlight: concurrent checks of one key are admitted up to
// the in-flight cap, however many arrive before any ends; they count as
// failures only when they fail.
func TestThrottleInFlight(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{now: t0}
	th := lkhttp.NewThrottle(lkhttp.Window{Limit: 5, Per: time.Minute, InFlight: 3}, clk.Now, 0)
	var admitted int
	for i := 0; i < 50; i++ {
		if _, ok := th.Begin("x"); ok {
			admitted++
		}
	}
	if admitted != 3 {
		t.Fatalf("%d admitted at once, want 3", admitted)
	}
	for i := 0; i < 3; i++ {
		th.End("x", true)
	}
	for i := 0; i < 2; i++ { // 3 failures of 5: two more may run
		if _, ok := th.Begin("x"); !ok {
			t.Fatalf("check %d refused after 3 failures", i+4)
		}
		th.End("x", true)
	}
	if _, ok := th.Begin("x"); ok {
		t.Fatal("admitted after 5 failures")
	}
}

// TestThrottleBounded: a flood of distinct keys never makes the throttle
// remember more than its bound.
func TestThrottleBounded(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{now: t0}
	th := lkhttp.NewThrottle(lkhttp.Window{Limit: 3, Per: time.Minute}, clk.Now, 100)
	for i := 0; i < 1000; i++ {
		key := fmt.Sprint("k", i)
		if _, ok := th.Begin(key); !ok {
			t.Fatalf("%s refused", key)
		}
		th.End(key, true)
		if n := th.Size(); n > 100 {
			t.Fatalf("%d keys remembered, bound 100", n)
		}
	}
	clk.Add(2 * time.Minute)
	th.Begin("late")
	th.End("late", true)
	if n := th.Size(); n != 1 {
		t.Errorf("%d keys after the window, want only the late one", n)
	}
}
