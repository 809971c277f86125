package latchkey

import (
	"context"
	"time"
)

// Reservations, session allowances and standalone mode (API.md
// "Reservations and standalone mode", seeds/standalone-mode.txt): the
// rules as pure functions. The server runs them online; the agent runs
// them offline over the policy it cached.

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

// Allowance is how long a session may run and why it ends then.
type Allowance struct {
	Ends   time.Time   // zero: no limit
	Reason LimitReason // the limit that binds, "" without one
	WarnAt time.Time   // the Time Critical Warning, warning before Ends (zero without a limit)
}

// LimitReason names the limit that ends a session.
type LimitReason string

// Session limit reasons.
const (
	LimitMaxSession  LimitReason = "max_session"
	LimitQuota       LimitReason = "quota"
	LimitReservation LimitReason = "reservation"
)

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

// StandaloneAuth is a site's standalone logon setting: who a terminal
// lets log on while the server is unreachable.
type StandaloneAuth string

// Standalone logon settings of a site.
const (
	StandaloneAuthAny    StandaloneAuth = "any"
	StandaloneAuthCached StandaloneAuth = "cached"
)

// Valid reports whether a is one of the settings.
func (a StandaloneAuth) Valid() bool { return a == StandaloneAuthAny || a == StandaloneAuthCached }

// Offline failed-attempt limit: after MaxOfflineFailures wrong passwords
// in a row a cached login is refused for OfflineLockout.
const (
	MaxOfflineFailures = 5
	OfflineLockout     = 5 * time.Minute
)

// CachedVerifier is what the agent keeps for offline logon of one login:
// a slow, salted verifier made for the agent (never the server's own
// hash), its owner and role, when it stops being valid, and the offline
// failed-attempt count.
type CachedVerifier struct {
	Login       string    `json:"login"`
	Principal   string    `json:"principal"`
	Role        Role      `json:"role"`
	Verifier    string    `json:"verifier"`
	ExpiresAt   time.Time `json:"expires_at"`
	Failures    int       `json:"-"`
	LockedUntil time.Time `json:"-"`
}

// StandaloneLogonInput is an offline logon attempt with what the agent
// knows: the site's settings, the verifier cached for the login (nil if
// none), the reservation holding the terminal (nil if none).
type StandaloneLogonInput struct {
	AllowStandalone bool
	Auth            StandaloneAuth
	Login, Password string
	Verifier        *CachedVerifier
	Holding         *Reservation
}

// StandaloneLogonDecision is the agent's answer: allowed or not, why, and
// the verifier's updated failure state (nil when untouched).
type StandaloneLogonDecision struct {
	Allowed   bool
	Reason    string // when refused: not_allowed | invalid_credentials | account_locked | reserved
	Principal string // when known
	Verifier  *CachedVerifier
}

// DecideStandaloneLogon is the offline logon rule:
//   - allow_standalone false: only admins, checked against their cached
//     verifier;
//   - allow_standalone true, auth any: any login and password (the seed's
//     behaviour; a known risk);
//   - allow_standalone true, auth cached: the password must match an
//     unexpired cached verifier; unknown logins are refused.
//
// A cached login is refused for OfflineLockout after MaxOfflineFailures
// wrong passwords in a row. While a reservation holds the terminal only
// its person (or an admin) may log on; with auth any that person is
// recognised by the login of their cached verifier. verify checks a
// password against a verifier.
func DecideStandaloneLogon(in StandaloneLogonInput, verify func(verifier, password string) bool, now time.Time) StandaloneLogonDecision {
	v := in.Verifier
	if v != nil && !now.Before(v.ExpiresAt) {
		v = nil // an expired verifier is no verifier
	}
	mustVerify := !in.AllowStandalone || in.Auth != StandaloneAuthAny
	d := StandaloneLogonDecision{}
	if v != nil {
		d.Principal = v.Principal
	}
	if mustVerify {
		if v == nil {
			return StandaloneLogonDecision{Reason: EINVALIDCREDENTIALS}
		}
		if now.Before(v.LockedUntil) {
			return StandaloneLogonDecision{Reason: EACCOUNTLOCKED, Principal: v.Principal}
		}
		nv := *v
		if !verify(v.Verifier, in.Password) {
			nv.Failures++
			if nv.Failures >= MaxOfflineFailures {
				nv.Failures, nv.LockedUntil = 0, now.Add(OfflineLockout)
			}
			return StandaloneLogonDecision{Reason: EINVALIDCREDENTIALS, Principal: v.Principal, Verifier: &nv}
		}
		nv.Failures, nv.LockedUntil = 0, time.Time{}
		d.Verifier = &nv
		if !in.AllowStandalone && v.Role != RoleAdmin {
			return StandaloneLogonDecision{Reason: "not_allowed", Principal: v.Principal, Verifier: &nv}
		}
	}
	if h := in.Holding; h != nil && !(v != nil && (v.Role == RoleAdmin || v.Principal == h.Principal)) {
		return StandaloneLogonDecision{Reason: "reserved", Principal: d.Principal, Verifier: d.Verifier}
	}
	d.Allowed = true
	return d
}

