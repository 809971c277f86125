package worker_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"latchkey"
	"latchkey/sqlstore"
	"latchkey/sqlstore/sqlstoretest"
	"latchkey/worker"
)

var (
	admin = latchkey.Caller{PrincipalID: "prn_admin", Role: latchkey.RoleAdmin}
	quiet = slog.New(slog.DiscardHandler)
)

func openStore(t *testing.T, url string) *sqlstore.Store {
	return sqlstoretest.Open(t, url, sqlstoretest.Options(latchkey.SystemClock{}))
}

// start runs r until the test ends (or stop is called) and returns stop,
// which waits for Run to return.
func start(t *testing.T, r *worker.Runner) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// waitJob polls the job until ok says it is where the test wants it.
func waitJob(t *testing.T, s *sqlstore.Store, id string, within time.Duration, ok func(latchkey.Job) bool) latchkey.Job {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		j, err := s.Job(context.Background(), admin, id)
		if err != nil {
			t.Fatal(err)
		}
		if ok(j) {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s after %s: %+v", id, within, j)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func done(j latchkey.Job) bool { return j.State == latchkey.JobDone }

// Runners on two nodes run every job once, woken by the enqueue rather
// than a poll (the poll is an hour).
func TestRunnerRunsEachJobOnce(t *testing.T) {
	sqlstoretest.ForEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		url := b.URL(t)
		s1, s2 := openStore(t, url), openStore(t, url)
		var mu sync.Mutex
		runs := map[string]int{}
		handler := func(s *sqlstore.Store) worker.Handler {
			return func(ctx context.Context, c latchkey.Job) error {
				mu.Lock()
				runs[c.ID]++
				mu.Unlock()
				return s.CompleteJob(ctx, c)
			}
		}
		for i, s := range []*sqlstore.Store{s1, s2} {
			start(t, worker.New(s, map[latchkey.JobKind]worker.Handler{"noop": handler(s)},
				worker.Options{Logger: quiet, Node: []string{"node_1", "node_2"}[i], Workers: 3, Poll: time.Hour}))
		}
		time.Sleep(100 * time.Millisecond) // both runners are idle, waiting
		var ids []string
		for range 40 {
			j, err := s1.EnqueueJob(context.Background(), latchkey.JobSpec{Kind: "noop"})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, j.ID)
		}
		for _, id := range ids {
			waitJob(t, s1, id, 10*time.Second, done)
		}
		mu.Lock()
		defer mu.Unlock()
		for _, id := range ids {
			if runs[id] != 1 {
				t.Errorf("job %s ran %d times", id, runs[id])
			}
		}
	})
}

// stalled is a store whose lease renewals and claims hang: the node looks
// paused (a GC pause, SIGSTOP) while its handler still runs.
type stalled struct {
	*sqlstore.Store
	stall atomic.Bool
}

