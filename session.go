package latchkey

import (
	"context"
	"slices"
	"strconv"
	"time"
)

// SessionStatus is the life-cycle state of a terminal session.
type SessionStatus string

const (
	SessionActive  SessionStatus = "active"
	SessionFailed  SessionStatus = "failed"
	SessionEnded   SessionStatus = "ended"
	SessionExpired SessionStatus = "expired"
)

// Reasons a session left the ACTIVE state (Session.EndReason).
const (
	EndLogout          = "logout"
	EndTerminalCleanup = "terminal_cleanup" // a new login on the same terminal
	EndForced          = "forced"           // forced off by a login or unlock elsewhere
	EndForcedTimeout   = "forced_timeout"   // idle past the site's forced timeout
)

// Session is one person's logon at one terminal.
type Session struct {
	ID             string        `json:"id"`
	PrincipalID    string        `json:"principal"`
	Identity       string        `json:"identity"`
	TerminalID     string        `json:"terminal"`
	Status         SessionStatus `json:"status"`
	StartedAt      time.Time     `json:"started_at"`
	LockedAt       *time.Time    `json:"locked_at"`
	EndedAt        *time.Time    `json:"ended_at"`
	Standalone     bool          `json:"standalone"`
	LastActivityAt time.Time     `json:"last_activity_at"`
	EndReason      string        `json:"end_reason,omitempty"`
	// EndsAt is when the session is logged off by its limit (the site's
	// maximum duration, the person's quota, or the next reservation's
	// start; Limit says which), and WarnAt when the Time Critical Warning
	// is given before it. Both are null without a limit.
	EndsAt *time.Time  `json:"ends_at"`
	WarnAt *time.Time  `json:"warn_at"`
	Limit  LimitReason `json:"limit,omitempty"`
	// Unverified marks a session from a journal upload whose person the
	// server could not establish: it is listed, but not charged to the
	// person's quota (docs/standalone.md).
	Unverified bool `json:"unverified,omitempty"`
	// SiteID is the site of its terminal, for the rules (a session at
	// another branch: EUM-CE-CL-20); not part of the API's object.
	SiteID string `json:"-"`
	// TerminalName is its terminal's name, for the words of a refusal
	// (SessionRef); not part of the API's object.
	TerminalName string `json:"-"`
	// Exempt is true for sessions of a global principal: they are outside
	// the one-unlocked-session rule.
	Exempt bool `json:"-"`
}

// Unlocked reports whether s is ACTIVE and not locked.
func (s Session) Unlocked() bool { return s.Status == SessionActive && s.LockedAt == nil }

// SessionRef is how a conflicting session is listed in error details.
type SessionRef struct {
	ID         string `json:"id"`
	TerminalID string `json:"terminal"`
	// TerminalName is the terminal's name, so that a counter or a logon
	// screen can say where the other session is (an extension of API.md).
	TerminalName string     `json:"terminal_name,omitempty"`
	Identity     string     `json:"identity"`
	StartedAt    time.Time  `json:"started_at"`
	LockedAt     *time.Time `json:"locked_at"`
}

func refs(ss []Session) []SessionRef {
	out := make([]SessionRef, len(ss))
	for i, s := range ss {
		out[i] = SessionRef{ID: s.ID, TerminalID: s.TerminalID, TerminalName: s.TerminalName, Identity: s.Identity, StartedAt: s.StartedAt, LockedAt: s.LockedAt}
	}
	return out
}

// FailedSession is a session a decision turns FAILED, and why.
type FailedSession struct {
	Session Session
	Reason  string // EndTerminalCleanup or EndForced
}

// LoginInput is everything the login rule looks at, loaded in the same
// transaction that will apply its decision. Credentials (rule 1, with its
// failed-attempt accounting) are checked before.
type LoginInput struct {
	Principal Principal
	Identity  string // the login ID used
	Terminal  string // the terminal logged on at
	Site      Site   // that terminal's site
	Force     bool
	Now       time.Time
	// Active holds every ACTIVE session of the principal, with idle
	// timeouts already applied.
	Active []Session
	// OnTerminal is the ACTIVE session on the terminal, whoever's, or nil.
	OnTerminal *Session
	// QuotaLeft is what the principal has left of the site's daily quota
	// (nil: no quota applies), QuotaReset when it starts again.
	QuotaLeft  *time.Duration
	QuotaReset time.Time
	// Reservations are the terminal's reservations that have not ended;
	// Holding is the one that holds the terminal now (HoldingReservation),
	// or nil.
	Reservations []Reservation
	Holding      *Reservation
}

