// Package rivercmp measures latchkey's job engine side by side with River
// (github.com/riverqueue/river), on the same database in one run: no-op
// jobs per second, two clients (nodes) of 8 workers each, on SQLite and
// on PostgreSQL; and (takeover_test.go) the time until a job whose node
// was SIGKILLed is completed by another node. It is a module of its own
// so that River is no dependency of latchkey. Run it from this directory:
//
//	LATCHKEY_TEST_POSTGRES=postgres://... go test -run '^$' -bench . -benchtime 5000x -count 3
//	LATCHKEY_TEST_POSTGRES=postgres://... go test -run TestTakeover -v -takeover
package rivercmp

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	_ "modernc.org/sqlite"

	"latchkey"
	"latchkey/sqlstore"
	"latchkey/sqlstore/sqlstoretest"
	"latchkey/worker"
)

const nodes, workers = 2, 8

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// BenchmarkLatchkey: b.N no-op jobs, enqueued first, run to completion
// by two runners on one store; the handler does nothing and returns nil,
// like River's, and a job counts once the runner's batch that completes
// it committed. Reported: jobs/s.
func BenchmarkLatchkey(b *testing.B) {
	for _, be := range sqlstoretest.Backends() {
		b.Run(be.Name, func(b *testing.B) {
			url := be.URL(b)
			var stores []*sqlstore.Store
			for range nodes {
				stores = append(stores, sqlstoretest.Open(b, url, sqlstoretest.Options(latchkey.SystemClock{})))
			}
			ctx := context.Background()
			for range b.N {
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
			noop := func(context.Context, latchkey.Job) error { return nil }
			rctx, stop := context.WithCancel(ctx)
			stopped := make(chan struct{}, nodes)
			b.ResetTimer()
			start := time.Now()
			for i, s := range stores {
				r := worker.New(counted{Store: s, done: count}, map[latchkey.JobKind]worker.Handler{"noop": noop},
					worker.Options{Node: string(rune('a' + i)), Workers: workers, Logger: quiet})
				go func() { r.Run(rctx); stopped <- struct{}{} }()
			}
			<-all
			elapsed := time.Since(start)
			b.StopTimer()
			stop()
			for range stores {
				<-stopped
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "jobs/s")
		})
	}
}

// counted counts the jobs whose completion committed.
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

type noopArgs struct{}

func (noopArgs) Kind() string { return "noop" }

type noopWorker struct {
	river.WorkerDefaults[noopArgs]
}

func (noopWorker) Work(context.Context, *river.Job[noopArgs]) error { return nil }

// riverConfigs are River's defaults, and River tuned for throughput: its
// default fetch cooldown (100 ms) lets a client take at most MaxWorkers
// jobs per 100 ms; tuned, it fetches again after 1 ms (its minimum).
var riverConfigs = []struct {
	name               string
	cooldown, interval time.Duration
}{
	{name: "defaults"},
	{name: "tuned", cooldown: time.Millisecond, interval: 50 * time.Millisecond},
}

// BenchmarkRiver: the same with River: b.N no-op jobs inserted first,
// worked by two clients of 8 workers on one database; a job counts when
// River reports it completed.
func BenchmarkRiver(b *testing.B) {
	for _, cfg := range riverConfigs {
		b.Run(cfg.name, func(b *testing.B) { benchRiver(b, cfg.cooldown, cfg.interval) })
	}
}

func benchRiver(b *testing.B, cooldown, interval time.Duration) {
	b.Run("sqlite", func(b *testing.B) {
		db, err := sql.Open("sqlite", strings.TrimPrefix(sqlstoretest.SQLite().URL(b), "sqlite://")+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)")
		if err != nil {
			b.Fatal(err)
		}
		db.SetMaxOpenConns(1) // River's advice for SQLite: one writer
		b.Cleanup(func() { db.Close() })
		runRiver(b, riversqlite.New(db), cooldown, interval)
	})
	b.Run("postgres", func(b *testing.B) {
		pool, err := pgxpool.New(context.Background(), sqlstoretest.Postgres().URL(b))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(pool.Close)
		runRiver(b, riverpgxv5.New(pool), cooldown, interval)
	})
}

func runRiver[TTx any](b *testing.B, driver riverdriver.Driver[TTx], cooldown, interval time.Duration) {
	ctx := context.Background()
	migrator, err := rivermigrate.New(driver, nil)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		b.Fatal(err)
	}
	ws := river.NewWorkers()
	river.AddWorker(ws, &noopWorker{})
	var clients []*river.Client[TTx]
	for range nodes {
		c, err := river.NewClient(driver, &river.Config{Logger: quiet, Workers: ws, FetchCooldown: cooldown, FetchPollInterval: interval,
			Queues: map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: workers}}})
		if err != nil {
			b.Fatal(err)
		}
		clients = append(clients, c)
	}
	params := make([]river.InsertManyParams, 0, 1000)
	for left := b.N; left > 0; left -= len(params) {
		params = params[:0]
		for range min(left, 1000) {
			params = append(params, river.InsertManyParams{Args: noopArgs{}})
		}
		if _, err := clients[0].InsertMany(ctx, params); err != nil {
			b.Fatal(err)
		}
	}
	var done atomic.Int64
	all := make(chan struct{})
	for _, c := range clients {
		events, cancel := c.Subscribe(river.EventKindJobCompleted)
		defer cancel()
		go func() {
			for range events {
				if done.Add(1) == int64(b.N) {
					close(all)
				}
			}
		}()
	}
	b.ResetTimer()
	start := time.Now()
	for _, c := range clients {
		if err := c.Start(ctx); err != nil {
			b.Fatal(err)
		}
	}
	<-all
	elapsed := time.Since(start)
	b.StopTimer()
	for _, c := range clients {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_ = c.Stop(sctx)
		cancel()
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "jobs/s")
}
