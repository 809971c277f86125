package latchkey_test

import (
	"testing"
	"time"

	"latchkey"
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
		{name: "no limits", max: 0, quota: nil, next: time.Time{}, ends: time.Time{}, reason: "", warnAt: time.Time{}},
		{name: "maximum session", max: 2 * time.Hour, quota: nil, next: time.Time{}, ends: st0.Add(2 * time.Hour), reason: latchkey.LimitMaxSession, warnAt: st0.Add(2*time.Hour - warn)},
		{name: "quota binds first", max: 2 * time.Hour, quota: d(30 * time.Minute), next: time.Time{}, ends: st0.Add(30 * time.Minute), reason: latchkey.LimitQuota, warnAt: st0.Add(29 * time.Minute)},
		{name: "a reservation binds first: cut short at its start", max: 2 * time.Hour, quota: d(time.Hour), next: st0.Add(20 * time.Minute), ends: st0.Add(20 * time.Minute), reason: latchkey.LimitReservation, warnAt: st0.Add(19 * time.Minute)},
		{name: "quota used up: ends at once, warned at once", max: 0, quota: d(-5 * time.Minute), next: time.Time{}, ends: st0, reason: latchkey.LimitQuota, warnAt: st0},
		{name: "shorter than the warning: warned at the start", max: 0, quota: d(30 * time.Second), next: time.Time{}, ends: st0.Add(30 * time.Second), reason: latchkey.LimitQuota, warnAt: st0},
	} {
		a := latchkey.SessionAllowance(st0, c.max, c.quota, c.next, warn)
		if !a.Ends.Equal(c.ends) || a.Reason != c.reason || !a.WarnAt.Equal(c.warnAt) {
			t.Errorf("%s: %+v; want ends %s (%s), warn at %s", c.name, a, c.ends, c.reason, c.warnAt)
		}
	}
}

// A session that began offline keeps the online allowance from now unless
// the site's maximum, counted from its start, ends it sooner.
func TestOfflineAllowance(t *testing.T) {
	t.Parallel()
	site := ccSite()
	site.MaxSessionMinutes, site.WarningSeconds = 60, 300
	admin := user(false)
	admin.Role = latchkey.RoleAdmin
	for _, c := range []struct {
		name    string
		who     latchkey.Principal
		started time.Time
		left    *time.Duration
		ends    time.Time
		warn    time.Time
		reason  latchkey.LimitReason
	}{
		{name: "the maximum from the offline start", who: user(false), started: t0.Add(-40 * time.Minute),
			ends: t0.Add(20 * time.Minute), warn: t0.Add(15 * time.Minute), reason: latchkey.LimitMaxSession},
		{name: "the quota ends it sooner", who: user(false), started: t0.Add(-40 * time.Minute), left: ptr(10 * time.Minute),
			ends: t0.Add(10 * time.Minute), warn: t0.Add(5 * time.Minute), reason: latchkey.LimitQuota},
		{name: "the maximum passed long ago: warned from its start", who: user(false), started: t0.Add(-2 * time.Hour),
			ends: t0.Add(-time.Hour), warn: t0.Add(-time.Hour - 5*time.Minute), reason: latchkey.LimitMaxSession},
		{name: "an admin: no limit", who: admin, started: t0.Add(-5 * time.Hour)},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			a := latchkey.OfflineAllowance(c.who, site, nil, c.left, c.started, t0)
			if !a.Ends.Equal(c.ends) || !a.WarnAt.Equal(c.warn) || a.Reason != c.reason {
				t.Fatalf("allowance %+v; want ends %s warn %s (%q)", a, c.ends, c.warn, c.reason)
			}
			s := latchkey.Session{}.WithLimit(a)
			if c.ends.IsZero() != (s.EndsAt == nil) || (s.EndsAt != nil && (!s.EndsAt.Equal(c.ends) || !s.WarnAt.Equal(c.warn) || s.Limit != c.reason)) {
				t.Fatalf("WithLimit: %+v", s)
			}
		})
	}
	if latchkey.MaxSessionFor(latchkey.RoleUser, site) != time.Hour || latchkey.MaxSessionFor(latchkey.RoleDelegate, site) != 0 {
		t.Fatal("MaxSessionFor: the maximum binds users only")
	}
}
