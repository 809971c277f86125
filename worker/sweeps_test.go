package worker_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"latchkey"
	"latchkey/sqlstore/sqlstoretest"
	"latchkey/worker"
)

// countingSweeper counts the sweeps and says a lock lease is due in 50ms.
type countingSweeper struct{ sessions, locks, idem atomic.Int32 }

func (c *countingSweeper) ApplyTimeouts(context.Context) (int, error) {
	c.sessions.Add(1)
	return 0, nil
}
func (c *countingSweeper) SweepIdempotency(context.Context) (int, error) {
	c.idem.Add(1)
	return 0, nil
}
func (c *countingSweeper) SweepLocks(context.Context) (int, time.Duration, error) {
	c.locks.Add(1)
	return 0, 50 * time.Millisecond, nil
}

// Two nodes keep one job of each sweep in the cluster; together they
// sweep sessions once an interval (not once a node), and locks as often as
// the next lease is due.
func TestSweepsRunOncePerIntervalAcrossNodes(t *testing.T) {
	sqlstoretest.ForEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		url := b.URL(t)
		const every = 400 * time.Millisecond
		sw := &countingSweeper{}
		stores := []interface {
			worker.Store
			Jobs(context.Context, latchkey.Caller, latchkey.JobFilter) ([]latchkey.Job, string, error)
		}{openStore(t, url), openStore(t, url)}
		for i, s := range stores {
			handlers, perpetual := worker.Sweeps(sw, every, quiet)
			start(t, worker.New(s, handlers, worker.Options{Logger: quiet, Node: []string{"node_1", "node_2"}[i],
				Perpetual: perpetual, Poll: time.Hour}))
		}
		time.Sleep(2 * time.Second)
		sessions, locks := sw.sessions.Load(), sw.locks.Load()
		// 2s / 400ms = 5 runs (6 with the first at once); one node alone
		// would do as many, two nodes sweeping each on its own twice that.
		if sessions < 4 || sessions > 7 {
			t.Errorf("%d session sweeps in 2s at one per %s across two nodes", sessions, every)
		}
		if locks < 15 {
			t.Errorf("%d lock sweeps in 2s with a lease due every 50ms", locks)
		}
		for _, kind := range []latchkey.JobKind{latchkey.JobSweepSessions, latchkey.JobSweepLocks, latchkey.JobSweepIdempotency} {
			jobs, _, err := stores[0].Jobs(context.Background(), admin, latchkey.JobFilter{Kind: kind})
			if err != nil || len(jobs) != 1 {
				t.Errorf("%s: %d jobs (%v), want one in the cluster", kind, len(jobs), err)
			}
		}
	})
}
