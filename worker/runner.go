// Package worker runs the store's background jobs on a server node: it
// claims due jobs of the kinds it has handlers for, runs each with its
// lease renewed while it runs, and ends a claim that its handler did not
// end (failed with back-off, snoozed, or handed back when the node
// stops). Any node may run any job; a node that dies leaves its claims to
// lapse, and the other nodes take them over (DESIGN.md "Jobs and
// workflows").
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"latchkey"
)

// Store is what the runner needs of the store.
type Store interface {
	ClaimJobs(ctx context.Context, node string, kinds []latchkey.JobKind, limit int, lease time.Duration) ([]latchkey.Job, error)
	ExtendJobLeases(ctx context.Context, claims []latchkey.Job, lease time.Duration) ([]latchkey.Job, error)
	// EndClaim ends a claim its handler did not end, as its error says
	// (snooze, failed attempt, or nothing for a lost claim).
	EndClaim(ctx context.Context, claim latchkey.Job, cause error) error
	// CompleteJobs completes the claims of a batch, each under its own
	// fence, and returns those that were no longer their job's.
	CompleteJobs(ctx context.Context, claims []latchkey.Job) ([]latchkey.Job, error)
	SnoozeJob(ctx context.Context, claim latchkey.Job, d time.Duration) error
	// NextJobIn says how long until the next job of the kinds is due.
	NextJobIn(ctx context.Context, kinds []latchkey.JobKind) (time.Duration, bool, error)
	// EnqueueJob adds a job (nothing when a live one holds its key).
	EnqueueJob(ctx context.Context, spec latchkey.JobSpec) (latchkey.Job, error)
	// JobsChanged is closed when jobs are enqueued or released.
	JobsChanged() <-chan struct{}
}

// A Handler does one job's work. A handler whose work is in the store
// ends its claim itself, committing its effect and the job's completion
// in one transaction that holds the claim's fence (the store's job
// steps), and returns nil. A handler whose work leaves nothing in the
// store that must commit with the completion just returns nil: the runner
// completes its claim, batched with others (Options.CompleteBatch); the
// store tells the runner which handlers tried to end their claims (see
// latchkey.ClaimWatch), and the runner leaves those alone. A handler
// returns an error to have the runner fail the attempt (retried after a
// back-off), latchkey.Snooze to have the job run again later without
// counting an attempt, or an error wrapping latchkey.ErrStaleFence when
// the claim was lost (nothing more is done). ctx ends when the claim is
// lost or the node stops.
type Handler func(ctx context.Context, claim latchkey.Job) error

// Options configure a Runner. Zero values take the defaults.
type Options struct {
	// Node is this node's id, written on its claims.
	Node string
	// Workers bounds the jobs run at once (default 8).
	Workers int
	// Lease is a claim's lease (default latchkey.DefaultJobLease); it is
	// renewed every third of it while the handler runs.
	Lease time.Duration
	// Poll is how often the runner looks for due jobs when nothing woke
	// it: jobs whose run_at came, claims that lapsed (default 500ms).
	Poll time.Duration
	// HandBack bounds how long a stopping runner waits for its handlers
	// before it cancels them and hands their jobs back (default 5s).
	HandBack time.Duration
	// Perpetual are jobs that must always exist, each under its key (the
	// sweeps): the runner enqueues them when it starts and every
	// EnsureEvery after (default 30s), so that one that ended failed
	// comes back.
	Perpetual   []latchkey.JobSpec
	EnsureEvery time.Duration
	// ClaimCooldown is how long after a claim the runner waits before it
	// claims for fewer than all its workers (default 1ms; negative: no
	// wait): workers that free one after another are claimed for
	// together, in one statement, rather than one by one.
	ClaimCooldown time.Duration
	// CompleteBatch bounds the claims completed in one statement (default
	// 100); CompleteWait is how long a completion waits for others to
	// share its statement (default 5ms; negative: none, a batch is what
	// came in while the last one was written). Measured on no-op jobs,
	// 1 to 20ms gave the same jobs/s, and 5ms half the statements of 1ms
	// (docs/benchmarks.md).
	CompleteBatch int
	CompleteWait  time.Duration
	Logger        *slog.Logger
}