func (s *stalled) ExtendJobLeases(ctx context.Context, claims []latchkey.Job, lease time.Duration) ([]latchkey.Job, error) {
	if s.stall.Load() {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return s.Store.ExtendJobLeases(ctx, claims, lease)
}

func (s *stalled) ClaimJobs(ctx context.Context, node string, kinds []latchkey.JobKind, limit int, lease time.Duration) ([]latchkey.Job, error) {
	if s.stall.Load() {
		return nil, nil
	}
	return s.Store.ClaimJobs(ctx, node, kinds, limit, lease)
}

// A node that stalls past its lease loses the job to another node within
// the lease and a poll; when it wakes, its completion is refused by the
// fence, so the step's effect happens once.
func TestRunnerTakeoverFencesAPausedNode(t *testing.T) {
	sqlstoretest.ForEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		url := b.URL(t)
		s1 := &stalled{Store: openStore(t, url)}
		s2 := openStore(t, url)
		const lease = 600 * time.Millisecond
		release := make(chan struct{})
		var once sync.Once
		wake := func() { once.Do(func() { close(release) }) }
		t.Cleanup(wake)
		var effects atomic.Int32
		var staleSeen atomic.Bool
		paused := func(ctx context.Context, c latchkey.Job) error {
			s1.stall.Store(true)
			<-release // paused well past the lease
			err := s1.CompleteJob(context.WithoutCancel(ctx), c)
			if latchkey.IsStaleFence(err) {
				staleSeen.Store(true)
				return err
			}
			effects.Add(1)
			return err
		}
		r1 := worker.New(s1, map[latchkey.JobKind]worker.Handler{"step": paused}, worker.Options{Logger: quiet, Node: "node_1", Lease: lease, Poll: 50 * time.Millisecond})
		stop1 := start(t, r1)
		j, err := s2.EnqueueJob(context.Background(), latchkey.JobSpec{Kind: "step"})
		if err != nil {
			t.Fatal(err)
		}
		waitJob(t, s2, j.ID, 5*time.Second, func(j latchkey.Job) bool { return j.State == latchkey.JobRunning && j.Node == "node_1" })
		claimedAt := time.Now()
		healthy := func(ctx context.Context, c latchkey.Job) error {
			effects.Add(1)
			return s2.CompleteJob(ctx, c)
		}
		start(t, worker.New(s2, map[latchkey.JobKind]worker.Handler{"step": healthy}, worker.Options{Logger: quiet, Node: "node_2", Lease: lease, Poll: 50 * time.Millisecond}))
		got := waitJob(t, s2, j.ID, 5*time.Second, done)
		if got.Node != "node_2" || got.Fence != 2 {
			t.Fatalf("taken over: %+v", got)
		}
		if took := time.Since(claimedAt); took > lease+time.Second {
			t.Errorf("takeover took %s with a %s lease", took, lease)
		}
		wake()
		stop1()
		if !staleSeen.Load() || effects.Load() != 1 {
			t.Fatalf("stale completion refused: %v; effects: %d, want 1", staleSeen.Load(), effects.Load())
		}
	})
}

// A failing handler's attempt is failed with its error and retried after
// the back-off; a panic is a failure, not a crash.
func TestRunnerRetriesFailures(t *testing.T) {
	sqlstoretest.ForEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		s := openStore(t, b.URL(t))
		var calls atomic.Int32
		flaky := func(ctx context.Context, c latchkey.Job) error {
			switch calls.Add(1) {
			case 1:
				return errors.New("the agent did not answer")
			case 2:
				panic("boom")
			}
			return s.CompleteJob(ctx, c)
		}
		j, err := s.EnqueueJob(context.Background(), latchkey.JobSpec{Kind: "flaky"})
		if err != nil {
			t.Fatal(err)
		}
		start(t, worker.New(s, map[latchkey.JobKind]worker.Handler{"flaky": flaky}, worker.Options{Logger: quiet, Node: "node_1", Poll: 50 * time.Millisecond}))
		failed := waitJob(t, s, j.ID, 5*time.Second, func(j latchkey.Job) bool { return j.Error != "" })
		if failed.Error != "the agent did not answer" || failed.Attempts != 1 {
			t.Fatalf("after the first failure: %+v", failed)
		}
		got := waitJob(t, s, j.ID, 10*time.Second, done)
		if got.Attempts != 3 || calls.Load() != 3 {
			t.Fatalf("done after %d attempts (%d calls), want 3", got.Attempts, calls.Load())
		}
	})
}

// A stopping node waits for its handlers for HandBack, then cancels them
// and hands their jobs back at once, without counting an attempt.
func TestRunnerHandsBackOnStop(t *testing.T) {
	sqlstoretest.ForEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		s := openStore(t, b.URL(t))
		started := make(chan struct{}, 1)
		stuck := func(ctx context.Context, c latchkey.Job) error {
			started <- struct{}{}
			<-ctx.Done()
			return ctx.Err()
		}
		j, _ := s.EnqueueJob(context.Background(), latchkey.JobSpec{Kind: "long"})
		stop := start(t, worker.New(s, map[latchkey.JobKind]worker.Handler{"long": stuck},
			worker.Options{Logger: quiet, Node: "node_1", Poll: 50 * time.Millisecond, HandBack: 100 * time.Millisecond, Lease: time.Minute}))
		<-started
		stop()
		got, err := s.Job(context.Background(), admin, j.ID)
		if err != nil || got.State != latchkey.JobAvailable || got.Attempts != 0 || got.LeaseUntil != nil {
			t.Fatalf("after the node stopped: %+v, %v; want available at once, no attempt counted", got, err)
		}
	})
}

