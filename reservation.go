package latchkey

import (
	"context"
	"time"
)

// Reservations (API.md "Reservations and standalone mode",
// seeds/standalone-mode.txt): the rules as pure functions. The server runs
// them online; the agent runs them offline over the policy it cached.

// Reservation is a scheduled booking of a terminal for a person.
type Reservation struct {
	ID        string    `json:"id"`
	Terminal  string    `json:"terminal"`
	Principal string    `json:"principal"`
	Start     time.Time `json:"start"`
	Minutes   int       `json:"minutes"`
}

// End is when the reservation ends.
func (r Reservation) End() time.Time { return r.Start.Add(time.Duration(r.Minutes) * time.Minute) }

// HoldingReservation returns the reservation that holds the terminal at
// now, if any: one whose window (start ≤ now < end) is open, unless its
// person did not show up within grace of the start (showedUp reports
// whether the person logged on there since the start), which releases it.
func HoldingReservation(rs []Reservation, now time.Time, grace time.Duration, showedUp func(Reservation) bool) *Reservation {
	for i := range rs {
		r := rs[i]
		if now.Before(r.Start) || !now.Before(r.End()) {
			continue
		}
		if !now.Before(r.Start.Add(grace)) && !showedUp(r) {
			continue // a no-show: released
		}
		return &rs[i]
	}
	return nil
}

// NextReservationStart is the earliest start after now among rs (zero if
// none): an immediate session is cut short there.
func NextReservationStart(rs []Reservation, now time.Time) time.Time {
	var next time.Time
	for _, r := range rs {
		if r.Start.After(now) && (next.IsZero() || r.Start.Before(next)) {
			next = r.Start
		}
	}
	return next
}

// ValidateReservation checks a new reservation against the clock and the
// terminal's other reservations: 1 to 1440 minutes, not ending in the
// past, overlapping none (conflict).
func ValidateReservation(r Reservation, others []Reservation, now time.Time) error {
	if r.Minutes < 1 || r.Minutes > MaxReservationMinutes {
		return BadField("minutes", "minutes must be 1 to %d", MaxReservationMinutes)
	}
	if r.Start.IsZero() {
		return BadField("start", "start is required")
	}
	if !r.End().After(now) {
		return BadField("start", "the reservation would end in the past")
	}
	for _, o := range others {
		if r.Start.Before(o.End()) && o.Start.Before(r.End()) {
			return Errorf(ECONFLICT, "the terminal is reserved from %s to %s", o.Start.Format(time.RFC3339), o.End().Format(time.RFC3339)).
				With("reservation", o.ID)
		}
	}
	return nil
}

// ReservationService books terminals. A person books for themselves;
// admins and delegates for anyone.
type ReservationService interface {
	CreateReservation(ctx context.Context, c Caller, r Reservation) (*Reservation, error)
	// ListReservations lists a terminal's reservations that have not
	// ended, by start.
	ListReservations(ctx context.Context, c Caller, terminal string) ([]Reservation, error)
	DeleteReservation(ctx context.Context, c Caller, id string) error
}

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

// MaxReservationMinutes bounds one reservation.
const MaxReservationMinutes = 24 * 60

// DefaultReservationGrace is how long after its start a reservation waits
// for its person before it is released.
const DefaultReservationGrace = 10 * time.Minute

// CheckHolding refuses a logon of p at a terminal that the reservation h
// holds (HoldingReservation; nil: none), unless it is p's own or p is an
// admin: conflict, with the reservation and when it ends.
func CheckHolding(h *Reservation, p Principal) error {
	if h == nil || h.Principal == p.ID || p.Role == RoleAdmin {
		return nil
	}
	return Errorf(ECONFLICT, "the terminal is reserved until %s", h.End().UTC().Format("2006-01-02T15:04:05Z")).
		With("reservation", h.ID).With("until", h.End().UTC())
}