// Runner claims and runs jobs until its context ends.
type Runner struct {
	store    Store
	handlers map[latchkey.JobKind]Handler
	kinds    []latchkey.JobKind
	opts     Options

	mu      sync.Mutex
	running map[string]*run // by job id
	// completed batches the completions of the running claims whose
	// handlers did not end them (set while Run runs).
	completed *completer
	// freed is signalled when a job ends, so a full runner claims again
	// at once.
	freed chan struct{}
}

type run struct {
	ctx    context.Context
	claim  latchkey.Job
	cancel context.CancelCauseFunc
}

// errHandedBack cancels a handler whose node is stopping.
var errHandedBack = errors.New("the node is stopping")

// New makes a runner for handlers (by job kind).
func New(store Store, handlers map[latchkey.JobKind]Handler, opts Options) *Runner {
	if opts.Workers <= 0 {
		opts.Workers = 8
	}
	if opts.Lease <= 0 {
		opts.Lease = latchkey.DefaultJobLease
	}
	if opts.Poll <= 0 {
		opts.Poll = 500 * time.Millisecond
	}
	if opts.HandBack <= 0 {
		opts.HandBack = 5 * time.Second
	}
	if opts.EnsureEvery <= 0 {
		opts.EnsureEvery = 30 * time.Second
	}
	if opts.ClaimCooldown == 0 {
		opts.ClaimCooldown = time.Millisecond
	}
	if opts.CompleteBatch <= 0 {
		opts.CompleteBatch = 100
	}
	if opts.CompleteWait == 0 {
		opts.CompleteWait = 5 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	r := &Runner{store: store, handlers: handlers, opts: opts, running: map[string]*run{}, freed: make(chan struct{}, 1)}
	for k := range handlers {
		r.kinds = append(r.kinds, k)
	}
	return r
}

// Running is how many jobs this runner runs now.
func (r *Runner) Running() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.running)
}

// Run claims and runs jobs until ctx ends. It then stops claiming, waits
// up to HandBack for the jobs it runs, cancels the rest and hands their
// jobs back (available at once to other nodes, no attempt counted).
func (r *Runner) Run(ctx context.Context) {
	work, stopWork := context.WithCancelCause(context.WithoutCancel(ctx))
	defer stopWork(errHandedBack)
	stopRenew, renewDone := make(chan struct{}), make(chan struct{})
	go func() { defer close(renewDone); r.renew(stopRenew) }()
	r.completed = newCompleter(r.store, r.opts.CompleteBatch, max(r.opts.CompleteWait, 0), r.opts.Logger)
	var wg sync.WaitGroup
	var ensured time.Time // the perpetual jobs are ensured at once
	var claimed time.Time // when the last claim came back
	timer := time.NewTimer(0)
	defer timer.Stop()
	for ctx.Err() == nil {
		woken := r.store.JobsChanged() // before claiming: a change after the claim wakes the next wait
		free := r.opts.Workers - r.Running()
		wait := r.opts.Poll
		if cool := r.opts.ClaimCooldown - time.Since(claimed); free > 0 && free < r.opts.Workers && cool > 0 {
			// Claim for the workers together rather than for each as it
			// frees: wait for the others, at most until the cooldown ends.
			wait = cool
		} else if free > 0 {
			claims, err := r.store.ClaimJobs(ctx, r.opts.Node, r.kinds, free, r.opts.Lease)
			claimed = time.Now()
			if err != nil && ctx.Err() == nil {
				r.opts.Logger.Warn("claim jobs", "err", err)
			}
			for _, c := range claims {
				x := r.track(work, c) // counted as running before the next claim
				wg.Add(1)
				go func() { defer wg.Done(); r.run(x) }()
			}
			if len(claims) == free {
				continue // there may be more
			}
			// Nothing more is due: wake when the next job is. (A full
			// runner need not know; it claims again when a worker is free.)
			if in, ok, err := r.store.NextJobIn(ctx, r.kinds); err == nil && ok && in < wait {
				wait = in
			}
		}
		if time.Now().After(ensured) {
			r.ensure(ctx)
			ensured = time.Now().Add(r.opts.EnsureEvery)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
		case <-woken:
		case <-r.freed:
		case <-timer.C:
		}
	}
	waited := make(chan struct{})
	go func() { wg.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(r.opts.HandBack):
		stopWork(errHandedBack)
		<-waited
	}
	r.completed.close() // the last completions are written before Run returns
	close(stopRenew)
	<-renewDone
}

