package bench

import (
	"context"
	"database/sql"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"syscall"
	"time"
)

// faults SIGKILLs or SIGSTOPs a random node every FaultGapMin to
// FaultGapMax until the load ends (or MaxFaults), one node out at a
// time; a killed node is restarted and a stopped one continued. When it
// returns every node is up again; its error is a node that would not
// restart.
func (s *soak) faults() error {
	next := s.start.Add(randBetween(FaultGapMin, FaultGapMax))
	for n := 0; s.cfg.MaxFaults == 0 || n < s.cfg.MaxFaults; n++ {
		select {
		case <-s.loadOver:
			return nil
		case <-time.After(time.Until(next)):
		}
		victim := s.nodes[mrand.IntN(len(s.nodes))]
		sig := syscall.SIGKILL
		if mrand.IntN(2) == 1 {
			sig = syscall.SIGSTOP
		}
		f := &Fault{Node: victim.n, Signal: signalName(sig)}
		held := s.aim(victim, f)
		at := time.Now()
		if sig == syscall.SIGKILL {
			victim.kill()
		} else {
			victim.stop()
		}
		held = s.stillHeld(held, f)
		f.At, f.Held = at.Sub(s.start), len(held)
		for _, h := range held {
			f.Kinds = append(f.Kinds, h.kind)
		}
		s.faultsMu.Lock()
		s.res.Faults = append(s.res.Faults, f)
		s.faultsMu.Unlock()
		if len(held) > 0 {
			s.trackers.Add(1)
			go func() { defer s.trackers.Done(); s.track(f, held, at, sig) }()
		}
		next = at.Add(randBetween(FaultGapMin, FaultGapMax))
		if err := s.restore(victim, sig, f, at); err != nil {
			return err
		}
		f.Down = time.Since(at)
		fmt.Fprintf(s.progress, "  %3.0fs: %s node %d (%d jobs held), back after %s\n", f.At.Seconds(), f.Signal, f.Node, f.Held, f.Down.Round(time.Millisecond))
	}
	return nil
}

func signalName(sig syscall.Signal) string {
	if sig == syscall.SIGKILL {
		return "SIGKILL"
	}
	return "SIGSTOP"
}

// restore brings the victim back after its time out: a killed node is
// restarted on its port (and must listen), a stopped one continued. The
// time out is shortened when the load ends.
func (s *soak) restore(nd *soakNode, sig syscall.Signal, f *Fault, at time.Time) error {
	lo, hi := KillDownMin, KillDownMax
	if sig == syscall.SIGSTOP {
		lo, hi = StopMin, StopMax
	}
	select {
	case <-time.After(randBetween(lo, hi)):
	case <-s.loadOver:
	case <-s.ctx.Done():
	}
	if sig == syscall.SIGSTOP {
		nd.signal(syscall.SIGCONT)
		f.mu.Lock()
		f.contAfter = time.Since(at)
		f.mu.Unlock()
		return nil
	}
	var err error
	for range 3 {
		if err = nd.start(s.cfg.Binary, s.storeURL, s.adminPassword, s.serveFlags()); err == nil {
			return nil
		}
		time.Sleep(time.Second)
	}
	return fmt.Errorf("bench: node %d would not restart: %w", nd.n, err)
}

// heldJob is a job the victim ran under its lease when it was signalled.
type heldJob struct {
	id, kind string
	fence    int64
	// left is how much of the claim's lease was left when it was read
	// after the signal (by the database's clock, which the nodes stamp
	// leases with).
	left time.Duration
}

// nowUS is the database's clock in microseconds, the unit of the jobs'
// times.
const nowUS = "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000)::bigint"

// aim finds the victim's node ID and waits, up to AimFor, until it runs
// a job (polling every 10 ms), returning the jobs it runs then. A
// takeover can only be measured on a job held at the signal; most jobs
// run for milliseconds, so a signal at a random instant would mostly
// find none.
func (s *soak) aim(nd *soakNode, f *Fault) []heldJob {
	ctx, cancel := context.WithTimeout(s.ctx, AimFor+2*time.Second)
	defer cancel()
	err := s.db.QueryRowContext(ctx, "SELECT id FROM nodes WHERE addr = $1 ORDER BY started_at DESC LIMIT 1", nd.addr).Scan(&f.NodeID)
	if err != nil {
		return nil
	}
	for until := time.Now().Add(AimFor); ; time.Sleep(10 * time.Millisecond) {
		held, err := s.heldBy(ctx, f.NodeID)
		if (err == nil && len(held) > 0) || time.Now().After(until) {
			return held
		}
	}
}

