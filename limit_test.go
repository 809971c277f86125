package latchkey_test

import (
	"latchkey"
	"testing"
	"time"
)

func TestSessionAllowance(t *testing.T) {
	d := func(x time.Duration) *time.Duration { return &x }
	warn := time.Minute
	for _, c := range []struct {
		name   string
		max    time.Duration
		quota  *time.Duration
		next   time.Time
		ends   time.Time
		reason latchkey.LimitReason
		warnAt time.Time
	}{
		{"no limits", 0, nil, time.Time{}, time.Time{}, "", time.Time{}},
		{"maximum session", 2 * time.Hour, nil, time.Time{}, st0.Add(2 * time.Hour), latchkey.LimitMaxSession, st0.Add(2*time.Hour - warn)},
		{"quota binds first", 2 * time.Hour, d(30 * time.Minute), time.Time{}, st0.Add(30 * time.Minute), latchkey.LimitQuota, st0.Add(29 * time.Minute)},
		{"a reservation binds first: cut short at its start", 2 * time.Hour, d(time.Hour), st0.Add(20 * time.Minute), st0.Add(20 * time.Minute), latchkey.LimitReservation, st0.Add(19 * time.Minute)},
		{"quota used up: ends at once, warned at once", 0, d(-5 * time.Minute), time.Time{}, st0, latchkey.LimitQuota, st0},
		{"shorter than the warning: warned at the start", 0, d(30 * time.Second), time.Time{}, st0.Add(30 * time.Second), latchkey.LimitQuota, st0},
	} {
		a := latchkey.SessionAllowance(st0, c.max, c.quota, c.next, warn)
		if !a.Ends.Equal(c.ends) || a.Reason != c.reason || !a.WarnAt.Equal(c.warnAt) {
			t.Errorf("%s: %+v; want ends %s (%s), warn at %s", c.name, a, c.ends, c.reason, c.warnAt)
		}
	}
}