// track adds a claim to the running ones, with the context its handler
// runs under. The runner calls it before it starts the claim's goroutine,
// so that the next claim counts it: counted in the goroutine, a runner
// whose claims came back full claimed again before they were counted and
// ran more jobs than Workers at once.
func (r *Runner) track(work context.Context, c latchkey.Job) *run {
	ctx, cancel := context.WithCancelCause(work)
	x := &run{ctx: ctx, claim: c, cancel: cancel}
	r.mu.Lock()
	if old, ok := r.running[c.ID]; ok {
		// This node claimed the job again after its own claim lapsed (it
		// was stalled): the old claim's fence is stale, its run is over.
		old.cancel(errLost)
	}
	r.running[c.ID] = x
	r.mu.Unlock()
	return x
}

func (r *Runner) run(x *run) {
	ctx, c, cancel := x.ctx, x.claim, x.cancel
	defer func() {
		r.mu.Lock()
		if r.running[c.ID] == x {
			delete(r.running, c.ID)
		}
		r.mu.Unlock()
		cancel(nil)
		select {
		case r.freed <- struct{}{}:
		default:
		}
	}()
	hctx, watch := latchkey.WatchClaim(ctx, c)
	err := r.call(hctx, c)
	if err == nil {
		if !watch.Ending() && !errors.Is(context.Cause(ctx), errLost) {
			// Nothing to commit with the completion: batched. The claim
			// counts as running until the completer took it.
			r.completed.add(c)
		}
		return
	}
	log := r.opts.Logger.With("job", c.ID, "kind", c.Kind, "attempt", c.Attempts)
	// The claim is ended with a context of its own: the node may be
	// stopping, and a hand-back must still reach the store.
	end, stop := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer stop()
	var snooze latchkey.Snooze
	switch {
	case latchkey.IsStaleFence(err), errors.Is(context.Cause(ctx), errLost):
		log.Info("job claim lost to another node; its work is dropped")
		return
	case errors.Is(context.Cause(ctx), errHandedBack):
		log.Info("job handed back: the node is stopping")
		if err = r.store.SnoozeJob(end, c, 0); latchkey.IsStaleFence(err) {
			err = nil
		}
	default:
		if !errors.As(err, &snooze) {
			log.Warn("job attempt failed", "err", err)
		}
		err = r.store.EndClaim(end, c, err)
	}
	if err != nil {
		log.Warn("end job claim", "err", err)
	}
}

// call runs the handler, turning a panic into a failed attempt.
func (r *Runner) call(ctx context.Context, c latchkey.Job) (err error) {
	defer func() {
		if p := recover(); p != nil {
			r.opts.Logger.Error("job handler panic", "job", c.ID, "kind", c.Kind, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			err = fmt.Errorf("handler panic: %v", p)
		}
	}()
	h, ok := r.handlers[c.Kind]
	if !ok { // claimed only for kinds with handlers
		return fmt.Errorf("no handler for job kind %q", c.Kind)
	}
	return h(ctx, c)
}

// ensure enqueues the perpetual jobs (nothing for those that exist).
func (r *Runner) ensure(ctx context.Context) {
	for _, spec := range r.opts.Perpetual {
		if _, err := r.store.EnqueueJob(ctx, spec); err != nil && ctx.Err() == nil {
			r.opts.Logger.Warn("ensure perpetual job", "kind", spec.Kind, "err", err)
		}
	}
}

// errLost cancels a handler whose claim another node took over.
var errLost = errors.New("the job's claim was lost")

// renew extends the leases of the running jobs every third of a lease
// until stop is closed; a claim that could not be renewed was taken over
// (or cancelled by an admin): its handler is cancelled.
func (r *Runner) renew(stop <-chan struct{}) {
	t := time.NewTicker(r.opts.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-stop:
			return
		}
		r.mu.Lock()
		claims := make([]latchkey.Job, 0, len(r.running))
		for _, x := range r.running {
			claims = append(claims, x.claim)
		}
		r.mu.Unlock()
		if len(claims) == 0 {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), r.opts.Lease/3)
		lost, err := r.store.ExtendJobLeases(ctx, claims, r.opts.Lease)
		cancel()
		if err != nil {
			r.opts.Logger.Warn("renew job leases", "err", err)
			continue
		}
		r.mu.Lock()
		for _, l := range lost {
			if x, ok := r.running[l.ID]; ok && x.claim.Fence == l.Fence {
				x.cancel(errLost)
			}
		}
		r.mu.Unlock()
	}
}
