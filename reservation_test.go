package latchkey_test

import (
	"testing"
	"time"

	"latchkey"
)

func TestCheckReservationCaps(t *testing.T) {
	now := st0
	for _, c := range []struct {
		name         string
		staff        bool
		held         int
		start        time.Time
		per, days    int
		code, detail string
	}{
		{name: "within both caps", staff: false, held: 2, start: now.Add(24 * time.Hour), per: 3, days: 14, code: "", detail: ""},
		{name: "the third of three", staff: false, held: 2, start: now.Add(time.Hour), per: 3, days: 14, code: "", detail: ""},
		{name: "a fourth: conflict", staff: false, held: 3, start: now.Add(time.Hour), per: 3, days: 14, code: latchkey.ECONFLICT, detail: "too_many_reservations"},
		{name: "exactly 14 days ahead", staff: false, held: 0, start: now.AddDate(0, 0, 14), per: 3, days: 14, code: "", detail: ""},
		{name: "a second beyond 14 days: bad_request", staff: false, held: 0, start: now.AddDate(0, 0, 14).Add(time.Second), per: 3, days: 14, code: latchkey.EBADREQUEST, detail: "start"},
		{name: "staff: no cap on count", staff: true, held: 50, start: now.Add(time.Hour), per: 3, days: 14, code: "", detail: ""},
		{name: "staff: no cap on days", staff: true, held: 0, start: now.AddDate(1, 0, 0), per: 3, days: 14, code: "", detail: ""},
		{name: "caps off (0)", staff: false, held: 50, start: now.AddDate(1, 0, 0), per: 0, days: 0, code: "", detail: ""},
	} {
		err := latchkey.CheckReservationCaps(c.staff, c.held, c.start, now, c.per, c.days)
		if got := latchkey.ErrorCode(err); got != c.code {
			t.Errorf("%s: %v, want code %q", c.name, err, c.code)
			continue
		}
		if err == nil {
			continue
		}
		var d map[string]any
		if e, ok := err.(*latchkey.Error); ok {
			d = e.Details
		}
		if d["reason"] != c.detail && d["field"] != c.detail {
			t.Errorf("%s: details %v, want %q", c.name, d, c.detail)
		}
	}
}

func TestSessionLimits(t *testing.T) {
	d := func(x time.Duration) *time.Duration { return &x }
	start, now := st0, st0.Add(30*time.Minute)
	mine := latchkey.Reservation{ID: "r-mine", Principal: "p_ann", Start: st0, Minutes: 120}
	theirs := latchkey.Reservation{ID: "r-bob", Principal: "p_bob", Start: now.Add(10 * time.Minute), Minutes: 60}
	later := latchkey.Reservation{ID: "r-later", Principal: "p_bob", Start: now.Add(5 * time.Hour), Minutes: 60}
	base := latchkey.SessionLimitInput{Principal: "p_ann", Role: latchkey.RoleUser, Start: start, Now: now, Warning: time.Minute}
	with := func(f func(*latchkey.SessionLimitInput)) latchkey.SessionLimitInput { x := base; f(&x); return x }
	for _, c := range []struct {
		name   string
		in     latchkey.SessionLimitInput
		ends   time.Time
		reason latchkey.LimitReason
	}{
		{"no limit", base, time.Time{}, ""},
		{"the maximum counts from the start", with(func(x *latchkey.SessionLimitInput) { x.MaxSession = time.Hour }), start.Add(time.Hour), "max_session"},
		{"the quota counts from now", with(func(x *latchkey.SessionLimitInput) { x.QuotaLeft = d(20 * time.Minute) }), now.Add(20 * time.Minute), "quota"},
		{"another's reservation cuts it", with(func(x *latchkey.SessionLimitInput) {
			x.MaxSession, x.Reservations = 2*time.Hour, []latchkey.Reservation{theirs}
		}), theirs.Start, "reservation"},
		{"that reservation gone: the time comes back", with(func(x *latchkey.SessionLimitInput) {
			x.MaxSession, x.Reservations = 2*time.Hour, []latchkey.Reservation{later}
		}), start.Add(2 * time.Hour), "max_session"},
		{"own reservation holding: its end", with(func(x *latchkey.SessionLimitInput) { x.Reservations = []latchkey.Reservation{mine, later} }), mine.End(), "reservation"},
		{"an admin is not cut by reservations", with(func(x *latchkey.SessionLimitInput) {
			x.Role, x.MaxSession, x.Reservations = latchkey.RoleAdmin, time.Hour, []latchkey.Reservation{theirs}
		}), time.Time{}, ""},
		{"a delegate is, but has no maximum", with(func(x *latchkey.SessionLimitInput) {
			x.Role, x.MaxSession, x.Reservations = latchkey.RoleDelegate, time.Minute, []latchkey.Reservation{theirs}
		}), theirs.Start, "reservation"},
	} {
		a := latchkey.SessionLimits(c.in)
		if !a.Ends.Equal(c.ends) || a.Reason != c.reason {
			t.Errorf("%s: ends %s (%s), want %s (%s)", c.name, a.Ends, a.Reason, c.ends, c.reason)
		}
		if !a.Ends.IsZero() && (a.WarnAt.Before(c.in.Now) || a.WarnAt.After(a.Ends)) {
			t.Errorf("%s: warning at %s, outside [now, end]", c.name, a.WarnAt)
		}
	}
	// The warning is never before now, even when the end is near.
	a := latchkey.SessionLimits(with(func(x *latchkey.SessionLimitInput) { x.QuotaLeft = d(10 * time.Second) }))
	if !a.WarnAt.Equal(now) {
		t.Fatalf("warning at %s, want now", a.WarnAt)
	}
}

