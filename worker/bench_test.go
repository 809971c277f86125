package worker_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"latchkey"
	"latchkey/sqlstore"
	"latchkey/sqlstore/sqlstoretest"
	"latchkey/worker"
)

// BenchmarkNoopJobs measures the engine's throughput of no-op jobs: b.N
// jobs enqueued beforehand, then claimed, run (the handler does nothing
// and returns nil, so the runner completes its claim in a batch) and
// completed by two runners of 8 workers on one store, as two nodes would.
// A job counts once its completion committed. Reported: jobs/s.
//
//	go test -run '^$' -bench NoopJobs -benchtime 5000x ./worker
func BenchmarkNoopJobs(b *testing.B) {
	benchJobs(b, func(counted) worker.Handler {
		return func(context.Context, latchkey.Job) error { return nil }
	})
}

// BenchmarkStepJobs is BenchmarkNoopJobs with handlers that end their
// claims themselves, each in a fenced transaction of its own, as the
// store's jobs do when their effect commits with their completion (here
// the effect is empty).
func BenchmarkStepJobs(b *testing.B) {
	benchJobs(b, func(s counted) worker.Handler { return s.CompleteJob })
}

// counted counts the jobs whose completion committed, by the runner's
// batches or by the handlers.
type counted struct {
	*sqlstore.Store
	done func(n int)
}

func (s counted) CompleteJobs(ctx context.Context, claims []latchkey.Job) ([]latchkey.Job, error) {
	lost, err := s.Store.CompleteJobs(ctx, claims)
	if err == nil {
		s.done(len(claims) - len(lost))
	}
	return lost, err
}

func (s counted) CompleteJob(ctx context.Context, claim latchkey.Job) error {
	err := s.Store.CompleteJob(ctx, claim)
	if err == nil {
		s.done(1)
	}
	return err
}

func benchJobs(b *testing.B, handler func(counted) worker.Handler) {
	for _, be := range sqlstoretest.Backends() {
		b.Run(be.Name, func(b *testing.B) {
			url := be.URL(b)
			stores := []*sqlstore.Store{sqlstoretest.Open(b, url, sqlstoretest.Options(latchkey.SystemClock{})),
				sqlstoretest.Open(b, url, sqlstoretest.Options(latchkey.SystemClock{}))}
			ctx := context.Background()
			for i := 0; i < b.N; i++ {
				if _, err := stores[0].EnqueueJob(ctx, latchkey.JobSpec{Kind: "noop"}); err != nil {
					b.Fatal(err)
				}
			}
			var done atomic.Int64
			all := make(chan struct{})
			count := func(n int) {
				if done.Add(int64(n)) == int64(b.N) {
					close(all)
				}
			}
			b.ResetTimer()
			start := time.Now()
			rctx, stop := context.WithCancel(ctx)
			finished := make(chan struct{}, len(stores))
			for i, s := range stores {
				cs := counted{Store: s, done: count}
				r := worker.New(cs, map[latchkey.JobKind]worker.Handler{"noop": handler(cs)},
					worker.Options{Node: []string{"n1", "n2"}[i], Workers: 8, Logger: quiet})
				go func() { r.Run(rctx); finished <- struct{}{} }()
			}
			<-all
			elapsed := time.Since(start)
			b.StopTimer()
			stop()
			for range stores {
				<-finished
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "jobs/s")
		})
	}
}
