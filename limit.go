package latchkey

import "time"

// Allowance is how long a session may run and why it ends then.
type Allowance struct {
	Ends   time.Time   // zero: no limit
	Reason LimitReason // the limit that binds, "" without one
	WarnAt time.Time   // the Time Critical Warning, warning before Ends (zero without a limit)
}

// LimitReason names the limit that ends a session.
type LimitReason string

// SessionAllowance computes when a session started at start must end: the
// earliest of the site's maximum session duration (0: none), the person's
// remaining quota for the day (nil: no quota), and the next reservation's
// start (zero: none). The warning comes warning before the end, but not
// before the start.
func SessionAllowance(start time.Time, maxSession time.Duration, quotaLeft *time.Duration, nextReservation time.Time, warning time.Duration) Allowance {
	var a Allowance
	limit := func(t time.Time, reason LimitReason) {
		if a.Ends.IsZero() || t.Before(a.Ends) {
			a.Ends, a.Reason = t, reason
		}
	}
	if maxSession > 0 {
		limit(start.Add(maxSession), LimitMaxSession)
	}
	if quotaLeft != nil {
		limit(start.Add(max(*quotaLeft, 0)), LimitQuota)
	}
	if !nextReservation.IsZero() {
		limit(nextReservation, LimitReservation)
	}
	if !a.Ends.IsZero() {
		a.WarnAt = a.Ends.Add(-warning)
		if a.WarnAt.Before(start) {
			a.WarnAt = start
		}
	}
	return a
}

// SessionLimitInput is what a live session's limits depend on: its person
// (principal and role), when it started, now, the site's maximum session
// (people with the user role are held to it), the person's quota left now
// (nil: none applies), the terminal's reservations (any that end after now
// may be among them) and the warning time.
type SessionLimitInput struct {
	Principal    string
	Role         Role
	Start, Now   time.Time
	MaxSession   time.Duration
	QuotaLeft    *time.Duration
	Reservations []Reservation
	Warning      time.Duration
}

// SessionLimits is when a live session must end, and why: the earliest of
// its start plus the site's maximum (users only), now plus the quota left,
// and, for anyone but an admin, the end of the person's own reservation
// that holds the terminal now or the start of the next reservation of
// someone else. The warning comes warning before the end, not before now.
// At logon (Start = Now) it is the logon's allowance; when a reservation
// goes away it gives back the time that reservation took.
func SessionLimits(in SessionLimitInput) Allowance {
	var a Allowance
	limit := func(t time.Time, reason LimitReason) {
		if a.Ends.IsZero() || t.Before(a.Ends) {
			a.Ends, a.Reason = t, reason
		}
	}
	if in.Role == RoleUser && in.MaxSession > 0 {
		limit(in.Start.Add(in.MaxSession), LimitMaxSession)
	}
	if in.QuotaLeft != nil {
		limit(in.Now.Add(max(*in.QuotaLeft, 0)), LimitQuota)
	}
	if in.Role != RoleAdmin {
		var until time.Time
		var others []Reservation
		for _, r := range in.Reservations {
			if r.Principal != in.Principal {
				others = append(others, r)
			} else if !in.Now.Before(r.Start) && in.Now.Before(r.End()) {
				until = r.End() // their own reservation holds the terminal
			}
		}
		if next := NextReservationStart(others, in.Now); !next.IsZero() && (until.IsZero() || next.Before(until)) {
			until = next
		}
		if !until.IsZero() {
			limit(until, LimitReservation)
		}
	}
	if !a.Ends.IsZero() {
		a.WarnAt = a.Ends.Add(-in.Warning)
		if a.WarnAt.Before(in.Now) {
			a.WarnAt = in.Now
		}
	}
	return a
}

// Session limit reasons.
const (
	LimitMaxSession  LimitReason = "max_session"
	LimitQuota       LimitReason = "quota"
	LimitReservation LimitReason = "reservation"
)
