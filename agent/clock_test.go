package agent

import (
	"testing"
	"time"
)

func TestTrustedClock(t *testing.T) {
	fc := newFakeClock()
	c := NewTrustedClock(fc, ClockAnchor{}, time.Time{})
	if c.Anchored() || !c.Now().Equal(fc.Wall()) {
		t.Fatal("an unanchored clock does not read the wall clock")
	}
	server := fc.Real().Add(3 * time.Minute) // the PC's wall clock is 3 min slow
	c.SetAnchor(server)
	fc.Advance(time.Hour)
	if got := c.Now(); !got.Equal(server.Add(time.Hour)) {
		t.Fatalf("anchored clock reads %s, want %s", got, server.Add(time.Hour))
	}
	fc.SetWall(fc.Wall().Add(-5 * time.Hour)) // set back: no effect
	fc.SetWall(fc.Wall().Add(50 * time.Hour)) // set forward: no effect
	if got := c.Now(); !got.Equal(server.Add(time.Hour)) {
		t.Fatalf("a wall clock change moved the anchored clock to %s", got)
	}
	high := c.Now()
	// A reboot: the anchor no longer holds; the wall clock is read, but
	// never earlier than the high-water mark.
	anchor, mark := c.State()
	fc.Reboot(0)
	fc.SetWall(high.Add(-2 * time.Hour))
	c = NewTrustedClock(fc, anchor, mark)
	if c.Anchored() || !c.Now().Equal(high) {
		t.Fatalf("after a reboot with the wall clock set back the clock reads %s, want %s", c.Now(), high)
	}
	fc.SetWall(high.Add(time.Minute))
	if got := c.Now(); !got.Equal(high.Add(time.Minute)) {
		t.Fatalf("after a reboot the clock reads %s, want the wall clock %s", got, high.Add(time.Minute))
	}
	if _, same := c.Since(anchor.Boot, anchor.BootID); same {
		t.Fatal("a reading of another boot counts as this boot's")
	}
}

func TestSystemClock(t *testing.T) {
	var s SystemClock
	a := s.Boottime()
	b := s.Boottime()
	if a <= 0 || b < a {
		t.Fatalf("boottime %v then %v", a, b)
	}
	if id := s.BootID(); id == "" || id != s.BootID() {
		t.Fatalf("boot id %q: empty, or changes within a boot", id)
	}
}
