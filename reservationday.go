package latchkey

import (
	"context"
	"time"
)

// The reservations day view (issue 13, screen 6): a site's terminals with
// the reservations of one of the site's days, who booked them as the
// caller may see it, and the minutes each person used of the site's daily
// quota that day.

// MaxDayReservations bounds the reservations SiteReservations returns for
// one page of terminals.
const MaxDayReservations = 2000

// SiteBookings is a page of a site's terminals (by ID; ID, name and site
// only, without the agent's state) and their reservations that overlap a
// time range, by terminal and start. Next is the last terminal's ID when
// the site has more terminals; Truncated says that more than
// MaxDayReservations overlapped and only the first were returned.
type SiteBookings struct {
	Terminals    []Terminal
	Reservations []Reservation
	Next         string
	Truncated    bool
}

// QuotaUse is the minutes one person used at a site in a day: the parts of
// their sessions there that fall in the day (QuotaUsed), and how many of
// their reservations at the site overlap the day.
type QuotaUse struct {
	Principal    string
	Name         string
	Role         Role
	Used         time.Duration
	Reservations int
}

// QuotaUsage is the use of a site's daily quota in one of its days
// (midnight to midnight in the site's time zone): the site, the day's
// bounds, the store's now, and one entry per person (at most
// MaxQuotaUsers, most minutes first; More counts the others).
type QuotaUsage struct {
	Site     Site
	Day      string // YYYY-MM-DD in the site's time zone
	DayStart time.Time
	DayEnd   time.Time
	Today    string // the site's day at Now
	Now      time.Time
	Entries  []QuotaUse
	More     int
}

// MaxQuotaUsers bounds the people a site's day lists.
const MaxQuotaUsers = 100

// QuotaUsageQuery asks for a site's day (Day "": the site's today) and
// either one person (Principal) or, for staff, every person with sessions
// or reservations at the site that day (Principal "").
type QuotaUsageQuery struct {
	Site      string
	Day       string
	Principal string
}

// ReservationDayService serves the day view.
type ReservationDayService interface {
	// SiteReservations returns a page of the site's terminals and their
	// reservations that overlap [from, to) (CanListSiteReservations).
	SiteReservations(ctx context.Context, c Caller, site string, from, to time.Time, page Page) (*SiteBookings, error)
	// QuotaUsage is the minutes used of the site's daily quota in a day
	// (CanReadQuotaUsage), computed as the log-on rule computes them.
	QuotaUsage(ctx context.Context, c Caller, q QuotaUsageQuery) (*QuotaUsage, error)
	// PrincipalByLogin finds the person a login ID belongs to
	// (CanReadPrincipal on what it finds; not_found otherwise).
	PrincipalByLogin(ctx context.Context, c Caller, login string) (*Principal, error)
}

// CanListSiteReservations: any person, as for one terminal's
// reservations (CanListReservations); a terminal reads only its own.
func CanListSiteReservations(c Caller) error {
	return peopleOnly(c, "a terminal reads only its own reservations")
}

// CanReadQuotaUsage: a person their own use; staff anyone's, and
// everyone's at once (principal "").
func CanReadQuotaUsage(c Caller, principal string) error {
	if err := peopleOnly(c, "quota use is read by people"); err != nil {
		return err
	}
	if c.IsStaff() || (principal != "" && principal == c.PrincipalID) {
		return nil
	}
	return ErrNotYours("you may only read your own quota use")
}

// HolderShown is how a reservation's person is shown to a caller.
type HolderShown int

const (
	// ShownReserved: someone else's, shown as "reserved", without a name.
	ShownReserved HolderShown = iota
	// ShownYou: the caller's own.
	ShownYou
	// ShownName: someone else's, named (staff only).
	ShownName
)

// ShowHolder says how the caller sees who holds r: their own as "you";
// others' by name for staff, as "reserved" for everyone else. A person
// may cancel what is shown as theirs; staff may cancel any
// (CanCancelReservation).
func ShowHolder(c Caller, r Reservation) HolderShown {
	switch {
	case c.PrincipalID != "" && c.PrincipalID == r.Principal:
		return ShownYou
	case c.IsStaff():
		return ShownName
	}
	return ShownReserved
}

// LocalDay is the day named day (YYYY-MM-DD) in loc: its midnight and the
// next (23 or 25 hours apart on the days the clocks change).
func LocalDay(day string, loc *time.Location) (time.Time, time.Time, error) {
	t, err := time.ParseInLocation("2006-01-02", day, loc)
	if err != nil {
		return time.Time{}, time.Time{}, BadField("day", "day must be a date like 2026-12-04")
	}
	start, end := QuotaDay(t, loc)
	return start, end, nil
}
