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
// standalone true, and answers the reconnect verdict of each. What an
// entry claims is bounded by what the server knows (issue 10, hole 4):
// its identity counts as checked only as latchkey.CheckJournalIdentity
// says, its times as latchkey.BoundJournalEntry says, and a session whose
// person was not established is recorded unverified (never charged to a
// quota, never a reason to cache a verifier).
func (s *Store) UploadJournal(ctx context.Context, c latchkey.Caller, entries []latchkey.JournalEntry) ([]latchkey.JournalResult, error) {
	if err := latchkey.CanActAsAgent(c, "a journal is uploaded with a terminal token"); err != nil {
		return nil, err
	}
	if err := latchkey.ValidateJournal(entries, s.now()); err != nil {
		return nil, err
	}
	checked, err := s.journalPasswords(ctx, c.TerminalID, entries)
	if err != nil {
		return nil, err
	}
	var out []latchkey.JournalResult
	err = s.write(ctx, func(t *tx) error {
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
			if out[i], err = t.journalEntry(term, site, view, e, checked[i]); err != nil {
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

// journalPasswords checks, before the transaction (argon2id is slow), the
// passwords sent for sessions in progress when the terminal's site takes
// any password offline (standalone_auth any): at most
// latchkey.MaxJournalPasswordChecks an upload, in entry order; the rest
// are not checked (nil), and their entries are judged unchecked. The
// outcome goes through the credentials check of an online logon inside
// the transaction (failed-attempt count and lockout included).
func (s *Store) journalPasswords(ctx context.Context, terminal string, entries []latchkey.JournalEntry) ([]*verified, error) {
	out := make([]*verified, len(entries))
	var site latchkey.Site
	if err := s.read(ctx, func(t *tx) error {
		var err error
		site, err = t.siteOfTerminal(terminal)
		return err
	}); err != nil {
		return nil, err
	}
	if !site.AllowStandalone || site.StandaloneAuth != latchkey.StandaloneAuthAny {
		return out, nil
	}
	budget := latchkey.MaxJournalPasswordChecks
	for i, e := range entries {
		if budget == 0 {
			break
		}
		if e.Password == "" || e.EndedAt != nil || e.Session != "" {
			continue
		}
		v, err := s.verifyPassword(ctx, e.Identity, e.Password)
		if err != nil {
			return nil, err
		}
		out[i] = &v
		budget--
	}
	return out, nil
}

// journalEntry records one entry and decides its verdict. pw is the
// entry's password check (nil when none was made).
func (t *tx) journalEntry(term latchkey.Terminal, site latchkey.Site, v *journalView, e latchkey.JournalEntry, pw *verified) (latchkey.JournalResult, error) {
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
		t.record("system", term.ID, latchkey.ActionSessionStandaloneUnknown, e.ID, map[string]any{"identity": e.Identity,
			"started_at": e.StartedAt.UTC(), "ended_at": e.EndedAt, "verdict": res.Verdict})
		return res, t.insertJournalRow(term.ID, e, "", res)
	}
	claimed := e
	b := latchkey.BoundJournalEntry(e.StartedAt, e.EndedAt, latchkey.JournalBounds{Now: t.now, PeriodStart: v.periodStart,
		MaxSession: latchkey.MaxSessionFor(p.Role, site)})
	e.StartedAt, e.EndedAt = b.StartedAt, b.EndedAt
	idIn, credReason, err := t.journalIdentity(site, p, v, claimed, pw)
	if err != nil {
		return res, err
	}
	id := latchkey.CheckJournalIdentity(idIn)
	// In-progress entries' people were locked by lockJournalPeople
	// before the view was read; ended entries need no lock (no rule looks
	// at the person's other sessions for them).
	ended := e.EndedAt != nil
	var check latchkey.JournalEntryCheck
	var fail []latchkey.FailedSession
	if !ended {
		active, err := t.activeSessions("WHERE s.principal_id = ?", p.ID)
		if err != nil {
			return res, err
		}
		on, err := t.activeSessions("WHERE s.terminal_id = ?", term.ID)
		if err != nil {
			return res, err
		}
		holding, err := t.holdingReservation(term.ID, v.reservations)
		if err != nil {
			return res, err
		}
		in := latchkey.LoginInput{Principal: p, Identity: e.Identity, Terminal: term.ID, Site: site, Now: t.now, Active: active,
			Reservations: v.reservations, Holding: holding}
		if len(on) > 0 {
			in.OnTerminal = &on[0]
		}
		check, fail = latchkey.JournalSessionRules(in, e.StartedAt)
	}
	check.Ended, check.IdentityValid, check.IdentityReason = ended, id.Valid, id.Reason
	res.Session = e.ID
	if v.taken[e.ID] { // the agent's ID is taken: the session gets a new one
		res.Session = latchkey.NewID("ses")
	}
	v.taken[res.Session] = true
	if !check.Ended {
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
		last_activity_at, standalone, exempt, end_reason, unverified) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, TRUE, ?, ?, ?)`,
		res.Session, p.ID, e.Identity, term.ID, term.SiteID, status, us(e.StartedAt), nullUS(e.EndedAt), us(last), p.Global, endReason,
		!id.Counts); err != nil {
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
	details := map[string]any{"identity": e.Identity, "entry": e.ID,
		"started_at": e.StartedAt.UTC(), "ended_at": e.EndedAt, "verified": e.Verified, "locked_at": e.LockedAt,
		"verdict": res.Verdict, "reason": res.Reason, "verifier_held": idIn.VerifierHeld, "counts_towards_quota": id.Counts}
	if idIn.PasswordChecked {
		details["password_checked"], details["credentials"] = true, credReason
	} else if claimed.Password != "" && !check.Ended {
		details["password_checked"] = false // over the upload's budget, or the site does not check passwords
	}
	if len(b.Clipped) > 0 {
		details["clipped"], details["claimed_started_at"], details["claimed_ended_at"] = b.Clipped, claimed.StartedAt.UTC(), claimed.EndedAt
	}
	t.record(p.ID, term.ID, latchkey.ActionSessionStandalone, res.Session, details)
	t.reportClashes(p, term.ID, res.Session, e, v.reservations)
	if err := t.applyVerdict(p, site, term.ID, v.reservations, e, check.QuotaLeft, &res); err != nil {
		return res, err
	}
	return res, t.insertJournalRow(term.ID, e, res.Session, res)
}

// journalIdentity gathers what the server knows of how an entry's person
// (p) was checked, for latchkey.CheckJournalIdentity: whether the terminal
// held the login's verifier at the start the entry claims (no later than
// now: a start moved up by the bounds does not make an unchecked entry
// checked), and, with standalone_auth any, the outcome of the entry's
// password (pw, checked before the transaction) through the credentials
// check of an online logon, which counts a failed attempt or clears the
// count; credReason is that check's reason of a refusal.
func (t *tx) journalIdentity(site latchkey.Site, p latchkey.Principal, v *journalView, e latchkey.JournalEntry, pw *verified) (
	in latchkey.JournalIdentityInput, credReason string, err error) {
	in = latchkey.JournalIdentityInput{AllowStandalone: site.AllowStandalone, Auth: site.StandaloneAuth, Role: p.Role,
		Disabled: p.Disabled, Ended: e.EndedAt != nil, Verified: e.Verified}
	in.VerifierHeld = v.sent[e.Identity].HeldAt(minT(e.StartedAt, t.now))
	if pw != nil && site.AllowStandalone && site.StandaloneAuth == latchkey.StandaloneAuthAny {
		_, reason, cerr := t.credentials(*pw, e.Password)
		if latchkey.ErrorCode(cerr) == latchkey.EINTERNAL {
			return in, "", cerr
		}
		in.PasswordChecked, in.PasswordOK, credReason = true, cerr == nil, reason
	}
	return in, credReason, nil
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
		t.record("system", terminal, latchkey.ActionSessionLogoff, res.Session, map[string]any{"principal": p.ID, "reason": res.Reason})
		return nil
	case latchkey.VerdictWarnThenLogoff:
		res.WarningSeconds = site.WarningSeconds
		ends := t.now.Add(warning)
		if _, err := t.exec("UPDATE sessions SET ends_at = ?, warn_at = ?, limit_reason = ?, warned = TRUE WHERE id = ?",
			us(ends), us(t.now), res.Reason, res.Session); err != nil {
			return err
		}
		t.record("system", terminal, latchkey.ActionSessionWarn, res.Session, map[string]any{"principal": p.ID, "limit": res.Reason,
			"ends_at": ends, "seconds_left": site.WarningSeconds})
		return nil
	}
	s := latchkey.Session{}.WithLimit(latchkey.OfflineAllowance(p, site, rs, left, e.StartedAt, t.now))
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
// offline (never before it started, after now or after its limit's end);
// a session already over is left.
func (t *tx) endOffline(id string, at time.Time) error {
	sess, err := t.session(id)
	if err != nil || sess.Status != latchkey.SessionActive {
		return err
	}
	if at.After(t.now) {
		at = t.now // within the clock skew ValidateJournal allows
	}
	if sess.EndsAt != nil && at.After(*sess.EndsAt) {
		at = *sess.EndsAt // it could not run past its limit
	}
	if at.Before(sess.StartedAt) {
		at = sess.StartedAt
	}
	if _, err := t.exec("UPDATE sessions SET status = 'ended', ended_at = ?, end_reason = ? WHERE id = ? AND status = 'active'",
		us(at), latchkey.EndLogout, id); err != nil {
		return err
	}
	t.record(sess.PrincipalID, sess.TerminalID, latchkey.ActionSessionLogout, id, map[string]any{"offline": true, "ended_at": at.UTC()})
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
		t.record("system", terminal, latchkey.ActionSessionClash, session, map[string]any{"reservation": r.ID, "principal": p.ID,
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
		// The start of the latest standalone period (going standalone, or
		// the period that just ended): journal entries of the terminal
		// may not start before it. It only moves forward, never past now.
		if from := st.StandaloneFrom; st.Standalone || !from.IsZero() {
			if st.Standalone {
				from = since
			}
			if from.After(t.now) {
				from = t.now
			}
			if _, err := t.exec("UPDATE terminals SET standalone_from = ? WHERE id = ? AND standalone_from < ?",
				us(from), c.TerminalID, us(from)); err != nil {
				return err
			}
		}
		t.record(c.TerminalID, c.TerminalID, latchkey.ActionTerminalStandalone, c.TerminalID, details)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.GetTerminal(ctx, c, c.TerminalID)
}

// SetOfflineLogon allows or revokes a principal's offline logon (staff).
func (s *Store) SetOfflineLogon(ctx context.Context, c latchkey.Caller, principal string, enabled bool) error {
	if err := latchkey.CanSetOfflineLogon(c); err != nil {
		return err
	}
	return s.write(ctx, func(t *tx) error {
		if _, err := t.lockPrincipal(principal); err != nil {
			return err
		}
		if err := t.checkManaged(latchkey.LockAdminUsers, c); err != nil {
			return err
		}
		if _, err := t.exec("UPDATE principals SET offline_logon = ? WHERE id = ?", enabled, principal); err != nil {
			return err
		}
		t.record(c.Actor(), "", latchkey.ActionPrincipalOfflineLogon, principal, map[string]any{"enabled": enabled})
		return nil
	})
}