// Reasons of a refused logon, in its audit record (besides the
// credentials check's own).
const (
	RefusedQuota    = "quota"
	RefusedReserved = "reserved"
)

// LoginOutcome is what DecideLogin decides: the new session (without an
// ID: the shell gives it one) with its limit, and the sessions to fail in
// the same step. Refused says why a refusal was made, for the audit
// (RefusedQuota, RefusedReserved, or "" for the session rules).
type LoginOutcome struct {
	Session Session
	Fail    []FailedSession
	Refused string
}

// DecideLogin decides a logon whose credentials were accepted, in this
// order: the daily quota (quota_exceeded), a reservation holding the
// terminal (conflict), then rules 2-5 of API.md "Terminal sessions": one
// identity for all of a principal's sessions (identity_in_use), no second
// unlocked session (concurrent_session, or with force those are failed),
// and the terminal's own previous session cleaned up. The new session
// gets the limit of SiteAllowance. It is pure: the caller applies the
// outcome.
func DecideLogin(in LoginInput) (LoginOutcome, error) {
	p := in.Principal
	if in.QuotaLeft != nil && *in.QuotaLeft <= 0 {
		return LoginOutcome{Refused: RefusedQuota}, Errorf(EQUOTAEXCEEDED, "the daily quota of %d minutes at this site is used up", in.Site.DailyQuotaMinutes).
			With("reset_at", in.QuotaReset.UTC())
	}
	if err := CheckHolding(in.Holding, p); err != nil {
		return LoginOutcome{Refused: RefusedReserved}, err
	}
	fail, err := sessionRules(in)
	if err != nil {
		return LoginOutcome{}, err
	}
	s := Session{PrincipalID: p.ID, Identity: in.Identity, TerminalID: in.Terminal,
		Status: SessionActive, StartedAt: in.Now, LastActivityAt: in.Now, Exempt: p.Global}
	s = s.WithLimit(SiteAllowance(p, in.Site, in.Reservations, in.QuotaLeft, in.Now, in.Now))
	return LoginOutcome{Session: s, Fail: fail}, nil
}

// sessionRules applies rules 2-5 of API.md "Terminal sessions": the
// sessions to fail, or the refusal.
func sessionRules(in LoginInput) ([]FailedSession, error) {
	var elsewhere []Session
	for _, s := range in.Active {
		if s.Status == SessionActive && s.TerminalID != in.Terminal {
			elsewhere = append(elsewhere, s)
		}
	}
	// Rule 3: one identity for all of a principal's concurrent sessions.
	var otherIdentity []Session
	for _, s := range elsewhere {
		if s.Identity != in.Identity {
			otherIdentity = append(otherIdentity, s)
		}
	}
	if len(otherIdentity) > 0 {
		return nil, Errorf(EIDENTITYINUSE,
			"principal has active sessions under identity %q; use that identity or end them", otherIdentity[0].Identity).
			With("sessions", refs(otherIdentity))
	}
	// Rule 4: unlocked sessions elsewhere conflict (locked ones too on a
	// legacy site); global principals are exempt.
	fail, err := conflicts(in.Principal, in.Site, elsewhere, in.Force)
	if err != nil {
		return nil, err
	}
	// Rule 2: clean-up of the terminal's own previous session.
	if in.OnTerminal != nil && in.OnTerminal.Status == SessionActive {
		fail = append([]FailedSession{{Session: *in.OnTerminal, Reason: EndTerminalCleanup}}, fail...)
	}
	return fail, nil
}

// conflicts finds the sessions in others that stand against one more
// unlocked session of p, and either refuses or (force) fails them.
func conflicts(p Principal, site Site, others []Session, force bool) ([]FailedSession, error) {
	if p.Global {
		return nil, nil
	}
	var c []Session
	for _, s := range others {
		if s.Status == SessionActive && (s.LockedAt == nil || !site.ConcurrencyControls) {
			c = append(c, s)
		}
	}
	if len(c) == 0 {
		return nil, nil
	}
	if !force {
		msg := "the principal has an unlocked session at another terminal: lock it there and retry, or force to fail it"
		if !site.ConcurrencyControls {
			msg = "the principal has an active session at another terminal: end it there and retry, or force to fail it"
		}
		return nil, Errorf(ECONCURRENTSESSION, "%s", msg).With("sessions", refs(c))
	}
	var fail []FailedSession
	for _, s := range c {
		fail = append(fail, FailedSession{Session: s, Reason: EndForced})
	}
	return fail, nil
}

