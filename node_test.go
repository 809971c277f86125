package latchkey_test

import (
	"testing"
	"time"

	"latchkey"
)

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
