package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"time"

	"latchkey"
)

// UploadJournal records a terminal's offline sessions (POST
// /v1/agent/journal) in one transaction holding the terminal: each entry
// once (a re-upload answers the first verdict, and records an end that was
// not known before), each known identity's entry as a session with
// standalone true, and answers the reconnect verdict of each.
func (s *Store) UploadJournal(ctx context.Context, c latchkey.Caller, entries []latchkey.JournalEntry) ([]latchkey.JournalResult, error) {
	if err := latchkey.CanActAsAgent(c, "a journal is uploaded with a terminal token"); err != nil {
		return nil, err
	}
	if err := latchkey.ValidateJournal(entries, s.now()); err != nil {
		return nil, err
	}
	// Passwords sent for sessions in progress (auth any) are checked
	// before the transaction: argon2id is slow.
	passwordOK := make([]bool, len(entries))
	for i, e := range entries {
		if e.Password != "" && e.EndedAt == nil {
			v, err := s.verifyPassword(ctx, e.Identity, e.Password)
			if err != nil {
				return nil, err
			}
			passwordOK[i] = v.ok
		}
	}
	var out []latchkey.JournalResult
	err := s.write(ctx, func(t *tx) error {
		out = make([]latchkey.JournalResult, len(entries))
		term, err := t.lockTerminal(c.TerminalID)
		if err != nil {
			return err
		}
		site, err := t.loadSite(term.SiteID)
		if err != nil {
			return err
		}
		if err := t.lockJournalPeople(entries); err != nil {
			return err
		}
		view, err := t.viewJournal(term.ID, entries)
		if err != nil {
			return err
		}
		for i, e := range entries {
			if out[i], err = t.journalEntry(term, site, view, e, passwordOK[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// journalEntry records one entry and decides its verdict.
func (t *tx) journalEntry(term latchkey.Terminal, site latchkey.Site, v *journalView, e latchkey.JournalEntry, passwordOK bool) (latchkey.JournalResult, error) {
	res := latchkey.JournalResult{ID: e.ID}
	if row, ok := v.seen[e.ID]; ok { // a re-upload
		res.Session = row.session.String
		return t.journalAgain(res, e, row)
	}
	if e.Session != "" {
		return t.journalContinued(term, res, e)
	}
	p, ok := v.people[e.Identity]
	if !ok {
		res.Verdict, res.Reason = latchkey.DecideJournalEntry(latchkey.JournalEntryCheck{Ended: e.EndedAt != nil})
		t.record("system", term.ID, "session.standalone_unknown", e.ID, map[string]any{"identity": e.Identity,
			"started_at": e.StartedAt.UTC(), "ended_at": e.EndedAt, "verdict": res.Verdict})
		return res, t.insertJournalRow(term.ID, e, "", res)
	}
	// In-progress entries' people were locked by lockJournalPeople
	// before the view was read; ended entries need no lock (no rule looks
	// at the person's other sessions for them).
	check := latchkey.JournalEntryCheck{Ended: e.EndedAt != nil, IdentityValid: !p.Disabled && (passwordOK || (e.Password == "" && e.Verified))}
	var fail []latchkey.FailedSession
	if !check.Ended {
		active, err := t.activeSessions("WHERE s.principal_id = ?", p.ID)
		if err != nil {
			return res, err
		}
		on, err := t.activeSessions("WHERE s.terminal_id = ?", term.ID)
		if err != nil {
			return res, err
		}
		in := latchkey.LoginInput{Principal: p, Identity: e.Identity, Terminal: term.ID, Site: site, Active: active}
		if len(on) > 0 {
			in.OnTerminal = &on[0]
		}
		d := latchkey.DecideLogin(in)
		check.Concurrent, fail = d.Err != nil, d.Fail
		if rerr := t.checkReservation(p, term.ID, v.reservations); latchkey.ErrorCode(rerr) == latchkey.ECONFLICT {
			check.Reserved = true
		} else if rerr != nil {
			return res, rerr
		}
		check.OverMax = p.Role == latchkey.RoleUser && site.MaxSessionMinutes > 0 &&
			!t.now.Before(e.StartedAt.Add(time.Duration(site.MaxSessionMinutes)*time.Minute))
	}
	res.Session = e.ID
	if v.taken[e.ID] { // the agent's ID is taken: the session gets a new one
		res.Session = latchkey.NewID("ses")
	}
	v.taken[res.Session] = true
	if !check.Ended && !check.Concurrent {
		for _, f := range fail { // a stale session on this terminal: clean-up
			if _, err := t.fail(f, p.ID, term.ID, res.Session); err != nil {
				return res, err
			}
		}
	}
	status, endReason, last := latchkey.SessionActive, "", t.now
	if check.Ended {
		status, endReason, last = latchkey.SessionEnded, latchkey.EndLogout, *e.EndedAt
	}
	if _, err := t.exec(`INSERT INTO sessions (id, principal_id, identity, terminal_id, site_id, status, started_at, ended_at,
		last_activity_at, standalone, exempt, end_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, TRUE, ?, ?)`,
		res.Session, p.ID, e.Identity, term.ID, term.SiteID, status, us(e.StartedAt), nullUS(e.EndedAt), us(last), p.Global, endReason); err != nil {
		return res, err
	}
	if !check.Ended {
		left, _, err := t.quotaLeft(p, site)
		if err != nil {
			return res, err
		}
		check.QuotaLeft = left
	}
	res.Verdict, res.Reason = latchkey.DecideJournalEntry(check)
	t.record(p.ID, term.ID, "session.standalone", res.Session, map[string]any{"identity": e.Identity, "entry": e.ID,
		"started_at": e.StartedAt.UTC(), "ended_at": e.EndedAt, "verified": e.Verified, "locked_at": e.LockedAt,
		"verdict": res.Verdict, "reason": res.Reason})
	t.reportClashes(p, term.ID, res.Session, e, v.reservations)
	if err := t.applyVerdict(p, site, term.ID, v.reservations, e, check.QuotaLeft, &res); err != nil {
		return res, err
	}
	return res, t.insertJournalRow(term.ID, e, res.Session, res)
}

// lockJournalPeople locks the people of an upload's in-progress entries
// (whose verdict looks at their other sessions and quota) in ID order, so
// that uploads of two terminals sharing people cannot deadlock.
func (t *tx) lockJournalPeople(entries []latchkey.JournalEntry) error {
	var ids []string
	for _, e := range entries {
		if e.EndedAt != nil || e.Session != "" {
			continue
		}
		var pid string
		err := t.queryRow("SELECT principal_id FROM identities WHERE login = ?", e.Identity).Scan(&pid)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return err
		}
		ids = append(ids, pid)
	}
	slices.Sort(ids)
	for _, id := range slices.Compact(ids) {
		if _, err := t.lockPrincipal(id); err != nil {
			return err
		}
	}
	return nil
}

// applyVerdict carries out the verdict on the recorded session: logoff
// ends it now; warn_then_logoff gives the warning now and ends it
// warning_seconds later; ok (in progress) puts its limits on it (left is
// the quota the verdict was judged on, rs the terminal's reservations),
// the maximum duration counted from its offline start.
func (t *tx) applyVerdict(p latchkey.Principal, site latchkey.Site, terminal string, rs []latchkey.Reservation, e latchkey.JournalEntry,
	left *time.Duration, res *latchkey.JournalResult) error {
	if e.EndedAt != nil {
		return nil
	}
	warning := time.Duration(site.WarningSeconds) * time.Second
	switch res.Verdict {
	case latchkey.VerdictLogoff:
		if _, err := t.exec("UPDATE sessions SET status = 'ended', ended_at = ?, end_reason = ? WHERE id = ?", us(t.now), res.Reason, res.Session); err != nil {
			return err
		}
		t.record("system", terminal, "session.logoff", res.Session, map[string]any{"principal": p.ID, "reason": res.Reason})
		return nil
	case latchkey.VerdictWarnThenLogoff:
		res.WarningSeconds = site.WarningSeconds
		ends := t.now.Add(warning)
		if _, err := t.exec("UPDATE sessions SET ends_at = ?, warn_at = ?, limit_reason = ?, warned = TRUE WHERE id = ?",
			us(ends), us(t.now), res.Reason, res.Session); err != nil {
			return err
		}
		t.record("system", terminal, "session.warn", res.Session, map[string]any{"principal": p.ID, "limit": res.Reason,
			"ends_at": ends, "seconds_left": site.WarningSeconds})
		return nil
	}
	a := t.allowance(p, site, rs, left)
	if p.Role == latchkey.RoleUser && site.MaxSessionMinutes > 0 {
		if end := e.StartedAt.Add(time.Duration(site.MaxSessionMinutes) * time.Minute); a.Ends.IsZero() || end.Before(a.Ends) {
			a = latchkey.SessionAllowance(e.StartedAt, end.Sub(e.StartedAt), nil, time.Time{}, warning)
		}
	}
	var s latchkey.Session
	setLimit(&s, a)
	if s.EndsAt == nil {
		return nil
	}
	_, err := t.exec("UPDATE sessions SET ends_at = ?, warn_at = ?, limit_reason = ? WHERE id = ?", us(*s.EndsAt), us(*s.WarnAt), s.Limit, res.Session)
	return err
}

// journalAgain answers a re-uploaded entry: the first verdict while it is
// in progress (the warning's time left recomputed), ok once it has ended;
// an end not known before is recorded.
func (t *tx) journalAgain(res latchkey.JournalResult, e latchkey.JournalEntry, row journalRow) (latchkey.JournalResult, error) {
	verdict, reason := row.verdict, row.reason
	if row.active && e.EndedAt != nil {
		if err := t.endOffline(res.Session, *e.EndedAt); err != nil {
			return res, err
		}
	}
	if e.EndedAt != nil {
		res.Verdict = latchkey.VerdictOK
		return res, nil
	}
	res.Verdict, res.Reason = verdict, reason
	if verdict == latchkey.VerdictWarnThenLogoff && res.Session != "" {
		sess, err := t.session(res.Session)
		if err != nil {
			return res, err
		}
		if sess.EndsAt != nil {
			res.WarningSeconds = int(max(sess.EndsAt.Sub(t.now), 0) / time.Second)
		}
	}
	return res, nil
}

// journalContinued records the offline end of an online session that was
// in progress when contact was lost.
func (t *tx) journalContinued(term latchkey.Terminal, res latchkey.JournalResult, e latchkey.JournalEntry) (latchkey.JournalResult, error) {
	var owner string
	if err := t.queryRow("SELECT terminal_id FROM sessions WHERE id = ?", e.Session).Scan(&owner); err != nil || owner != term.ID {
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return res, err
		}
		return res, latchkey.Errorf(latchkey.ENOTFOUND, "session %s is not a session of this terminal", e.Session).With("entry", e.ID)
	}
	res.Session, res.Verdict = e.Session, latchkey.VerdictOK
	if e.EndedAt != nil {
		if err := t.endOffline(e.Session, *e.EndedAt); err != nil {
			return res, err
		}
	}
	return res, t.insertJournalRow(term.ID, e, e.Session, res)
}

// endOffline ends an ACTIVE session at the time the agent saw it end
// offline (never before it started); a session already over is left.
func (t *tx) endOffline(id string, at time.Time) error {
	sess, err := t.session(id)
	if err != nil || sess.Status != latchkey.SessionActive {
		return err
	}
	if at.Before(sess.StartedAt) {
		at = sess.StartedAt
	}
	if _, err := t.exec("UPDATE sessions SET status = 'ended', ended_at = ?, end_reason = ? WHERE id = ? AND status = 'active'",
		us(at), latchkey.EndLogout, id); err != nil {
		return err
	}
	t.record(sess.PrincipalID, sess.TerminalID, "session.logout", id, map[string]any{"offline": true, "ended_at": at.UTC()})
	return nil
}

// reportClashes records a session.clash for every reservation of
// someone else at the terminal that the offline session ran into: the
// reservation stands (it was booked on the server); the session is kept as
// it happened, and admins see the clash in the audit log and event stream.
func (t *tx) reportClashes(p latchkey.Principal, terminal, session string, e latchkey.JournalEntry, rs []latchkey.Reservation) {
	end := t.now
	if e.EndedAt != nil {
		end = *e.EndedAt
	}
	for _, r := range rs {
		if r.Principal == p.ID || !r.Start.Before(end) || !e.StartedAt.Before(r.End()) {
			continue
		}
		t.record("system", terminal, "session.clash", session, map[string]any{"reservation": r.ID, "principal": p.ID,
			"reserved_for": r.Principal, "start": r.Start, "minutes": r.Minutes,
			"rule": "the reservation stands; the offline session is recorded as it happened and, if still running, logged off after the warning"})
	}
}

func (t *tx) insertJournalRow(terminal string, e latchkey.JournalEntry, session string, res latchkey.JournalResult) error {
	var sid any
	if session != "" {
		sid = session
	}
	_, err := t.exec("INSERT INTO journal_entries (terminal_id, id, identity, session_id, verdict, reason, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
		terminal, e.ID, e.Identity, sid, res.Verdict, res.Reason, us(t.now))
	return err
}

// ReportAgentStatus records the agent's mode; a change is audited
// (terminal.standalone) and announced.
func (s *Store) ReportAgentStatus(ctx context.Context, c latchkey.Caller, st latchkey.AgentStatus) (*latchkey.Terminal, error) {
	if err := latchkey.CanActAsAgent(c, "the agent status is reported with a terminal token"); err != nil {
		return nil, err
	}
	err := s.write(ctx, func(t *tx) error {
		since := st.Since
		if since.IsZero() || since.After(t.now) {
			since = t.now
		}
		details := map[string]any{"standalone": st.Standalone, "since": since}
		// A change of mode; or, coming back, a standalone period the
		// server did not know of (recorded once: its start is kept).
		q := "UPDATE terminals SET standalone = ?, standalone_since = ?, agent_seen_at = ? WHERE id = ? AND standalone <> ?"
		args := []any{st.Standalone, us(since), us(t.now), c.TerminalID, st.Standalone}
		if from := st.StandaloneFrom; !from.IsZero() && !st.Standalone {
			q = "UPDATE terminals SET standalone = FALSE, standalone_since = ?, agent_seen_at = ? WHERE id = ? AND (standalone = TRUE OR standalone_since <> ?)"
			args = []any{us(from), us(t.now), c.TerminalID, us(from)}
			details["standalone_from"], details["seconds"] = from.UTC(), int(since.Sub(from)/time.Second)
		}
		res, err := t.exec(q, args...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		t.record(c.TerminalID, c.TerminalID, "terminal.standalone", c.TerminalID, details)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.GetTerminal(ctx, c, c.TerminalID)
}

// SetOfflineLogon allows or revokes a principal's offline logon (staff).
func (s *Store) SetOfflineLogon(ctx context.Context, c latchkey.Caller, principal string, enabled bool) error {
	if err := requireStaff(c); err != nil {
		return err
	}
	return s.write(ctx, func(t *tx) error {
		if _, err := t.lockPrincipal(principal); err != nil {
			return err
		}
		if _, err := t.exec("UPDATE principals SET offline_logon = ? WHERE id = ?", enabled, principal); err != nil {
			return err
		}
		t.record(c.Actor(), "", "principal.offline_logon", principal, map[string]any{"enabled": enabled})
		return nil
	})
}
