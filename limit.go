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

// SiteAllowance is the allowance (SessionLimits) of a session of p at
// site, started at start and judged now: the site's maximum session for
// users, the quota p has left (nil: none applies) and the terminal's
// reservations rs.
func SiteAllowance(p Principal, site Site, rs []Reservation, quotaLeft *time.Duration, start, now time.Time) Allowance {
	return SessionLimits(SessionLimitInput{Principal: p.ID, Role: p.Role, Start: start, Now: now,
		MaxSession: time.Duration(site.MaxSessionMinutes) * time.Minute, QuotaLeft: quotaLeft, Reservations: rs,
		Warning: time.Duration(site.WarningSeconds) * time.Second})
}

// MaxSessionFor is the site's maximum session for a person of role: it
// binds users only (0: none applies).
func MaxSessionFor(role Role, site Site) time.Duration {
	if role != RoleUser {
		return 0
	}
	return time.Duration(site.MaxSessionMinutes) * time.Minute
}

// OfflineAllowance is the allowance of a session that began offline at
// started and was judged ok on reconnect (now): the allowance of a session
// starting now, unless the site's maximum session, counted from when it
// began, ends it sooner; then that maximum alone, warned from its start.
func OfflineAllowance(p Principal, site Site, rs []Reservation, quotaLeft *time.Duration, started, now time.Time) Allowance {
	a := SiteAllowance(p, site, rs, quotaLeft, now, now)
	if max := MaxSessionFor(p.Role, site); max > 0 {
		if end := started.Add(max); a.Ends.IsZero() || end.Before(a.Ends) {
			a = SessionAllowance(started, max, nil, time.Time{}, time.Duration(site.WarningSeconds)*time.Second)
		}
	}
	return a
}

// WithLimit returns s with the allowance a as its limit (none when a has
// no end).
func (s Session) WithLimit(a Allowance) Session {
	if a.Ends.IsZero() {
		s.EndsAt, s.WarnAt, s.Limit = nil, nil, ""
		return s
	}
	ends, warn := a.Ends, a.WarnAt
	s.EndsAt, s.WarnAt, s.Limit = &ends, &warn, a.Reason
	return s
}