// CheckSessionCall is the gate every terminal call on a session passes:
// the session must belong to the calling terminal and be ACTIVE.
func CheckSessionCall(s Session, terminalID string) error {
	if s.TerminalID != terminalID {
		return Errorf(EFORBIDDEN, "session %s belongs to another terminal", s.ID)
	}
	switch s.Status {
	case SessionActive:
		return nil
	case SessionFailed:
		return Errorf(ESESSIONFAILED, "session %s was failed (%s): log out and log on again", s.ID, s.EndReason).
			With("session", s)
	default:
		return Errorf(ECONFLICT, "session %s is %s", s.ID, s.Status).
			With("status", string(s.Status)).With("session", s)
	}
}

// UnlockInput is everything the unlock rule looks at.
type UnlockInput struct {
	Session   Session   // the session to unlock, already through CheckSessionCall
	Identity  string    // the login ID whose credentials were accepted
	Principal Principal // that identity's principal
	Site      Site      // the session's terminal's site
	Force     bool
	Active    []Session // every ACTIVE session of that principal
	Now       time.Time
}

// UnlockOutcome is what DecideUnlock decides: the session unlocked, and
// the sessions to fail in the same step.
type UnlockOutcome struct {
	Session Session
	Fail    []FailedSession
}

// DecideUnlock decides an unlock whose credentials were accepted: they
// must be of the session's own person (forbidden); another ACTIVE unlocked
// session of the principal refuses it (concurrent_session), or with force
// is failed in the same step.
func DecideUnlock(in UnlockInput) (UnlockOutcome, error) {
	if in.Principal.ID != in.Session.PrincipalID {
		return UnlockOutcome{}, Errorf(EFORBIDDEN,
			"identity %q belongs to another person: log this session out and log on anew", in.Identity)
	}
	var others []Session
	for _, s := range in.Active {
		if s.ID != in.Session.ID {
			others = append(others, s)
		}
	}
	fail, err := conflicts(in.Principal, in.Site, others, in.Force)
	if err != nil {
		return UnlockOutcome{}, err
	}
	s := in.Session
	s.LockedAt, s.LastActivityAt = nil, ActivityAt(s, in.Now)
	return UnlockOutcome{Session: s, Fail: fail}, nil
}

// ActivityAt is s's last activity once activity at now is recorded
// (a touch, a lock, an unlock): now, or the last activity already
// recorded when that is later. Last activity never moves back. Every node
// stamps it by its own estimate of the store's clock, and the estimates
// differ by their error (half a round trip to the database: microseconds
// to milliseconds), as two transactions of one node may take their time
// in one order and commit in the other; so activity stamped on one node
// just after activity stamped on another may read a little earlier.
func ActivityAt(s Session, now time.Time) time.Time {
	if now.Before(s.LastActivityAt) {
		return s.LastActivityAt
	}
	return now
}

// DecideLock returns s locked at timeSent (UTC). Locking a session that is
// already locked keeps its first lock time, so a retried lock is harmless.
func DecideLock(s Session, terminalID string, timeSent time.Time) (Session, error) {
	if err := CheckSessionCall(s, terminalID); err != nil {
		return s, err
	}
	if s.LockedAt == nil {
		t := timeSent.UTC()
		s.LockedAt = &t
	}
	return s, nil
}

// IdleChange says what ApplyIdle did to a session.
type IdleChange int

const (
	IdleNone    IdleChange = iota
	IdleLocked             // the inactivity lock applied
	IdleExpired            // the forced timeout applied
)

