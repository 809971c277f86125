package latchkey_test

import (
	"strings"
	"testing"
	"time"

	"latchkey"
)

func TestOutageGrace(t *testing.T) {
	last := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name string
		last time.Time
		now  time.Time
		want time.Duration
	}{
		{name: "no beat yet", last: time.Time{}, now: last, want: 0},
		{name: "a beat a second later", last: last, now: last.Add(time.Second), want: 0},
		{name: "silent exactly dead-after", last: last, now: last.Add(3 * time.Second), want: 0},
		{name: "silent a minute: the minute back", last: last, now: last.Add(time.Minute), want: time.Minute},
	} {
		if got := latchkey.OutageGrace(c.last, c.now, latchkey.DefaultNodeDeadAfter); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

func TestNodeAlive(t *testing.T) {
	seen := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		after time.Duration
		want  bool
	}{
		{after: 0, want: true},
		{after: 2999 * time.Millisecond, want: true},
		{after: 3 * time.Second, want: false},
		{after: time.Hour, want: false},
		{after: -time.Second, want: true}, // a beat stamped a little ahead
	} {
		if got := latchkey.NodeAlive(seen, seen.Add(c.after), latchkey.DefaultNodeDeadAfter); got != c.want {
			t.Errorf("%s after the last beat: alive %v, want %v", c.after, got, c.want)
		}
	}
}

func TestNewNodeID(t *testing.T) {
	a, b := latchkey.NewNodeID(), latchkey.NewNodeID()
	if !strings.HasPrefix(a, "node_") || !strings.HasPrefix(b, "node_") || a == b {
		t.Fatalf("node IDs %q and %q: want two different node_... IDs", a, b)
	}
}