func TestHoldingReservation(t *testing.T) {
	r := latchkey.Reservation{ID: "r1", Principal: "p_ann", Start: st0, Minutes: 60}
	grace := 10 * time.Minute
	for _, c := range []struct {
		name     string
		at       time.Time
		showedUp bool
		holds    bool
	}{
		{"before the start", st0.Add(-time.Second), false, false},
		{"at the start", st0, false, true},
		{"within the grace, not yet there", st0.Add(9 * time.Minute), false, true},
		{"no-show after the grace: released", st0.Add(10 * time.Minute), false, false},
		{"showed up: held to the end", st0.Add(59 * time.Minute), true, true},
		{"at the end", st0.Add(time.Hour), true, false},
	} {
		got := latchkey.HoldingReservation([]latchkey.Reservation{r}, c.at, grace, func(latchkey.Reservation) bool { return c.showedUp })
		if (got != nil) != c.holds {
			t.Errorf("%s: holding %v, want %v", c.name, got, c.holds)
		}
	}
	if n := latchkey.NextReservationStart([]latchkey.Reservation{r, {Start: st0.Add(2 * time.Hour)}}, st0.Add(time.Minute)); !n.Equal(st0.Add(2 * time.Hour)) {
		t.Fatalf("next start %s", n)
	}
}

func TestValidateReservation(t *testing.T) {
	other := latchkey.Reservation{ID: "r0", Start: st0.Add(time.Hour), Minutes: 60}
	for _, c := range []struct {
		name string
		r    latchkey.Reservation
		code string
	}{
		{"free slot", latchkey.Reservation{Start: st0, Minutes: 60}, ""},
		{"ends where the other starts", latchkey.Reservation{Start: st0.Add(30 * time.Minute), Minutes: 30}, ""},
		{"starts where the other ends", latchkey.Reservation{Start: st0.Add(2 * time.Hour), Minutes: 30}, ""},
		{"overlaps the start", latchkey.Reservation{Start: st0.Add(50 * time.Minute), Minutes: 20}, latchkey.ECONFLICT},
		{"inside", latchkey.Reservation{Start: st0.Add(70 * time.Minute), Minutes: 5}, latchkey.ECONFLICT},
		{"already running, ends later: allowed", latchkey.Reservation{Start: st0.Add(-10 * time.Minute), Minutes: 20}, ""},
		{"ended", latchkey.Reservation{Start: st0.Add(-time.Hour), Minutes: 60}, latchkey.EBADREQUEST},
		{"no minutes", latchkey.Reservation{Start: st0, Minutes: 0}, latchkey.EBADREQUEST},
		{"too long", latchkey.Reservation{Start: st0, Minutes: latchkey.MaxReservationMinutes + 1}, latchkey.EBADREQUEST},
		{"no start", latchkey.Reservation{Minutes: 5}, latchkey.EBADREQUEST},
	} {
		if err := latchkey.ValidateReservation(c.r, []latchkey.Reservation{other}, st0); latchkey.ErrorCode(err) != c.code {
			t.Errorf("%s: %v, want %q", c.name, err, c.code)
		}
	}
}

// A reservation holding the terminal lets in its own person and admins.
func TestCheckHolding(t *testing.T) {
	t.Parallel()
	r := &latchkey.Reservation{ID: "r1", Principal: "p-bob", Start: t0, Minutes: 30}
	for _, c := range []struct {
		name string
		h    *latchkey.Reservation
		p    latchkey.Principal
		code string
	}{
		{"none holds it", nil, latchkey.Principal{ID: "p-ann", Role: latchkey.RoleUser}, ""},
		{"its own person", r, latchkey.Principal{ID: "p-bob", Role: latchkey.RoleUser}, ""},
		{"an admin", r, latchkey.Principal{ID: "p-root", Role: latchkey.RoleAdmin}, ""},
		{"a delegate is not exempt", r, latchkey.Principal{ID: "p-del", Role: latchkey.RoleDelegate}, latchkey.ECONFLICT},
		{"another person", r, latchkey.Principal{ID: "p-ann", Role: latchkey.RoleUser}, latchkey.ECONFLICT},
	} {
		err := latchkey.CheckHolding(c.h, c.p)
		if latchkey.ErrorCode(err) != c.code {
			t.Errorf("%s: %v, want %q", c.name, err, c.code)
		}
		if err != nil && (detail(t, err, "reservation") != "r1" || detail(t, err, "until") != r.End().UTC()) {
			t.Errorf("%s: details %v", c.name, latchkey.ErrorDetails(err))
		}
	}
}