// A runner never runs more than Workers jobs at once, however fast its
// claims come back full.
func TestRunnerBoundsItsWorkers(t *testing.T) {
	sqlstoretest.ForEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		s := openStore(t, b.URL(t))
		const workers, jobs = 3, 30
		var ids []string
		for range jobs {
			j, err := s.EnqueueJob(context.Background(), latchkey.JobSpec{Kind: "slow"})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, j.ID)
		}
		var now, most atomic.Int32
		slow := func(ctx context.Context, c latchkey.Job) error {
			n := now.Add(1)
			defer now.Add(-1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			time.Sleep(5 * time.Millisecond)
			return s.CompleteJob(ctx, c)
		}
		start(t, worker.New(s, map[latchkey.JobKind]worker.Handler{"slow": slow},
			worker.Options{Logger: quiet, Node: "node_1", Workers: workers, Poll: 50 * time.Millisecond}))
		for _, id := range ids {
			waitJob(t, s, id, 10*time.Second, done)
		}
		if most.Load() > workers {
			t.Fatalf("%d jobs ran at once, Workers is %d", most.Load(), workers)
		}
	})
}

// batches records the claims a runner completes in batches, and can fail
// its batches as a node that dies before it writes them would.
type batches struct {
	*sqlstore.Store
	mu      sync.Mutex
	claims  []latchkey.Job
	dropped atomic.Bool
}

func (s *batches) CompleteJobs(ctx context.Context, claims []latchkey.Job) ([]latchkey.Job, error) {
	s.mu.Lock()
	s.claims = append(s.claims, claims...)
	s.mu.Unlock()
	if s.dropped.Load() {
		return nil, errors.New("the node died before its batch was written")
	}
	return s.Store.CompleteJobs(ctx, claims)
}

func (s *batches) batched() []latchkey.Job {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]latchkey.Job(nil), s.claims...)
}

// A handler that only returns nil has its claim completed by the runner,
// in batches; one that ends its claim itself, or tries to and fails, is
// left alone.
func TestRunnerBatchesPlainCompletions(t *testing.T) {
	sqlstoretest.ForEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		s := &batches{Store: openStore(t, b.URL(t))}
		var runs sync.Map
		ran := func(c latchkey.Job) {
			n, _ := runs.LoadOrStore(c.ID, new(atomic.Int32))
			n.(*atomic.Int32).Add(1)
		}
		handlers := map[latchkey.JobKind]worker.Handler{
			"plain": func(_ context.Context, c latchkey.Job) error { ran(c); return nil },
			"step":  func(ctx context.Context, c latchkey.Job) error { ran(c); return s.CompleteJob(ctx, c) },
			// Its completion never reaches the store (its context ended),
			// and it swallows the error: the claim must not be completed
			// behind its back.
			"swallow": func(ctx context.Context, c latchkey.Job) error {
				ran(c)
				gone, cancel := context.WithCancel(ctx)
				cancel()
				_ = s.CompleteJob(gone, c)
				return nil
			},
		}
		ids := map[latchkey.JobKind][]string{}
		for _, kind := range []latchkey.JobKind{"plain", "plain", "plain", "step", "step", "swallow"} {
			j, err := s.EnqueueJob(context.Background(), latchkey.JobSpec{Kind: kind})
			if err != nil {
				t.Fatal(err)
			}
			ids[kind] = append(ids[kind], j.ID)
		}
		start(t, worker.New(s, handlers, worker.Options{Logger: quiet, Node: "node_1", Poll: 50 * time.Millisecond, Lease: time.Hour}))
		for _, id := range append(ids["plain"], ids["step"]...) {
			waitJob(t, s.Store, id, 10*time.Second, done)
		}
		waitJob(t, s.Store, ids["swallow"][0], 10*time.Second, func(latchkey.Job) bool {
			n, ok := runs.Load(ids["swallow"][0])
			return ok && n.(*atomic.Int32).Load() == 1
		})
		time.Sleep(100 * time.Millisecond) // a batch would have been written by now
		if j, _ := s.Job(context.Background(), admin, ids["swallow"][0]); j.State != latchkey.JobRunning {
			t.Errorf("the swallowing handler's job: %+v, want still running under its claim", j)
		}
		var got []string
		for _, c := range s.batched() {
			got = append(got, c.ID)
		}
		if fmt.Sprint(sorted(got)) != fmt.Sprint(sorted(ids["plain"])) {
			t.Errorf("batched %v, want the plain jobs %v", got, ids["plain"])
		}
		runs.Range(func(id, n any) bool {
			if n.(*atomic.Int32).Load() != 1 {
				t.Errorf("job %s ran %d times", id, n.(*atomic.Int32).Load())
			}
			return true
		})
	})
}