// ApplyIdle applies the site's inactivity lock and forced timeout to an
// ACTIVE session, judged from its last activity, and its limit (EndsAt):
// the earlier end wins. A session idle past the
// forced timeout expires at last activity + timeout; one idle past the
// inactivity lock is locked at last activity + that time.
func ApplyIdle(s Session, site Site, now time.Time) (Session, IdleChange) {
	if s.Status != SessionActive {
		return s, IdleNone
	}
	var end time.Time
	var reason string
	if site.ForcedTimeoutMinutes > 0 {
		if at := s.LastActivityAt.Add(time.Duration(site.ForcedTimeoutMinutes) * time.Minute); !now.Before(at) {
			end, reason = at, EndForcedTimeout
		}
	}
	if s.EndsAt != nil && !now.Before(*s.EndsAt) && (end.IsZero() || s.EndsAt.Before(end)) {
		end, reason = *s.EndsAt, string(s.Limit)
	}
	if !end.IsZero() {
		s.Status, s.EndedAt, s.EndReason = SessionExpired, &end, reason
		return s, IdleExpired
	}
	if site.InactivityLockMinutes > 0 && s.LockedAt == nil {
		at := s.LastActivityAt.Add(time.Duration(site.InactivityLockMinutes) * time.Minute)
		if !now.Before(at) {
			s.LockedAt = &at
			return s, IdleLocked
		}
	}
	return s, IdleNone
}

// IdleWarnAt is when the warning before a forced timeout is due
// (EUM-CE-CL-100, "your session is about to expire"): the site's
// warning_seconds before the session would expire for want of activity.
// Zero when the site has no forced timeout or no warning.
func IdleWarnAt(s Session, site Site) time.Time {
	if site.ForcedTimeoutMinutes <= 0 || site.WarningSeconds <= 0 {
		return time.Time{}
	}
	expires := s.LastActivityAt.Add(time.Duration(site.ForcedTimeoutMinutes) * time.Minute)
	return expires.Add(-time.Duration(site.WarningSeconds) * time.Second)
}

// IdleWarningDue says whether the warning before s's forced timeout is due
// at now: s is ACTIVE, the warning's time has come and the timeout has
// not, and s was not yet warned for its current idle spell (warnedFor is
// the last activity the last warning was for: any activity since starts a
// new spell, warned again).
func IdleWarningDue(s Session, site Site, warnedFor, now time.Time) bool {
	at := IdleWarnAt(s, site)
	if s.Status != SessionActive || at.IsZero() || now.Before(at) || warnedFor.Equal(s.LastActivityAt) {
		return false
	}
	return now.Before(s.LastActivityAt.Add(time.Duration(site.ForcedTimeoutMinutes) * time.Minute))
}

// IdleDeadline returns the earliest time at which ApplyIdle would change s,
// or the zero time if it never will.
func IdleDeadline(s Session, site Site) time.Time {
	var t time.Time
	if s.Status != SessionActive {
		return t
	}
	if site.InactivityLockMinutes > 0 && s.LockedAt == nil {
		t = s.LastActivityAt.Add(time.Duration(site.InactivityLockMinutes) * time.Minute)
	}
	if site.ForcedTimeoutMinutes > 0 {
		f := s.LastActivityAt.Add(time.Duration(site.ForcedTimeoutMinutes) * time.Minute)
		if t.IsZero() || f.Before(t) {
			t = f
		}
	}
	if s.EndsAt != nil && (t.IsZero() || s.EndsAt.Before(t)) {
		t = *s.EndsAt
	}
	return t
}