func (s *soak) heldBy(ctx context.Context, node string) ([]heldJob, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT id, kind, fence FROM jobs WHERE state = 'running' AND node = $1", node)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []heldJob
	for rows.Next() {
		var h heldJob
		if err := rows.Scan(&h.id, &h.kind, &h.fence); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// stillHeld keeps the jobs that, read after the signal took effect (the
// process dead, or stopped), still run under the victim's claim: a job
// the victim ended or put back just before, and that another node may
// even have claimed since, was not held and counts as EndedBefore.
func (s *soak) stillHeld(held []heldJob, f *Fault) []heldJob {
	var out []heldJob
	for _, h := range held {
		var state string
		var fence int64
		var left sql.NullInt64
		ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), 5*time.Second)
		err := s.db.QueryRowContext(ctx, "SELECT state, fence, lease_until - "+nowUS+" FROM jobs WHERE id = $1", h.id).Scan(&state, &fence, &left)
		cancel()
		if err == nil && state == "running" && fence == h.fence {
			h.left = time.Duration(left.Int64) * time.Microsecond
			f.LeaseLeft = append(f.LeaseLeft, h.left)
			out = append(out, h)
		} else {
			f.EndedBefore++
		}
	}
	return out
}

// track watches the held jobs (every 20 ms, for at most TrackFor) until
// each is claimed by another node (a takeover: its fence moved on under
// another node's ID), or went on without one.
func (s *soak) track(f *Fault, held []heldJob, at time.Time, sig syscall.Signal) {
	pending := slices.Clone(held)
	lapse := at
	for _, h := range held {
		if l := at.Add(h.left); l.After(lapse) {
			lapse = l
		}
	}
	looked := false
	for len(pending) > 0 && time.Since(at) < TrackFor {
		if sig == syscall.SIGSTOP && !looked && time.Since(lapse) > time.Second {
			// Every held lease lapsed a second ago and a job is still not
			// taken over: count the database sessions idle in a
			// transaction for more than a second (a stopped node's, whose
			// row locks the claims skip).
			looked = true
			var n int
			ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), 5*time.Second)
			err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
				AND state LIKE 'idle in transaction%' AND clock_timestamp() - state_change > interval '1 second'`).Scan(&n)
			cancel()
			if err == nil {
				f.mu.Lock()
				f.FrozenTx = n
				f.mu.Unlock()
			}
		}
		var left []heldJob
		for _, h := range pending {
			var state, node string
			var fence int64
			ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), 5*time.Second)
			err := s.db.QueryRowContext(ctx, "SELECT state, node, fence FROM jobs WHERE id = $1", h.id).Scan(&state, &node, &fence)
			cancel()
			seen := time.Since(at)
			f.mu.Lock()
			switch {
			case err == sql.ErrNoRows:
				f.EndedBefore++
			case err != nil, fence == h.fence && state == "running":
				left = append(left, h) // still held (or not seen this time)
			case fence > h.fence && node != f.NodeID && seen < h.left-50*time.Millisecond:
				// Claimed well before the lease read after the signal
				// lapsed: not a takeover of a lapsed claim. The victim's
				// last commit, finished by the database after the kill,
				// put the job back and another node claimed it when due
				// (or a node judged the lease lapsed too early).
				f.EarlyClaims++
			case fence > h.fence && node != f.NodeID:
				f.Takeovers = append(f.Takeovers, seen)
				if sig == syscall.SIGSTOP && f.contAfter > 0 && seen >= f.contAfter {
					f.AfterCont++
				}
			case sig == syscall.SIGKILL:
				// A commit of the victim's that the database finished
				// after its death.
				f.EndedBefore++
			default:
				f.Resumed++ // the stopped node went on with it after SIGCONT
			}
			f.mu.Unlock()
		}
		pending = left
		if len(pending) > 0 {
			time.Sleep(20 * time.Millisecond)
		}
	}
	f.mu.Lock()
	f.NotTakenOver = len(pending)
	f.mu.Unlock()
}

// takeoverStats sums the faults.
func takeoverStats(faults []*Fault) TakeoverStats {
	var st TakeoverStats
	var all []time.Duration
	for _, f := range faults {
		f.mu.Lock()
		st.Faults++
		if f.Held > 0 {
			st.FaultsHolding++
		}
		st.Jobs += f.Held
		st.TakenOver += len(f.Takeovers)
		st.EndedBefore += f.EndedBefore
		st.Resumed += f.Resumed
		st.NotTakenOver += f.NotTakenOver
		st.AfterCont += f.AfterCont
		st.EarlyClaims += f.EarlyClaims
		all = append(all, f.Takeovers...)
		f.mu.Unlock()
	}
	slices.Sort(all)
	if len(all) > 0 {
		st.P50ms, st.P99ms, st.MaxMs = ms(Percentile(all, 50)), ms(Percentile(all, 99)), ms(all[len(all)-1])
	}
	st.GoalMet = len(all) > 0 && Percentile(all, 99) < TakeoverGoal && st.NotTakenOver == 0
	return st
}
