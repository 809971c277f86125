package worker

import (
	"context"
	"log/slog"
	"time"

	"latchkey"
)

// Sweeper is what the sweeps need of the store.
type Sweeper interface {
	// ApplyTimeouts applies the session rules that run on time
	// (inactivity locks, forced timeouts, warnings, limits).
	ApplyTimeouts(ctx context.Context) (int, error)
	// SweepLocks expires lock leases and lapsed queue places; it says how
	// long until the next is due (0: none).
	SweepLocks(ctx context.Context) (int, time.Duration, error)
	// SweepIdempotency deletes expired Idempotency-Key records.
	SweepIdempotency(ctx context.Context) (int, error)
}

// Sweeps are the handlers of the sweep jobs and the perpetual jobs that
// keep one of each in the cluster. Each sweep runs, then sleeps (snoozes)
// for every; the lock sweep sleeps only until the next lease is due (at
// most latchkey.MinLockTTL), so that a holder hears of its loss and the
// next waiter of its grant when the lease ends, not a sweep later.
func Sweeps(s Sweeper, every time.Duration, logger *slog.Logger) (map[latchkey.JobKind]Handler, []latchkey.JobSpec) {
	if every <= 0 {
		every = time.Second
	}
	count := func(kind latchkey.JobKind, sweep func(context.Context) (int, error)) Handler {
		return func(ctx context.Context, _ latchkey.Job) error {
			n, err := sweep(ctx)
			if err != nil {
				return err
			}
			if n > 0 {
				logger.Debug("swept", "job", kind, "changed", n)
			}
			return latchkey.Snooze(every)
		}
	}
	handlers := map[latchkey.JobKind]Handler{
		latchkey.JobSweepSessions:    count(latchkey.JobSweepSessions, s.ApplyTimeouts),
		latchkey.JobSweepIdempotency: count(latchkey.JobSweepIdempotency, s.SweepIdempotency),
		latchkey.JobSweepLocks: func(ctx context.Context, _ latchkey.Job) error {
			n, in, err := s.SweepLocks(ctx)
			if err != nil {
				return err
			}
			if n > 0 {
				logger.Debug("expired lock leases", "locks", n)
			}
			wait := min(every, latchkey.MinLockTTL)
			if in > 0 && in < wait {
				wait = in
			}
			return latchkey.Snooze(wait)
		},
	}
	var perpetual []latchkey.JobSpec
	for _, k := range []latchkey.JobKind{latchkey.JobSweepSessions, latchkey.JobSweepLocks, latchkey.JobSweepIdempotency} {
		perpetual = append(perpetual, latchkey.JobSpec{Kind: k, Key: string(k)})
	}
	return handlers, perpetual
}
