package agent

import (
	"context"
	"errors"
	"time"

	"latchkey"
)

// unreachableError is a call that found the server unreachable (the
// gateway is in standalone mode by then).
type unreachableError struct{ err error }

func (e *unreachableError) Error() string { return "server unreachable: " + e.err.Error() }
func (e *unreachableError) Unwrap() error { return e.err }

func isUnreachable(err error) bool {
	var u *unreachableError
	return errors.As(err, &u)
}

// serverFault reports an error that is the server's, not the request's:
// the API's internal error (a 5xx). An entry is never given up for one.
// (A 5xx without the API's error shape never gets here: call treats it as
// an unreachable server.)
func serverFault(err error) bool {
	var e *latchkey.Error
	return errors.As(err, &e) && e.Code == latchkey.EINTERNAL
}

// call makes one call to the server, bounded by the call timeout. An
// unreachable server (IsOffline) puts the gateway in standalone mode and
// comes back as an *unreachableError; an API refusal comes back as it is.
func call[T any](g *Gateway, ctx context.Context, f func(context.Context) (T, error)) (T, error) {
	cctx, cancel := g.callCtx(ctx)
	defer cancel()
	v, err := f(cctx)
	if IsOffline(err) {
		g.goStandalone(ctx, err)
		return v, &unreachableError{err}
	}
	return v, err
}

// Sync contacts the server: it fetches the policy (anchoring the clock),
// coming back from standalone mode (or first after the agent starts)
// reports that the agent is online and when its standalone period began,
// uploads the journal until every entry is acknowledged and applies the
// verdicts, refreshes the session in progress from the server, reports a
// lock the server was not told of, and then goes online. An unreachable
// server leaves (or puts) the gateway in standalone mode.
func (g *Gateway) Sync(ctx context.Context) error {
	g.op.Lock()
	defer g.op.Unlock()
	err := g.syncLocked(ctx)
	if err != nil && !isUnreachable(err) {
		g.log.Error("sync", "err", err)
	}
	return err
}

func (g *Gateway) syncLocked(ctx context.Context) error {
	p, err := call(g, ctx, g.client.AgentPolicy)
	switch {
	case isUnreachable(err):
		return err
	case err != nil:
		g.log.Error("policy refused", "err", err) // a real answer: the server is there
	default:
		if err := g.applyPolicy(ctx, p); err != nil {
			return err
		}
	}
	// Coming back, the agent reports the standalone period before it
	// uploads the journal: the server bounds the period's entries by its
	// start (no entry may start before it).
	now := g.clock.Now()
	if !g.online() || !g.reported {
		report := latchkey.AgentStatus{Standalone: false, Since: now}
		g.mu.Lock()
		if g.mode == ModeStandalone {
			report.StandaloneFrom = g.since // the period that ends now
		}
		g.mu.Unlock()
		_, err := call(g, ctx, func(c context.Context) (*latchkey.Terminal, error) {
			return g.client.ReportAgentStatus(c, report)
		})
		if isUnreachable(err) {
			return err
		}
		if err != nil {
			g.log.Error("status report refused", "err", err)
		}
		g.reported = true
	}
	for _, step := range []func(context.Context) error{g.uploadPending, g.refreshSession, g.reportLock, g.sendEvents} {
		if err := step(ctx); err != nil {
			return err
		}
	}
	g.mu.Lock()
	change := g.mode != ModeOnline || g.since.IsZero()
	g.mu.Unlock()
	if change {
		if err := g.goOnline(context.WithoutCancel(ctx), now); err != nil {
			return err
		}
	}
	return g.j.pruneSessions(context.WithoutCancel(ctx), now.Add(-48*time.Hour))
}

