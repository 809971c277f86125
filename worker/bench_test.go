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
// jobs enqueued beforehand, then claimed, run (the handler only completes
// its claim) and completed by two runners of 8 workers on one store, as
// two nodes would. Reported: jobs/s.
//
//	go test -run '^$' -bench NoopJobs -benchtime 5000x ./worker
func BenchmarkNoopJobs(b *testing.B) {
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
			b.ResetTimer()
			start := time.Now()
			rctx, stop := context.WithCancel(ctx)
			finished := make(chan struct{}, len(stores))
			for i, s := range stores {
				h := func(ctx context.Context, c latchkey.Job) error {
					err := s.CompleteJob(ctx, c)
					if done.Add(1) == int64(b.N) {
						close(all)
					}
					return err
				}
				r := worker.New(s, map[latchkey.JobKind]worker.Handler{"noop": h},
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
