package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"latchkey"
)

const sessionCols = `s.id, s.principal_id, s.identity, s.terminal_id, s.status, s.started_at, s.locked_at, s.ended_at,
	s.last_activity_at, s.standalone, s.exempt, s.end_reason, s.ends_at, s.warn_at, s.limit_reason, s.unverified,
	st.inactivity_lock_minutes, st.forced_timeout_minutes, s.site_id,
	(SELECT tn.name FROM terminals tn WHERE tn.id = s.terminal_id)`

const sessionFrom = " FROM sessions s JOIN sites st ON st.id = s.site_id "

// sessionRow is a session with the idle timeouts of its terminal's site.
type sessionRow struct {
	latchkey.Session
	timeouts latchkey.Site
}

// scanSession reads a row of sessionCols, and the extra columns after
// them into extra.
func scanSession(row interface{ Scan(...any) error }, extra ...any) (sessionRow, error) {
	var r sessionRow
	var started, activity int64
	var locked, ended, ends, warn sql.NullInt64
	var terminalName sql.NullString
	err := row.Scan(append([]any{&r.ID, &r.PrincipalID, &r.Identity, &r.TerminalID, &r.Status, &started, &locked, &ended,
		&activity, &r.Standalone, &r.Exempt, &r.EndReason, &ends, &warn, &r.Limit, &r.Unverified,
		&r.timeouts.InactivityLockMinutes, &r.timeouts.ForcedTimeoutMinutes, &r.SiteID, &terminalName}, extra...)...)
	r.TerminalName = terminalName.String
	r.StartedAt, r.LastActivityAt = fromUS(started), fromUS(activity)
	r.LockedAt, r.EndedAt = optTime(locked), optTime(ended)
	r.EndsAt, r.WarnAt = optTime(ends), optTime(warn)
	return r, err
}

