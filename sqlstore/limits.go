package sqlstore

import (
	"context"
	"time"

	"latchkey"
)

// warnSessions gives the Time Critical Warning of every ACTIVE session
// whose warn_at has passed: one session.warn record each, announced on the
// event stream (the terminal and the person see it), with the time left.
func (s *Store) warnSessions(ctx context.Context) (int, error) {
	rows, err := s.query(ctx, `SELECT id, terminal_id FROM sessions WHERE status = 'active' AND warn_at IS NOT NULL
		AND warn_at <= ? AND warned = FALSE LIMIT 1000`, us(s.now()))
	ds, err := scanDue(rows, err)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, d := range ds {
		err := s.onSessionAt(ctx, d.terminal, d.id, func(t *tx, sess latchkey.Session) error {
			if sess.Status != latchkey.SessionActive || sess.EndsAt == nil {
				return nil
			}
			res, err := t.exec("UPDATE sessions SET warned = TRUE WHERE id = ? AND status = 'active' AND warned = FALSE", d.id)
			if err != nil {
				return err
			}
			if k, err := res.RowsAffected(); err != nil || k == 0 {
				return err
			}
			left := max(sess.EndsAt.Sub(t.now), 0)
			t.record("system", sess.TerminalID, latchkey.ActionSessionWarn, sess.ID, map[string]any{"principal": sess.PrincipalID,
				"limit": sess.Limit, "ends_at": *sess.EndsAt, "seconds_left": int(left.Seconds())})
			n++
			return nil
		})
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// cutForReservation shortens the ACTIVE session on the reservation's
// terminal (someone else's, not an admin's) that would run into it: it now
// ends at the reservation's start, with the warning before it.
func (t *tx) cutForReservation(r latchkey.Reservation) error {
	on, err := t.activeSessions("WHERE s.terminal_id = ?", r.Terminal)
	if err != nil || len(on) == 0 {
		return err
	}
	sess := on[0]
	if sess.PrincipalID == r.Principal || !r.Start.After(t.now) || (sess.EndsAt != nil && !sess.EndsAt.After(r.Start)) {
		return nil
	}
	var role latchkey.Role
	if err := t.queryRow("SELECT role FROM principals WHERE id = ?", sess.PrincipalID).Scan(&role); err != nil {
		return err
	}
	if role == latchkey.RoleAdmin {
		return nil
	}
	site, err := t.siteOfTerminal(r.Terminal)
	if err != nil {
		return err
	}
	warn := r.Start.Add(-time.Duration(site.WarningSeconds) * time.Second)
	if warn.Before(t.now) {
		warn = t.now
	}
	if _, err := t.exec("UPDATE sessions SET ends_at = ?, warn_at = ?, limit_reason = ?, warned = FALSE WHERE id = ? AND status = 'active'",
		us(r.Start), us(warn), latchkey.LimitReservation, sess.ID); err != nil {
		return err
	}
	t.record("system", r.Terminal, latchkey.ActionSessionLimit, sess.ID, map[string]any{"principal": sess.PrincipalID,
		"limit": latchkey.LimitReservation, "ends_at": r.Start, "reservation": r.ID})
	return nil
}

// giveTimeBack recomputes the limits of the ACTIVE session on a terminal
// whose end a reservation set, after that reservation (gone) was deleted:
// its end and warning come from its remaining limits (its maximum from its
// start, the quota left now, the reservations that remain), and a warning
// already given is given again at the new time. Without this, booking a
// terminal and cancelling would end another person's session.
func (t *tx) giveTimeBack(gone latchkey.Reservation) error {
	on, err := t.activeSessions("WHERE s.terminal_id = ?", gone.Terminal)
	if err != nil || len(on) == 0 {
		return err
	}
	sess := on[0]
	if sess.Limit != latchkey.LimitReservation || sess.EndsAt == nil {
		return nil
	}
	p, err := t.lockPrincipal(sess.PrincipalID)
	if err != nil {
		return err
	}
	site, err := t.siteOfTerminal(gone.Terminal)
	if err != nil {
		return err
	}
	rs, err := t.terminalReservations(gone.Terminal, us(t.now))
	if err != nil {
		return err
	}
	left, _, err := t.quotaLeft(p, site)
	if err != nil {
		return err
	}
	a := latchkey.SiteAllowance(p, site, rs, left, sess.StartedAt, t.now)
	if a.Ends.Equal(*sess.EndsAt) {
		return nil
	}
	var ends, warn any
	if !a.Ends.IsZero() {
		ends, warn = us(a.Ends), us(a.WarnAt)
	}
	if _, err := t.exec("UPDATE sessions SET ends_at = ?, warn_at = ?, limit_reason = ?, warned = FALSE WHERE id = ? AND status = 'active'",
		ends, warn, a.Reason, sess.ID); err != nil {
		return err
	}
	details := map[string]any{"principal": sess.PrincipalID, "limit": a.Reason, "reservation_deleted": gone.ID, "was_ends_at": *sess.EndsAt}
	if !a.Ends.IsZero() {
		details["ends_at"] = a.Ends
	}
	t.record("system", gone.Terminal, latchkey.ActionSessionLimit, sess.ID, details)
	return nil
}

// warnIdle gives the warning before a forced timeout (EUM-CE-CL-100) to
// the ACTIVE sessions whose warning time has come and whose timeout has
// not, once per idle spell: a `session.warn` with the time left (limit
// forced_timeout), on the sessions topic for the terminal to show.
func (s *Store) warnIdle(ctx context.Context) (int, error) {
	now := us(s.now())
	const expiry = "s.last_activity_at + st.forced_timeout_minutes * CAST(60000000 AS BIGINT)"
	rows, err := s.query(ctx, `SELECT s.id, s.terminal_id`+sessionFrom+`WHERE s.status = 'active'
		AND st.forced_timeout_minutes > 0 AND st.warning_seconds > 0 AND s.idle_warned_for <> s.last_activity_at
		AND `+expiry+` - st.warning_seconds * CAST(1000000 AS BIGINT) <= ? AND `+expiry+` > ? LIMIT 1000`, now, now)
	ds, err := scanDue(rows, err)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, d := range ds {
		err := s.onSessionAt(ctx, d.terminal, d.id, func(t *tx, sess latchkey.Session) error {
			site, err := t.loadSite(sess.SiteID)
			if err != nil {
				return err
			}
			var warnedFor int64
			if err := t.queryRow("SELECT idle_warned_for FROM sessions WHERE id = ?", sess.ID).Scan(&warnedFor); err != nil {
				return err
			}
			if !latchkey.IdleWarningDue(sess, site, fromUS(warnedFor), t.now) {
				return nil
			}
			if _, err := t.exec("UPDATE sessions SET idle_warned_for = last_activity_at WHERE id = ? AND status = 'active'", sess.ID); err != nil {
				return err
			}
			ends := sess.LastActivityAt.Add(time.Duration(site.ForcedTimeoutMinutes) * time.Minute)
			t.record("system", sess.TerminalID, latchkey.ActionSessionWarn, sess.ID, map[string]any{"principal": sess.PrincipalID,
				"limit": latchkey.EndForcedTimeout, "ends_at": ends, "seconds_left": int(max(ends.Sub(t.now), 0).Seconds())})
			n++
			return nil
		})
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