// JournalVerdict is the server's verdict on one offline session of a
// terminal's journal (POST /v1/agent/journal).
type JournalVerdict string

// Journal verdicts.
const (
	VerdictOK             JournalVerdict = "ok"
	VerdictLogoff         JournalVerdict = "logoff"
	VerdictWarnThenLogoff JournalVerdict = "warn_then_logoff"
)

// JournalEntryCheck is what the server knows on reconnect of one offline
// session: whether it has ended, whether its identity is valid now (it
// exists, its password was right when checked, its principal is enabled),
// whether another person's reservation holds the terminal now, whether the
// principal has another unlocked session elsewhere (rule 5), whether the
// site's maximum session duration has passed, and the person's remaining
// quota for the day with this session counted (nil: no quota).
type JournalEntryCheck struct {
	Ended         bool
	IdentityValid bool
	// IdentityReason is the reason of a logoff for an identity that is not
	// valid (CheckJournalIdentity's); empty means JournalInvalidIdentity.
	IdentityReason string
	Reserved       bool
	Concurrent     bool
	OverMax        bool
	QuotaLeft      *time.Duration
}

// DecideJournalEntry is the reconnect verdict of an offline session: an
// ended one is ok (nothing is left to log off; its minutes count towards
// the quota, and a clash with a reservation is reported, not undone). A
// running one is logged off at once when its identity is not valid or
// when the person is unlocked elsewhere (one unlocked session per person);
// it gets the Time Critical Warning, then is logged off, when another
// person's reservation holds the terminal (the reservation wins: it was
// booked on the server), when the maximum duration has passed, or when
// the person is over quota.
func DecideJournalEntry(e JournalEntryCheck) (verdict JournalVerdict, reason string) {
	switch {
	case e.Ended:
		return VerdictOK, ""
	case !e.IdentityValid:
		if e.IdentityReason != "" {
			return VerdictLogoff, e.IdentityReason
		}
		return VerdictLogoff, JournalInvalidIdentity
	case e.Concurrent:
		return VerdictLogoff, ECONCURRENTSESSION
	case e.Reserved:
		return VerdictWarnThenLogoff, string(LimitReservation)
	case e.OverMax:
		return VerdictWarnThenLogoff, string(LimitMaxSession)
	case e.QuotaLeft != nil && *e.QuotaLeft <= 0:
		return VerdictWarnThenLogoff, EQUOTAEXCEEDED
	}
	return VerdictOK, ""
}

// QuotaUsed sums the minutes of sessions inside the day [dayStart,
// dayEnd): each session counts only the part that falls in the day; a
// running one (zero end) counts up to now.
func QuotaUsed(sessions [][2]time.Time, dayStart, dayEnd, now time.Time) time.Duration {
	var used time.Duration
	for _, s := range sessions {
		from, to := s[0], s[1]
		if to.IsZero() {
			to = now
		}
		from, to = maxTime(from, dayStart), minTime(to, dayEnd)
		if to.After(from) {
			used += to.Sub(from)
		}
	}
	return used
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// QuotaDay is the day (in loc) that contains t: midnight to midnight.
func QuotaDay(t time.Time, loc *time.Location) (time.Time, time.Time) {
	lt := t.In(loc)
	start := time.Date(lt.Year(), lt.Month(), lt.Day(), 0, 0, 0, 0, loc)
	return start, start.AddDate(0, 0, 1)
}

// MaxReservationMinutes bounds one reservation.
const MaxReservationMinutes = 24 * 60

// DefaultReservationGrace is how long after its start a reservation waits
// for its person before it is released.
const DefaultReservationGrace = 10 * time.Minute

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