// applyPolicy caches a fresh policy, only if its signature verifies under
// the pinned server key (Trust.AcceptPolicy): the clock is anchored at its
// issue time, and its quota snapshot kept only if it too verifies under
// that key. A policy refused leaves everything as it was, and the sync
// stops there: nothing is uploaded to a server that cannot prove it is
// the one pinned.
func (g *Gateway) applyPolicy(ctx context.Context, p *latchkey.AgentPolicy) error {
	dctx := context.WithoutCancel(ctx)
	if err := g.o.Trust.AcceptPolicy(dctx, p); err != nil {
		g.log.Error("the server's policy is refused: it is not cached and nothing is sent this round", "err", err)
		return err
	}
	if !p.IssuedAt.IsZero() {
		g.clock.SetAnchor(p.IssuedAt)
		g.saveClock(dctx, true)
	}
	if snap := p.QuotaSnapshot; snap != nil {
		if err := snap.Verify(g.o.Trust.Key()); err != nil {
			g.log.Warn("quota snapshot dropped", "err", err)
			p.QuotaSnapshot = nil
		}
	}
	if err := g.j.putState(dctx, statePolicy, p); err != nil {
		return err
	}
	g.mu.Lock()
	g.policy = p
	g.mu.Unlock()
	return nil
}

// uploadPending uploads the journal's pending entries, in batches, until
// every one is acknowledged, and applies each verdict. A batch the server
// refuses, or answers only in part, is sent again entry by entry; an
// entry the server refuses on its own is marked rejected (and not sent
// again) so that one bad entry cannot keep the terminal offline.
func (g *Gateway) uploadPending(ctx context.Context) error {
	dctx := context.WithoutCancel(ctx)
	for {
		rows, err := g.j.pendingSessions(dctx)
		if err != nil || len(rows) == 0 {
			return err
		}
		batch := rows[:min(len(rows), latchkey.MaxJournalEntries)]
		entries := make([]latchkey.JournalEntry, len(batch))
		for i := range batch {
			entries[i] = g.entry(g.fresh(batch[i]))
		}
		results, err := call(g, ctx, func(c context.Context) ([]latchkey.JournalResult, error) {
			return g.client.UploadJournal(c, entries)
		})
		if isUnreachable(err) {
			return err
		}
		if err != nil {
			g.log.Warn("journal upload refused; sending its entries one by one", "err", err)
		}
		got := make(map[string]latchkey.JournalResult, len(results))
		for _, r := range results {
			got[r.ID] = r
		}
		for i, row := range batch {
			r, ok := got[row.ID]
			if !ok {
				one, err := call(g, ctx, func(c context.Context) ([]latchkey.JournalResult, error) {
					return g.client.UploadJournal(c, entries[i:i+1])
				})
				if isUnreachable(err) {
					return err
				}
				if serverFault(err) {
					return err // the server failed, not the entry: keep it and try again later
				}
				if err == nil && len(one) == 1 && one[0].ID == row.ID {
					r, ok = one[0], true
				} else if err == nil {
					err = errors.New("no verdict for the entry")
				}
				if !ok {
					if err := g.rejectEntry(ctx, g.fresh(row), err); err != nil {
						return err
					}
					continue
				}
			}
			if err := g.applyVerdict(ctx, g.fresh(row), r); err != nil {
				return err
			}
		}
	}
}

// fresh returns the session in progress in place of its journal row.
func (g *Gateway) fresh(row gwSession) gwSession {
	if c := g.current(); c != nil && c.ID == row.ID {
		return *c
	}
	return row
}

// entry is a session's journal entry: an offline session as itself, an
// online one that the server was not told the end of by its session ID.
// The password of an offline session still in progress that the agent
// could not check goes along, from memory.
func (g *Gateway) entry(s gwSession) latchkey.JournalEntry {
	e := latchkey.JournalEntry{ID: s.ID, Identity: s.Identity, StartedAt: s.StartedAt, EndedAt: s.EndedAt,
		Standalone: s.Standalone, Reservation: s.Reservation, Verified: s.Verified}
	if !s.Standalone {
		e.Session = s.ID
	}
	if s.Lock == lockedHere {
		e.LockedAt = s.LockedAt
	}
	if s.Standalone && s.EndedAt == nil && !s.Verified {
		g.mu.Lock()
		e.Password = g.passwords[s.ID]
		g.mu.Unlock()
	}
	return e
}

