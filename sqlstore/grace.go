package sqlstore

import (
	"context"
	"time"

	"latchkey"
)

// resumeAfterSilence moves the cluster's last sign of life to now and,
// when the cluster was silent longer than the dead-after time (see
// latchkey.OutageGrace), gives the silence back to what was live when it
// began: edit-lock leases and places in their queues, the idle clocks of
// active sessions, and running jobs' claims. Nobody could renew them, and
// no rule could run, while nothing reached the store. It runs in every
// heartbeat, and before a sweep that finds the clock silent (resume), so
// whichever comes first after an outage applies it, once (the clock row is
// locked).
func (t *tx) resumeAfterSilence() error {
	if !t.s.opts.OutageGrace {
		return nil
	}
	var last int64
	if err := t.queryRow("SELECT last_beat FROM cluster_clock WHERE id = 1" + t.s.d.forUpdate()).Scan(&last); err != nil {
		return err
	}
	var lastBeat time.Time
	if last > 0 {
		lastBeat = fromUS(last)
	}
	if _, err := t.exec("UPDATE cluster_clock SET last_beat = ? WHERE id = 1", us(t.now)); err != nil {
		return err
	}
	grace := latchkey.OutageGrace(lastBeat, t.now, t.s.opts.NodeDeadAfter)
	if grace <= 0 {
		return nil
	}
	g, since := grace.Microseconds(), us(lastBeat)
	counts := map[string]any{"gap_seconds": grace.Seconds(), "silent_since": lastBeat}
	for _, u := range []struct{ what, q string }{
		{"locks", "UPDATE locks SET expires_at = expires_at + ? WHERE holder_token IS NOT NULL AND expires_at > ?"},
		{"queue_places", "UPDATE lock_waiters SET expires_at = expires_at + ? WHERE expires_at > ?"},
		{"sessions", "UPDATE sessions SET last_activity_at = last_activity_at + ? WHERE status = 'active' AND last_activity_at > ? - 86400000000"},
		{"job_claims", "UPDATE jobs SET lease_until = lease_until + ? WHERE state = 'running' AND lease_until > ?"},
	} {
		res, err := t.exec(u.q, g, since)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		counts[u.what] = n
	}
	t.record("system", "", latchkey.ActionClusterResume, "-", counts)
	return nil
}

// resume, before a sweep, gives a silence back when no heartbeat has yet
// (resumeAfterSilence in a transaction of its own). It reads the clock row
// first and writes only after a silence: the sweeps run every second or
// more often, and the heartbeats already move the clock on.
func (s *Store) resume(ctx context.Context) error {
	if !s.opts.OutageGrace {
		return nil
	}
	var last int64
	if err := s.queryRow(ctx, "SELECT last_beat FROM cluster_clock WHERE id = 1").Scan(&last); err != nil {
		return err
	}
	now := s.now()
	if last == 0 || latchkey.OutageGrace(fromUS(last), now, s.opts.NodeDeadAfter) == 0 {
		s.clockSeen.Store(us(now))
		return nil
	}
	if err := s.writeTx(ctx, func(t *tx) error { return t.resumeAfterSilence() }); err != nil {
		return err
	}
	s.clockSeen.Store(us(now))
	return nil
}

// freshen runs before every write: a node that has not seen the cluster
// clock for longer than the dead-after time (its heartbeats failed: the
// database was unreachable; or it has just started) looks at it first
// (resume), so that the first request after an outage, before any
// heartbeat, finds the silence given back instead of leases run out by
// it. Otherwise it costs an atomic load: the heartbeats keep the node's
// view fresh. Concurrent writes wait for the one look.
func (s *Store) freshen(ctx context.Context) error {
	if !s.opts.OutageGrace || s.clockFresh() {
		return nil
	}
	s.freshMu.Lock()
	defer s.freshMu.Unlock()
	if s.clockFresh() {
		return nil
	}
	return s.resume(ctx)
}

// clockFresh says whether this node saw the cluster clock within the
// dead-after time.
func (s *Store) clockFresh() bool {
	seen := s.clockSeen.Load()
	return seen > 0 && s.now().Sub(fromUS(seen)) < s.opts.NodeDeadAfter
}
