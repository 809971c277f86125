package worker

import (
	"context"
	"log/slog"
	"time"

	"latchkey"
)

// completer completes, in batches, the claims whose handlers returned nil
// without ending them: jobs whose work left nothing in the store that must
// commit with their completion. One statement (Store.CompleteJobs)
// completes a whole batch, each claim still checked against its own fence;
// a claim that lost its job meanwhile is not completed, and it is logged
// as lost.
//
// A batch is flushed when it is full, or when its first claim has waited
// wait; claims that come in while a batch is being written wait for the
// next one, so batches grow with the load. A node that dies before a flush
// leaves those claims running: their leases lapse and the jobs run again
// elsewhere, as for any claim of a dead node (at least once).
type completer struct {
	store Store
	max   int
	wait  time.Duration
	log   *slog.Logger
	// in holds the claims waiting for a batch; when it is full, handlers
	// wait (their workers stay busy, so the runner claims no more).
	in   chan latchkey.Job
	done chan struct{}
}

func newCompleter(store Store, max int, wait time.Duration, log *slog.Logger) *completer {
	c := &completer{store: store, max: max, wait: wait, log: log, in: make(chan latchkey.Job, 2*max), done: make(chan struct{})}
	go c.run()
	return c
}

// add queues claim for completion.
func (c *completer) add(claim latchkey.Job) { c.in <- claim }

// close flushes what is queued and stops; nothing may be added after.
func (c *completer) close() {
	close(c.in)
	<-c.done
}

func (c *completer) run() {
	defer close(c.done)
	batch := make([]latchkey.Job, 0, c.max)
	var timer *time.Timer
	for {
		first, ok := <-c.in
		if !ok {
			return
		}
		batch = append(batch[:0], first)
		open := c.take(&batch)
		if open && len(batch) < c.max && c.wait > 0 {
			if timer == nil {
				timer = time.NewTimer(c.wait)
			} else {
				timer.Reset(c.wait)
			}
		fill:
			for len(batch) < c.max {
				select {
				case claim, ok := <-c.in:
					if !ok {
						break fill
					}
					batch = append(batch, claim)
				case <-timer.C:
					break fill
				}
			}
			timer.Stop()
		}
		c.flush(batch)
	}
}

// take adds to batch the claims waiting, up to c.max; false when in is
// closed.
func (c *completer) take(batch *[]latchkey.Job) bool {
	for len(*batch) < c.max {
		select {
		case claim, ok := <-c.in:
			if !ok {
				return false
			}
			*batch = append(*batch, claim)
		default:
			return true
		}
	}
	return true
}

// flush completes batch. It runs under a context of its own: the node may
// be stopping, and its completions must still reach the store.
func (c *completer) flush(batch []latchkey.Job) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	lost, err := c.store.CompleteJobs(ctx, batch)
	if err != nil {
		// Nothing was completed: the claims lapse and their jobs run again.
		c.log.Warn("complete jobs; they will run again when their leases lapse", "jobs", len(batch), "err", err)
		return
	}
	for _, l := range lost {
		c.log.Info("job claim lost to another node before its completion", "job", l.ID, "kind", l.Kind, "attempt", l.Attempts)
	}
}
