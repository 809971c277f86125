package latchkey

import "time"

// Booking caps and giving time back (issue 10, hole 5): a person cannot
// end someone else's session by booking the terminal and cancelling, nor
// hold a terminal hostage with bookings far ahead.

// Defaults of a site's booking caps.
const (
	DefaultMaxReservationsPerUser = 3
	DefaultMaxBookingDaysAhead    = 14
)

// CheckReservationCaps applies a site's booking caps to a new reservation
// starting at start, made by a caller who is staff or not, for a person
// who already holds held reservations at the site that have not ended:
// at most maxPerUser of them (0: no cap; conflict, details.reason
// too_many_reservations), and no start more than maxDaysAhead days after
// now (0: no cap; bad_request on start). Admins and delegates are exempt
// from both.
func CheckReservationCaps(staff bool, held int, start, now time.Time, maxPerUser, maxDaysAhead int) error {
	if staff {
		return nil
	}
	if maxDaysAhead > 0 {
		if latest := now.AddDate(0, 0, maxDaysAhead); start.After(latest) {
			return BadField("start", "a reservation may start at most %d days ahead (until %s)", maxDaysAhead, latest.UTC().Format(time.RFC3339)).
				With("max_booking_days_ahead", maxDaysAhead).With("latest", latest.UTC())
		}
	}
	if maxPerUser > 0 && held >= maxPerUser {
		return Errorf(ECONFLICT, "you already hold %d reservations at this site that have not ended; the site allows %d", held, maxPerUser).
			With("reason", "too_many_reservations").With("limit", maxPerUser).With("held", held)
	}
	return nil
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