func (t *tx) sessions(where string, args ...any) ([]sessionRow, error) {
	rows, err := t.query("SELECT "+sessionCols+sessionFrom+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []sessionRow
	for rows.Next() {
		r, err := scanSession(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// session loads one session with its idle timeouts applied.
func (t *tx) session(id string) (latchkey.Session, error) {
	r, err := scanSession(t.queryRow("SELECT "+sessionCols+sessionFrom+"WHERE s.id = ?", id))
	if err != nil {
		return latchkey.Session{}, notFound(err, "session %s not found", id)
	}
	return t.settle(r)
}

// activeSessions loads the principal's ACTIVE sessions, idle timeouts
// applied, leaving out those the timeouts ended.
func (t *tx) activeSessions(where string, args ...any) ([]latchkey.Session, error) {
	rows, err := t.sessions(where+" AND s.status = 'active' ORDER BY s.id", args...)
	if err != nil {
		return nil, err
	}
	var out []latchkey.Session
	for _, r := range rows {
		s, err := t.settle(r)
		if err != nil {
			return nil, err
		}
		if s.Status == latchkey.SessionActive {
			out = append(out, s)
		}
	}
	return out, nil
}

// settle applies the site's inactivity lock and forced timeout to a loaded
// session and stores the change with its audit record. The update is
// guarded by the activity time it was judged on: if the session was used
// (or ended) meanwhile, the stored row wins.
func (t *tx) settle(r sessionRow) (latchkey.Session, error) {
	s, change := latchkey.ApplyIdle(r.Session, r.timeouts, t.now)
	var res sql.Result
	var err error
	switch change {
	case latchkey.IdleNone:
		return s, nil
	case latchkey.IdleLocked:
		res, err = t.exec(`UPDATE sessions SET locked_at = ? WHERE id = ? AND status = 'active'
			AND locked_at IS NULL AND last_activity_at = ?`, us(*s.LockedAt), s.ID, us(r.LastActivityAt))
	case latchkey.IdleExpired:
		res, err = t.exec(`UPDATE sessions SET status = 'expired', ended_at = ?, end_reason = ? WHERE id = ?
			AND status = 'active' AND last_activity_at = ?`, us(*s.EndedAt), s.EndReason, s.ID, us(r.LastActivityAt))
	}
	if err != nil {
		return s, err
	}
	if n, err := res.RowsAffected(); err != nil {
		return s, err
	} else if n == 0 {
		fresh, err := scanSession(t.queryRow("SELECT "+sessionCols+sessionFrom+"WHERE s.id = ?", r.ID))
		return fresh.Session, err
	}
	if change == latchkey.IdleLocked {
		t.record("system", s.TerminalID, latchkey.ActionSessionLock, s.ID, map[string]any{"reason": latchkey.LockInactivity, "locked_at": *s.LockedAt})
	} else {
		t.record("system", s.TerminalID, latchkey.ActionSessionExpired, s.ID, map[string]any{"reason": s.EndReason, "ended_at": *s.EndedAt, "principal": s.PrincipalID})
	}
	return s, nil
}

// fail turns an ACTIVE session FAILED; a session no longer ACTIVE is left
// as it is. It reports whether it failed the session.
func (t *tx) fail(f latchkey.FailedSession, actor, terminal, by string) (bool, error) {
	res, err := t.exec("UPDATE sessions SET status = 'failed', ended_at = ?, end_reason = ? WHERE id = ? AND status = 'active'",
		us(t.now), f.Reason, f.Session.ID)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	if err != nil || n == 0 {
		return false, err
	}
	t.record(actor, terminal, latchkey.ActionSessionFailed, f.Session.ID, map[string]any{
		"reason": f.Reason, "by": by, "principal": f.Session.PrincipalID, "terminal": f.Session.TerminalID})
	return true, nil
}

// change updates an ACTIVE session; if it is no longer ACTIVE (failed or
// expired by another transaction a moment ago) the call is refused as
// CheckSessionCall says.
func (t *tx) change(s latchkey.Session, set string, args ...any) error {
	res, err := t.exec("UPDATE sessions SET "+set+" WHERE id = ? AND status = 'active'", append(args, s.ID)...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 1 {
		return nil
	}
	fresh, err := t.session(s.ID)
	if err != nil {
		return err
	}
	if err := latchkey.CheckSessionCall(fresh, s.TerminalID); err != nil {
		return keep(err)
	}
	return errors.New("session update matched no row")
}

// StartSession logs a person on at a terminal under the concurrent-login
// rules (API.md "Terminal sessions", rules 1-5).
func (s *Store) StartSession(ctx context.Context, c latchkey.Caller, terminalID string, r latchkey.LoginRequest) (*latchkey.LoginResult, error) {
	if err := latchkey.CanActAsTerminal(c, terminalID); err != nil {
		return nil, err
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	v, err := s.verifyPassword(ctx, r.Identity, r.Password)
	if err != nil {
		return nil, err
	}
	var out latchkey.LoginResult
	err = s.write(ctx, func(t *tx) error {
		term, err := t.lockTerminal(terminalID)
		if err != nil {
			return err
		}
		site, err := t.loadSite(term.SiteID)
		if err != nil {
			return err
		}
		refuse := func(p latchkey.Principal, reason string, err error) error {
			d := map[string]any{"code": latchkey.ErrorCode(err), "force": r.Force}
			if reason != "" {
				d["reason"] = reason
			}
			if ss, ok := latchkey.ErrorDetails(err)["sessions"].([]latchkey.SessionRef); ok {
				d["sessions"] = ss
			}
			t.record(actorFor(p, r.Identity), terminalID, latchkey.ActionSessionLoginRefused, r.Identity, d)
			return keep(err)
		}
		p, reason, cerr := t.credentials(v, r.Password)
		if cerr != nil {
			if latchkey.ErrorCode(cerr) == latchkey.EINTERNAL {
				return cerr
			}
			return refuse(p, reason, cerr)
		}
		left, reset, err := t.quotaLeft(p, site)
		if err != nil {
			return err
		}
		rs, err := t.terminalReservations(terminalID, us(t.now))
		if err != nil {
			return err
		}
		holding, err := t.holdingReservation(terminalID, rs)
		if err != nil {
			return err
		}
		active, err := t.activeSessions("WHERE s.principal_id = ?", p.ID)
		if err != nil {
			return err
		}
		on, err := t.activeSessions("WHERE s.terminal_id = ?", terminalID)
		if err != nil {
			return err
		}
		in := latchkey.LoginInput{Principal: p, Identity: r.Identity, Terminal: terminalID, Site: site, Force: r.Force, Now: t.now,
			Active: active, QuotaLeft: left, QuotaReset: reset, Reservations: rs, Holding: holding}
		if len(on) > 0 {
			in.OnTerminal = &on[0]
		}
		o, err := latchkey.DecideLogin(in)
		if err != nil {
			return refuse(p, o.Refused, err)
		}
		sess := o.Session
		sess.ID = latchkey.NewID("ses")
		out.Failed = []string{}
		for _, f := range o.Fail {
			if ok, err := t.fail(f, p.ID, terminalID, sess.ID); err != nil {
				return err
			} else if ok {
				out.Failed = append(out.Failed, f.Session.ID)
			}
		}
		if _, err := t.exec(`INSERT INTO sessions (id, principal_id, identity, terminal_id, site_id, status, started_at,
			last_activity_at, standalone, exempt, ends_at, warn_at, limit_reason) VALUES (?, ?, ?, ?, ?, 'active', ?, ?, ?, ?, ?, ?, ?)`,
			sess.ID, p.ID, r.Identity, terminalID, term.SiteID, us(sess.StartedAt), us(sess.LastActivityAt), false, sess.Exempt,
			nullUS(sess.EndsAt), nullUS(sess.WarnAt), sess.Limit); err != nil {
			return err
		}
		rec := map[string]any{"identity": r.Identity, "force": r.Force, "failed": out.Failed, "time_sent": r.TimeSent.UTC()}
		if sess.EndsAt != nil {
			rec["ends_at"], rec["limit"] = *sess.EndsAt, sess.Limit
		}
		if n := latchkey.OtherBranchNotice(active, o.Fail, terminalID, term.SiteID); n != nil {
			out.Notices = append(out.Notices, *n)
			rec["notices"] = []string{n.Code}
		}
		t.record(p.ID, terminalID, latchkey.ActionSessionLogin, sess.ID, rec)
		out.Session = sess
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.ensureVerifier(ctx, v, r.Password)
	return &out, nil
}

// terminalOf finds the terminal of a session, so a call can lock the
// terminal first (the lock order) and then read the session under it.
func (s *Store) terminalOf(ctx context.Context, id string) (string, error) {
	var term string
	err := s.queryRow(ctx, "SELECT terminal_id FROM sessions WHERE id = ?", id).Scan(&term)
	return term, notFound(err, "session %s not found", id)
}

// onSession runs fn in a write transaction holding the session's terminal,
// with the session loaded and settled. Refusals commit the settling.
func (s *Store) onSession(ctx context.Context, id string, fn func(t *tx, sess latchkey.Session) error) error {
	term, err := s.terminalOf(ctx, id)
	if err != nil {
		return err
	}
	return s.onSessionAt(ctx, term, id, fn)
}

// onSessionAt is onSession for a caller that already read the session's
// terminal (a session never moves to another terminal).
func (s *Store) onSessionAt(ctx context.Context, term, id string, fn func(t *tx, sess latchkey.Session) error) error {
	return s.write(ctx, func(t *tx) error {
		if _, err := t.lockTerminal(term); err != nil {
			return err
		}
		sess, err := t.session(id)
		if err != nil {
			return err
		}
		return fn(t, sess)
	})
}

// GetSession reads a session: staff, its principal, or its terminal.
func (s *Store) GetSession(ctx context.Context, c latchkey.Caller, id string) (*latchkey.Session, error) {
	r, err := scanSession(s.queryRow(ctx, "SELECT "+sessionCols+sessionFrom+"WHERE s.id = ?", id))
	if err != nil {
		return nil, notFound(err, "session %s not found", id)
	}
	if err := latchkey.CanReadSession(c, r.Session); err != nil {
		return nil, err
	}
	if d := latchkey.IdleDeadline(r.Session, r.timeouts); !d.IsZero() && !s.now().Before(d) {
		var out latchkey.Session
		err := s.onSessionAt(ctx, r.TerminalID, id, func(t *tx, sess latchkey.Session) error { out = sess; return nil })
		return &out, err
	}
	return &r.Session, nil
}

// LockSession records that the terminal locked its session at time_sent.
func (s *Store) LockSession(ctx context.Context, c latchkey.Caller, id string, r latchkey.LockRequest) (*latchkey.Session, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	var out latchkey.Session
	err := s.onSession(ctx, id, func(t *tx, sess latchkey.Session) error {
		if err := latchkey.CanActAsTerminal(c, sess.TerminalID); err != nil {
			return keep(err)
		}
		locked, err := latchkey.DecideLock(sess, c.TerminalID, r.TimeSent)
		if err != nil {
			return keep(err)
		}
		if r.InTransaction && sess.LockedAt == nil {
			site, err := t.loadSite(sess.SiteID)
			if err != nil {
				return err
			}
			if err := latchkey.DecideTransactionOnLock(site, r.Reason, true); err != nil {
				return keep(err)
			}
		}
		locked.LastActivityAt = latchkey.ActivityAt(sess, t.now)
		if err := t.change(locked, "locked_at = ?, last_activity_at = ?", us(*locked.LockedAt), us(locked.LastActivityAt)); err != nil {
			return err
		}
		details := map[string]any{"reason": r.Reason, "time_sent": r.TimeSent.UTC(), "locked_at": *locked.LockedAt,
			"already_locked": sess.LockedAt != nil}
		if r.InTransaction {
			details["transaction"] = "paused"
		}
		t.record(sess.PrincipalID, sess.TerminalID, latchkey.ActionSessionLock, id, details)
		out = locked
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// UnlockSession unlocks a locked session with the password of an identity
// of its principal, under the concurrent-login rule.
func (s *Store) UnlockSession(ctx context.Context, c latchkey.Caller, id string, r latchkey.UnlockRequest) (*latchkey.Session, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	term, err := s.terminalOf(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := latchkey.CanActAsTerminal(c, term); err != nil {
		return nil, err
	}
	v, err := s.verifyPassword(ctx, r.Identity, r.Password)
	if err != nil {
		return nil, err
	}
	var out latchkey.Session
	err = s.onSessionAt(ctx, term, id, func(t *tx, sess latchkey.Session) error {
		if err := latchkey.CheckSessionCall(sess, c.TerminalID); err != nil {
			return keep(err)
		}
		refuse := func(err error, reason string) error {
			d := map[string]any{"code": latchkey.ErrorCode(err), "identity": r.Identity, "force": r.Force}
			if ss, ok := latchkey.ErrorDetails(err)["sessions"].([]latchkey.SessionRef); ok {
				d["sessions"] = ss
			}
			if reason != "" {
				d["reason"] = reason
				if _, err := t.insertEvent(latchkey.TerminalEvent{TerminalID: sess.TerminalID, Event: latchkey.EventUnlockFailed,
					OccurredAt: r.TimeSent, Identity: r.Identity, Reason: reason}, "server"); err != nil {
					return err
				}
			}
			t.record(sess.PrincipalID, sess.TerminalID, latchkey.ActionSessionUnlockRefused, id, d)
			return keep(err)
		}
		p, reason, cerr := t.credentials(v, r.Password)
		if cerr != nil {
			if latchkey.ErrorCode(cerr) == latchkey.EINTERNAL {
				return cerr
			}
			return refuse(cerr, reason)
		}
		site, err := t.siteOfTerminal(sess.TerminalID)
		if err != nil {
			return err
		}
		active, err := t.activeSessions("WHERE s.principal_id = ?", p.ID)
		if err != nil {
			return err
		}
		o, err := latchkey.DecideUnlock(latchkey.UnlockInput{Session: sess, Identity: r.Identity, Principal: p, Site: site,
			Force: r.Force, Active: active, Now: t.now})
		if err != nil {
			return refuse(err, "")
		}
		failed := []string{}
		for _, f := range o.Fail {
			if ok, err := t.fail(f, p.ID, sess.TerminalID, id); err != nil {
				return err
			} else if ok {
				failed = append(failed, f.Session.ID)
			}
		}
		if err := t.change(sess, "locked_at = NULL, last_activity_at = ?", us(o.Session.LastActivityAt)); err != nil {
			return err
		}
		t.record(p.ID, sess.TerminalID, latchkey.ActionSessionUnlock, id, map[string]any{"identity": r.Identity, "force": r.Force,
			"failed": failed, "time_sent": r.TimeSent.UTC()})
		out = o.Session
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// TouchSession records activity on a session (it postpones the idle
// timeouts). It writes no audit record: activity is not a change of state.
func (s *Store) TouchSession(ctx context.Context, c latchkey.Caller, id string) (*latchkey.Session, error) {
	var out latchkey.Session
	err := s.onSession(ctx, id, func(t *tx, sess latchkey.Session) error {
		if err := latchkey.CanActAsTerminal(c, sess.TerminalID); err != nil {
			return keep(err)
		}
		if err := latchkey.CheckSessionCall(sess, c.TerminalID); err != nil {
			return keep(err)
		}
		sess.LastActivityAt = latchkey.ActivityAt(sess, t.now)
		if err := t.change(sess, "last_activity_at = ?", us(sess.LastActivityAt)); err != nil {
			return err
		}
		out = sess
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// EndSession logs a session out. Ending an ended or expired session again
// answers it as it is; a failed one answers session_failed.
func (s *Store) EndSession(ctx context.Context, c latchkey.Caller, id string) (*latchkey.Session, error) {
	var out latchkey.Session
	err := s.onSession(ctx, id, func(t *tx, sess latchkey.Session) error {
		if err := latchkey.CanActAsTerminal(c, sess.TerminalID); err != nil {
			return keep(err)
		}
		switch sess.Status {
		case latchkey.SessionEnded, latchkey.SessionExpired:
			out = sess
			return nil
		}
		if err := latchkey.CheckSessionCall(sess, c.TerminalID); err != nil {
			return keep(err)
		}
		if err := t.change(sess, "status = 'ended', ended_at = ?, end_reason = ?", us(t.now), latchkey.EndLogout); err != nil {
			return err
		}
		t.record(sess.PrincipalID, sess.TerminalID, latchkey.ActionSessionLogout, id, nil)
		sess.Status, sess.EndedAt, sess.EndReason = latchkey.SessionEnded, &t.now, latchkey.EndLogout
		out = sess
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// ListPrincipalSessions lists a principal's sessions (staff or itself),
// with the idle timeouts due by now applied first.
func (s *Store) ListPrincipalSessions(ctx context.Context, c latchkey.Caller, principalID string, status latchkey.SessionStatus, page latchkey.Page) ([]latchkey.Session, string, error) {
	if err := latchkey.CanListPrincipalSessions(c, principalID); err != nil {
		return nil, "", err
	}
	switch status {
	case "", latchkey.SessionActive, latchkey.SessionFailed, latchkey.SessionEnded, latchkey.SessionExpired:
	default:
		return nil, "", latchkey.BadField("status", "status must be active, failed, ended or expired")
	}
	if _, err := s.GetPrincipal(ctx, latchkey.Caller{Role: latchkey.RoleAdmin}, principalID); err != nil {
		return nil, "", err
	}
	if _, err := s.applyTimeouts(ctx, "s.principal_id = ?", principalID); err != nil {
		return nil, "", err
	}
	q := "SELECT " + sessionCols + sessionFrom + "WHERE s.principal_id = ? AND (? = '' OR s.status = ?) AND s.id > ?"
	scan := func(row interface{ Scan(...any) error }) (sessionRow, error) { return scanSession(row) }
	rows, next, err := list(ctx, s, q, page, scan, func(r sessionRow) string { return r.ID }, principalID, string(status), string(status))
	if err != nil {
		return nil, "", err
	}
	out := make([]latchkey.Session, len(rows))
	for i, r := range rows {
		out[i] = r.Session
	}
	return out, next, nil
}

// ApplyTimeouts applies every idle timeout and session limit due by now,
// and gives the warnings due before the limits.
func (s *Store) ApplyTimeouts(ctx context.Context) (int, error) {
	if err := s.resume(ctx); err != nil {
		return 0, err
	}
	w, err := s.warnSessions(ctx)
	if err != nil {
		return w, err
	}
	i, err := s.warnIdle(ctx)
	w += i
	if err != nil {
		return w, err
	}
	n, err := s.applyTimeouts(ctx, "1 = 1")
	return w + n, err
}

// applyTimeouts settles the ACTIVE sessions matching cond whose idle
// deadline has passed, each in its own transaction holding its terminal.
func (s *Store) applyTimeouts(ctx context.Context, cond string, args ...any) (int, error) {
	now := us(s.now())
	rows, err := s.query(ctx, `SELECT s.id, s.terminal_id `+sessionFrom+` WHERE s.status = 'active' AND `+cond+` AND (
		(s.ends_at IS NOT NULL AND s.ends_at <= ?)
		OR (st.forced_timeout_minutes > 0 AND s.last_activity_at + st.forced_timeout_minutes * CAST(60000000 AS BIGINT) <= ?)
		OR (st.inactivity_lock_minutes > 0 AND s.locked_at IS NULL
			AND s.last_activity_at + st.inactivity_lock_minutes * CAST(60000000 AS BIGINT) <= ?)) LIMIT 1000`,
		append(args, now, now, now)...)
	ids, err := scanDue(rows, err)
	if err != nil {
		return 0, err
	}
	for _, d := range ids {
		if err := s.onSessionAt(ctx, d.terminal, d.id, func(*tx, latchkey.Session) error { return nil }); err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}

// dueSession names a session a sweep must settle, with its terminal (the
// lock the sweep takes first).
type dueSession struct{ id, terminal string }

// scanDue reads the (id, terminal_id) rows of a sweep's query.
func scanDue(rows rowSet, err error) ([]dueSession, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []dueSession
	for rows.Next() {
		var d dueSession
		if err := rows.Scan(&d.id, &d.terminal); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}