// A stopping runner writes the completions it holds before Run returns.
func TestRunnerFlushesCompletionsOnStop(t *testing.T) {
	sqlstoretest.ForEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		s := openStore(t, b.URL(t))
		j, err := s.EnqueueJob(context.Background(), latchkey.JobSpec{Kind: "plain"})
		if err != nil {
			t.Fatal(err)
		}
		ran := make(chan struct{})
		plain := func(context.Context, latchkey.Job) error { close(ran); return nil }
		stop := start(t, worker.New(s, map[latchkey.JobKind]worker.Handler{"plain": plain},
			worker.Options{Logger: quiet, Node: "node_1", Poll: 50 * time.Millisecond, CompleteWait: time.Hour}))
		<-ran
		stop()
		if got, _ := s.Job(context.Background(), admin, j.ID); got.State != latchkey.JobDone {
			t.Fatalf("after the runner stopped: %+v, want done", got)
		}
	})
}

// A batch that never reaches the store (its node died first) costs only a
// second run: the claims lapse, and another node runs and completes them.
func TestRunnerLostBatchRunsAgain(t *testing.T) {
	sqlstoretest.ForEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		url := b.URL(t)
		dying := &batches{Store: openStore(t, url)}
		dying.dropped.Store(true)
		healthy := openStore(t, url)
		const lease = 500 * time.Millisecond
		var runs atomic.Int32
		plain := func(context.Context, latchkey.Job) error { runs.Add(1); return nil }
		j, err := healthy.EnqueueJob(context.Background(), latchkey.JobSpec{Kind: "plain"})
		if err != nil {
			t.Fatal(err)
		}
		stop := start(t, worker.New(dying, map[latchkey.JobKind]worker.Handler{"plain": plain},
			worker.Options{Logger: quiet, Node: "node_1", Poll: 50 * time.Millisecond, Lease: lease}))
		waitJob(t, healthy, j.ID, 5*time.Second, func(latchkey.Job) bool { return len(dying.batched()) == 1 })
		stop()
		if got, _ := healthy.Job(context.Background(), admin, j.ID); got.State != latchkey.JobRunning || got.Node != "node_1" {
			t.Fatalf("after the lost batch: %+v, want still running under node_1's claim", got)
		}
		start(t, worker.New(healthy, map[latchkey.JobKind]worker.Handler{"plain": plain},
			worker.Options{Logger: quiet, Node: "node_2", Poll: 50 * time.Millisecond, Lease: lease}))
		got := waitJob(t, healthy, j.ID, 5*time.Second, done)
		if got.Node != "node_2" || got.Fence != 2 || runs.Load() != 2 {
			t.Fatalf("done: %+v after %d runs; want node_2's second run", got, runs.Load())
		}
	})
}

func sorted(s []string) []string {
	s = append([]string(nil), s...)
	slices.Sort(s)
	return s
}