// applyVerdict applies the server's verdict on one entry: ok makes an
// entry in progress an ordinary server session the agent continues
// online; warn_then_logoff does too, but gives the Time Critical Warning
// and then logs it off; logoff ends it at once.
func (g *Gateway) applyVerdict(ctx context.Context, s gwSession, r latchkey.JournalResult) error {
	ev := evVerdictOK
	switch r.Verdict {
	case latchkey.VerdictLogoff:
		ev = evVerdictLogoff
	case latchkey.VerdictWarnThenLogoff:
		ev = evVerdictWarn
	}
	if ev == evVerdictLogoff && !s.State.ended() {
		g.log.Warn("the server logged off an offline session", "session", s.ID, "reason", r.Reason)
		return g.finish(ctx, s, ev, g.sessionNow(&s), orText(r.Reason, string(latchkey.VerdictLogoff)))
	}
	st, ok := next(s.State, ev)
	if !ok {
		return refusedTransition(s.ID, s.State, ev)
	}
	s.State = st
	if st.ended() {
		return g.store(ctx, s)
	}
	g.mu.Lock()
	delete(g.passwords, s.ID)
	g.mu.Unlock()
	if st == stateWarned {
		secs := r.WarningSeconds
		if p := g.cachedPolicy(); secs <= 0 && p != nil {
			secs = p.WarningSeconds
		}
		now := g.sessionNow(&s)
		if end := now.Add(time.Duration(secs) * time.Second); s.EndsAt.IsZero() || end.Before(s.EndsAt) {
			s.EndsAt, s.Limit = end, orText(r.Reason, string(latchkey.VerdictWarnThenLogoff))
		}
		if s.WarnAt.IsZero() || now.Before(s.WarnAt) {
			s.WarnAt = now
		}
		g.log.Warn("the server gives an offline session the warning, then logs it off", "session", s.ID, "reason", r.Reason, "at", s.EndsAt)
	}
	return g.store(ctx, s)
}

// rejectEntry gives up on an entry the server refuses: it is not sent
// again, and a session in progress that the server will not hold ends.
func (g *Gateway) rejectEntry(ctx context.Context, s gwSession, cause error) error {
	g.log.Error("the server refused a journal entry; it will not be sent again", "session", s.ID, "err", cause)
	if !s.State.ended() {
		return g.finish(ctx, s, evRejected, g.sessionNow(&s), "rejected")
	}
	st, ok := next(s.State, evRejected)
	if !ok {
		return refusedTransition(s.ID, s.State, evRejected)
	}
	s.State = st
	return g.store(ctx, s)
}

// refreshSession takes the server's view of the session in progress: an
// end there (failed, expired) ends it here; its limit and lock are
// adopted.
func (g *Gateway) refreshSession(ctx context.Context) error {
	s := g.current()
	if s == nil || !s.State.known() {
		return nil
	}
	srv, err := call(g, ctx, func(c context.Context) (*latchkey.Session, error) { return g.client.GetSession(c, s.ID) })
	if isUnreachable(err) {
		return err
	}
	if err != nil {
		return g.dropIfGone(ctx, *s, err)
	}
	if srv.Status != latchkey.SessionActive {
		at := g.sessionNow(s)
		if srv.EndedAt != nil {
			at = *srv.EndedAt
		}
		return g.endSession(ctx, *s, at, orText(srv.EndReason, string(srv.Status)), endServer)
	}
	n := *s
	g.adoptServer(&n, srv)
	if n.EndsAt.Equal(s.EndsAt) && n.WarnAt.Equal(s.WarnAt) && n.Limit == s.Limit && n.Lock == s.Lock {
		return nil
	}
	return g.store(ctx, n)
}

// reportLock tells the server of a lock made while it could not be
// reached, at the time it was made.
func (g *Gateway) reportLock(ctx context.Context) error {
	s := g.current()
	if s == nil || !s.State.known() || s.Lock != lockedHere {
		return nil
	}
	err := g.lockOnline(ctx, *s, orText(s.LockReason, LockManual), false, *s.LockedAt)
	if err != nil && !isUnreachable(err) {
		g.log.Error("report of an offline lock refused", "session", s.ID, "err", err)
		return nil
	}
	return err
}

func orText(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
