package agent

import (
	"context"
	"time"

	"latchkey"
)

// The forced timeout (EUM-CE-CL-90/100): the server ends a session that
// has not been used for the site's forced_timeout_minutes, counted from
// the last activity it knows (the log-on, a lock, an unlock, a touch).
// The gateway warns the person warning_seconds before (Status.Warning,
// reason forced_timeout: "your session is about to expire"), over the
// lock screen too, and asks the server as soon as the time is up, so that
// the end is said at once ("has expired").

// ReasonForcedTimeout is the Warning's reason before a forced timeout.
const ReasonForcedTimeout = latchkey.EndForcedTimeout

// idleSeen is the last activity the server knows of a session.
type idleSeen struct {
	session  string
	activity time.Time
}

// forcedTimeoutWarning is the warning due at now before the forced
// timeout of a session whose last activity the server knows is known:
// none without a forced timeout or a warning at the site, while activity
// waits to be sent (it will move the timeout), or before the warning's
// time; from then on the time left, zero once it is up.
func forcedTimeoutWarning(site latchkey.Site, known time.Time, pending bool, now time.Time) *Warning {
	warnAt := latchkey.IdleWarnAt(latchkey.Session{LastActivityAt: known}, site)
	if known.IsZero() || warnAt.IsZero() || pending || now.Before(warnAt) {
		return nil
	}
	expires := known.Add(time.Duration(site.ForcedTimeoutMinutes) * time.Minute)
	left := max(expires.Sub(now), 0)
	return &Warning{Reason: ReasonForcedTimeout, SecondsLeft: int((left + time.Second - 1) / time.Second)}
}

// sooner is the warning with less time left (nil counts as none).
func sooner(a, b *Warning) *Warning {
	if a == nil || b != nil && b.SecondsLeft < a.SecondsLeft {
		return b
	}
	return a
}

// seen records the last activity the server knows of session id.
func (g *Gateway) seen(id string, activity time.Time) {
	if activity.IsZero() {
		return
	}
	g.mu.Lock()
	if g.idle.session != id || activity.After(g.idle.activity) {
		g.idle = idleSeen{id, activity}
	}
	g.mu.Unlock()
}

// idleInput reads what the forced timeout's rule needs for s: the site,
// the last activity the server knows, and whether activity waits to be
// sent; ok is false where the rule does not apply: only a session the
// server knows, while online (offline the server's timeouts do not run
// on it).
func (g *Gateway) idleInput(s *gwSession) (site latchkey.Site, known time.Time, pending, ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.policy == nil || g.mode != ModeOnline || !s.State.known() || g.idle.session != s.ID {
		return latchkey.Site{}, time.Time{}, false, false
	}
	return g.policy.Site, g.idle.activity, g.activity.After(g.touchSent) && s.LockedAt == nil, true
}

// idleWarning is the forced-timeout warning for s now (nil: none).
func (g *Gateway) idleWarning(s *gwSession, now time.Time) *Warning {
	site, known, pending, ok := g.idleInput(s)
	if !ok {
		return nil
	}
	return forcedTimeoutWarning(site, known, pending, now)
}

// tickIdle (under op): in the warning's window, activity waiting is sent
// at once rather than batched; once the time is up, the server is asked
// (every few seconds at most) whether it ended the session.
func (g *Gateway) tickIdle(ctx context.Context, s gwSession) {
	now := g.clock.Now()
	site, known, pending, ok := g.idleInput(&s)
	if !ok {
		return
	}
	w := forcedTimeoutWarning(site, known, false, now) // the window, whatever waits
	if w == nil {
		return
	}
	if pending {
		g.sendTouchNow(ctx, s)
		return
	}
	g.mu.Lock()
	ask := w.SecondsLeft == 0 && now.Sub(g.idleAsked) >= 2*time.Second
	if ask {
		g.idleAsked = now
	}
	g.mu.Unlock()
	if !ask {
		return
	}
	if err := g.refreshSession(ctx); err != nil && !isUnreachable(err) {
		g.log.Error("after the forced timeout", "session", s.ID, "err", err)
	}
}
