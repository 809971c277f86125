package sqlstore

import (
	"testing"
	"time"
)

func TestClockOffset(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name          string
		before, after time.Duration
		server        time.Duration
		want          time.Duration
	}{
		{name: "same clock, server read half-way", before: 0, after: 10 * time.Millisecond, server: 5 * time.Millisecond, want: 0},
		{name: "server 100ms ahead", before: 0, after: 10 * time.Millisecond, server: 105 * time.Millisecond, want: 100 * time.Millisecond},
		{name: "server 2s behind", before: 0, after: 4 * time.Millisecond, server: -2*time.Second + 2*time.Millisecond, want: -2 * time.Second},
	} {
		if got := clockOffset(t0.Add(c.before), t0.Add(c.server), t0.Add(c.after)); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}
