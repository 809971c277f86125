package agent

import (
	"context"
	"time"

	"latchkey"
)

// Status is GET /status: the gateway's mode, the session in progress and
// the warning to show.
type Status struct {
	Mode string `json:"mode"` // online | standalone
	// ModeSince is when the mode began (left out before the server was
	// first reached).
	ModeSince time.Time      `json:"mode_since,omitzero"`
	Session   *SessionStatus `json:"session"`
	// MinutesLeft is the whole minutes (rounded up) until the session's
	// limit; null without a session or a limit.
	MinutesLeft *int `json:"minutes_left"`
	// Warning is the Time Critical Warning, from the session's warn_at
	// until it is logged off, or the forced timeout's (reason
	// forced_timeout: the site's warning_seconds before the server ends
	// an unused session, over the lock too; 0 seconds left once it is
	// up), whichever comes first; null otherwise.
	Warning *Warning `json:"warning"`
	// LastEnded is the session that ended last, and why (null if none
	// since the agent started).
	LastEnded *EndedSession `json:"last_ended,omitempty"`
	// PendingUploads counts sessions the server has not yet been told of.
	PendingUploads int `json:"pending_uploads"`
	// PolicyIssuedAt is when the server issued the policy the agent holds
	// (left out while it has none: nobody can log on offline then).
	PolicyIssuedAt time.Time `json:"policy_issued_at,omitzero"`
	// OfflineLogon is who may log on here while the server cannot be
	// reached, by the cached policy: admins_only (the site does not allow
	// standalone mode), cached (people who logged on here before), any
	// (checked once the server is back), or none (no policy yet: nobody).
	OfflineLogon string `json:"offline_logon"`
	// Notices are the server's notices on the log-on this status answers
	// (EUM-CE-CL-20: the identity is in use at another branch); only in
	// the answer to POST /login.
	Notices []latchkey.Notice `json:"notices,omitempty"`
}

// SessionStatus is the session in progress at the terminal.
type SessionStatus struct {
	ID        string     `json:"id"`
	Identity  string     `json:"identity"`
	Principal string     `json:"principal"`
	StartedAt time.Time  `json:"started_at"`
	EndsAt    *time.Time `json:"ends_at"`
	WarnAt    *time.Time `json:"warn_at"`
	// Limit is what ends it at ends_at: max_session | quota | reservation,
	// or the reason of a reconnect verdict.
	Limit    string     `json:"limit,omitempty"`
	LockedAt *time.Time `json:"locked_at"`
	// LockedOffline is true for a lock the server has not been told of:
	// other terminals see the session as unlocked.
	LockedOffline bool `json:"locked_offline"`
	// Standalone is true for a session started offline.
	Standalone bool `json:"standalone"`
	// Known is true once the server holds it as an active session.
	Known bool `json:"known"`
}

// Warning is a pending forced log-off.
type Warning struct {
	Reason      string `json:"reason"`
	SecondsLeft int    `json:"seconds_left"`
}

// EndedSession is how the last session ended.
type EndedSession struct {
	ID       string    `json:"id"`
	Identity string    `json:"identity"`
	Reason   string    `json:"reason"`
	At       time.Time `json:"at"`
}

// Status returns the gateway's status now.
func (g *Gateway) Status(ctx context.Context) (st Status) {
	g.mu.Lock()
	st = Status{Mode: g.mode, ModeSince: g.since, LastEnded: g.last}
	st.OfflineLogon = offlineLogon(g.policy)
	if g.policy != nil {
		st.PolicyIssuedAt = g.policy.IssuedAt
	}
	s := g.cur
	g.mu.Unlock()
	if n, err := g.j.pendingCount(ctx); err == nil {
		st.PendingUploads = n
	}
	if s == nil {
		return st
	}
	st.Session = &SessionStatus{ID: s.ID, Identity: s.Identity, Principal: s.Principal, StartedAt: s.StartedAt,
		Limit: s.Limit, LockedAt: s.LockedAt, LockedOffline: s.Lock == lockedHere,
		Standalone: s.Standalone, Known: s.State.known()}
	now := g.sessionNow(s)
	// The forced timeout's warning, if it comes before the limit's.
	defer func() { st.Warning = sooner(st.Warning, g.idleWarning(s, g.clock.Now())) }()
	if s.EndsAt.IsZero() {
		return st
	}
	ends, warn := s.EndsAt, s.WarnAt
	st.Session.EndsAt, st.Session.WarnAt = &ends, &warn
	left := max(s.EndsAt.Sub(now), 0)
	minutes := int((left + time.Minute - 1) / time.Minute)
	st.MinutesLeft = &minutes
	if !now.Before(s.WarnAt) {
		st.Warning = &Warning{Reason: s.Limit, SecondsLeft: int((left + time.Second - 1) / time.Second)}
	}
	return st
}

// Who may log on while the server cannot be reached (Status.OfflineLogon).
const (
	OfflineLogonNone       = "none"
	OfflineLogonAdminsOnly = "admins_only"
	OfflineLogonCached     = "cached"
	OfflineLogonAny        = "any"
)

// offlineLogon says who may log on offline under policy p (nil: none yet).
func offlineLogon(p *latchkey.AgentPolicy) string {
	switch {
	case p == nil:
		return OfflineLogonNone
	case !p.AllowStandalone:
		return OfflineLogonAdminsOnly
	case p.StandaloneAuth == latchkey.StandaloneAuthAny:
		return OfflineLogonAny
	}
	return OfflineLogonCached
}