// TerminalEvent is a deferred event recorded at a terminal and sent later
// in a batch: 24 position locked, 25 position unlocked, 26 unlock failed.
type TerminalEvent struct {
	ID         string    `json:"id,omitempty"` // made by the terminal; repeats are ignored
	Event      int       `json:"event"`
	OccurredAt time.Time `json:"occurred_at"`
	ReceivedAt time.Time `json:"received_at"`
	Identity   string    `json:"identity,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	TerminalID string    `json:"terminal"`
}

// Deferred event numbers and the reasons of event 26.
const (
	EventPositionLocked   = 24
	EventPositionUnlocked = 25
	EventUnlockFailed     = 26

	ReasonInvalidCredentials = "invalid_credentials"
	ReasonAttemptsExceeded   = "attempts_exceeded"
	ReasonAccountLocked      = "account_locked"
	ReasonAccountDisabled    = "account_disabled"
)

// MaxEventBatch bounds one upload of deferred events.
const MaxEventBatch = 1000

// ValidateTerminalEvent checks one deferred event; i is its index in the
// batch, for the error's field name.
func ValidateTerminalEvent(i int, e TerminalEvent) error {
	field := func(f string) string { return "events[" + strconv.Itoa(i) + "]." + f }
	switch e.Event {
	case EventPositionLocked, EventPositionUnlocked:
		if e.Reason != "" {
			return BadField(field("reason"), "only event 26 carries a reason")
		}
	case EventUnlockFailed:
		switch e.Reason {
		case ReasonInvalidCredentials, ReasonAttemptsExceeded, ReasonAccountLocked, ReasonAccountDisabled:
		default:
			return BadField(field("reason"), "event 26 needs a reason: invalid_credentials, attempts_exceeded, account_locked or account_disabled")
		}
	default:
		return BadField(field("event"), "event must be 24, 25 or 26")
	}
	if e.OccurredAt.IsZero() {
		return BadField(field("occurred_at"), "occurred_at is required")
	}
	if e.ID != "" {
		if err := ValidName(field("id"), e.ID); err != nil {
			return err
		}
	}
	if e.Identity != "" {
		if err := ValidName(field("identity"), e.Identity); err != nil {
			return err
		}
	}
	return nil
}

// LoginRequest is POST /v1/terminals/{id}/sessions.
type LoginRequest struct {
	Identity string    `json:"identity"`
	Password string    `json:"password"`
	Force    bool      `json:"force"`
	TimeSent time.Time `json:"time_sent"`
}

// LoginResult is the answer of a successful terminal login.
type LoginResult struct {
	Session Session  `json:"session"`
	Failed  []string `json:"failed"`
	// Notices are what the counter is told besides (EUM-CE-CL-20: the
	// identity is in use at another branch).
	Notices []Notice `json:"notices,omitempty"`
}

// Notice is something a logon tells the counter that refuses nothing.
type Notice struct {
	Code     string       `json:"code"`
	Message  string       `json:"message"`
	Sessions []SessionRef `json:"sessions,omitempty"`
}

// NoticeInUseOtherBranch: the person's identity is in use at another
// branch (site), in sessions that stay ACTIVE (locked ones).
const NoticeInUseOtherBranch = "in_use_other_branch"

// OtherBranchNotice is EUM-CE-CL-20's check on log-on: the sessions of
// the person that stay ACTIVE after the log-on (those not failed by it)
// at terminals of a site other than site, as a notice; nil when there
// are none. Pure: the caller adds it to the log-on's answer.
func OtherBranchNotice(active []Session, failed []FailedSession, terminal, site string) *Notice {
	var at []Session
	for _, s := range active {
		gone := slices.ContainsFunc(failed, func(f FailedSession) bool { return f.Session.ID == s.ID })
		if s.Status == SessionActive && !gone && s.TerminalID != terminal && s.SiteID != "" && s.SiteID != site {
			at = append(at, s)
		}
	}
	if len(at) == 0 {
		return nil
	}
	return &Notice{Code: NoticeInUseOtherBranch, Sessions: refs(at),
		Message: "your identity is also in use at another branch"}
}

// LockRequest is POST /v1/sessions/{id}/lock.
type LockRequest struct {
	TimeSent time.Time  `json:"time_sent"`
	Reason   LockReason `json:"reason"`
	// InTransaction says a transaction is in progress on the counter
	// (EUM-CE-CL-30): a manual lock pauses it, or is refused when the
	// site wants it completed first (DecideTransactionOnLock). An
	// extension of API.md.
	InTransaction bool `json:"in_transaction,omitempty"`
}

// LockReason says why a terminal locked its session.
type LockReason string

// Lock reasons of POST /v1/sessions/{id}/lock.
const (
	LockManual     LockReason = "manual"     // the person pressed lock
	LockInactivity LockReason = "inactivity" // the terminal's inactivity timer
)

// Valid reports whether r is one of the lock reasons.
func (r LockReason) Valid() bool { return r == LockManual || r == LockInactivity }

// Validate checks a lock: its time_sent and reason.
func (r LockRequest) Validate() error {
	if err := requireTimeSent(r.TimeSent); err != nil {
		return err
	}
	switch {
	case r.Reason == "":
		return BadField("reason", "reason is required")
	case !r.Reason.Valid():
		return BadField("reason", `reason must be "manual" or "inactivity"`)
	}
	return nil
}

// ValidCredentials checks an identity and a password being verified (a
// logon, an unlock): a valid name, and a password given and at most
// MaxPasswordLen bytes. A password being set goes through CheckNewPassword
// instead: only setting one is held to its rules, so an old short password
// still logs on.
func ValidCredentials(identity, password string) error {
	if err := ValidName("identity", identity); err != nil {
		return err
	}
	return ValidPassword("password", password)
}

// Validate checks a logon: its credentials and time_sent.
func (r LoginRequest) Validate() error {
	if err := ValidCredentials(r.Identity, r.Password); err != nil {
		return err
	}
	return requireTimeSent(r.TimeSent)
}

// Validate checks an unlock: its credentials and time_sent, as a logon's.
func (r UnlockRequest) Validate() error { return LoginRequest(r).Validate() }

// requireTimeSent checks the time_sent of a terminal's call.
func requireTimeSent(t time.Time) error {
	if t.IsZero() {
		return BadField("time_sent", "time_sent is required (RFC 3339, UTC)")
	}
	return nil
}

// UnlockRequest is POST /v1/sessions/{id}/unlock.
type UnlockRequest struct {
	Identity string    `json:"identity"`
	Password string    `json:"password"`
	Force    bool      `json:"force"`
	TimeSent time.Time `json:"time_sent"`
}

// SessionService runs terminal sessions under the concurrent-login rules.
// Calls that change a session need the terminal token of the session's
// terminal (forbidden otherwise).
type SessionService interface {
	// StartSession (log on) errors: invalid_credentials, account_locked,
	// account_disabled, identity_in_use, concurrent_session, forbidden, not_found.
	StartSession(ctx context.Context, c Caller, terminalID string, r LoginRequest) (*LoginResult, error)
	// GetSession: staff, the session's principal or its terminal.
	GetSession(ctx context.Context, c Caller, id string) (*Session, error)
	// LockSession errors: session_failed, conflict (not active), forbidden, not_found.
	LockSession(ctx context.Context, c Caller, id string, r LockRequest) (*Session, error)
	// UnlockSession errors: as LockSession, plus the credential errors and concurrent_session.
	UnlockSession(ctx context.Context, c Caller, id string, r UnlockRequest) (*Session, error)
	// TouchSession records activity. Errors: as LockSession.
	TouchSession(ctx context.Context, c Caller, id string) (*Session, error)
	// EndSession logs out: it ends a session (idempotent on ended/expired ones). Errors:
	// session_failed, forbidden, not_found.
	EndSession(ctx context.Context, c Caller, id string) (*Session, error)
	// ListPrincipalSessions: staff or the principal itself; status "" = all.
	ListPrincipalSessions(ctx context.Context, c Caller, principalID string, status SessionStatus, page Page) ([]Session, string, error)
	// RecordTerminalEvents stores a batch of deferred events of the caller's
	// own terminal; events with an ID already stored are skipped.
	RecordTerminalEvents(ctx context.Context, c Caller, terminalID string, events []TerminalEvent) (int, error)
	// ListTerminalEvents: staff or the terminal itself.
	ListTerminalEvents(ctx context.Context, c Caller, terminalID string, page Page) ([]TerminalEvent, string, error)
	// ApplyTimeouts applies inactivity locks and forced timeouts due by now
	// to every ACTIVE session (the sweeper); it returns how many changed.
	ApplyTimeouts(ctx context.Context) (int, error)
	// SessionBoard lists terminals by site (site name, then terminal
	// name), each with its ACTIVE session and its latest session and their
	// people's names, as the filter selects (CanViewSessionBoard: staff).
	// Errors: forbidden, bad_request (the filter, the cursor).
	SessionBoard(ctx context.Context, c Caller, f BoardFilter, page Page) ([]BoardRow, string, error)
	// PersonSessions lists a person's sessions, ACTIVE ones first, then the
	// others newest first, with terminal names (CanViewPerson).
	PersonSessions(ctx context.Context, c Caller, principalID string, page Page) ([]PersonSession, string, error)
	// PersonEvents lists the deferred events reported under a person's
	// login IDs, newest first (CanViewPerson).
	PersonEvents(ctx context.Context, c Caller, principalID string, page Page) ([]PersonEvent, string, error)
}
