package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"latchkey"
)

// Group commit. Every write goes through a committer (on PostgreSQL, but
// for the job engine's claims and batched completions: one statement
// each, run on their own; see Store.statement): it takes the write
// operations waiting when it is free, runs them one after another in ONE
// transaction, each inside its own savepoint, chains their audit records
// and commits once. N operations that arrive together cost one commit and
// one fsync instead of N, which is what makes many small writes (lock
// acquire and release) fast on a durable store.
//
// The outcome is the same as running the operations one by one in the
// order they ran: each sees the writes of those before it. An operation
// that fails is rolled back to its savepoint and the others go on; a
// refusal made with keep keeps its writes. No operation's caller hears of
// success before the commit that holds its change has returned.
//
// Statements of a batch run under the committer's own context, never a
// caller's: on SQLite an interrupted statement can roll the whole
// transaction back, and on PostgreSQL a cancelled query can close the
// connection, which would take the other callers' changes with it. A
// caller whose context ends before its operation starts is answered with
// the context's error and its operation is not run; once started, an
// operation runs to the end and its caller waits for the commit.

// On PostgreSQL several committers run batches at once, and nodes run
// theirs beside them; an operation waits for a row another transaction
// locked. A batch that waits while holding the rows of its earlier
// operations could wait in a cycle with another batch (a deadlock, found
// only after PostgreSQL's deadlock_timeout) or hold up everyone queued
// behind it. So only a batch's first operation may wait for a row lock:
// the later ones wait at most laterOpLockWait, and one that times out is
// rolled back to its savepoint and carried over to the committer's next
// batch, where it runs first. Its caller waits on; it is answered after
// the commit that holds its change, like every other operation.
const laterOpLockWait = "20ms"

// unboundLockWait ends the bound (PostgreSQL's boundLockWait) before the
// batch's own writes at its end, which wait as usual.
const unboundLockWait = "SET LOCAL lock_timeout TO DEFAULT"

// maxBatch bounds the operations sharing one transaction.
const maxBatch = 128

// Scheduling (issue 15). One committer at a time gathers operations (the
// others run their batches). While the batches under way hold at least
// minSharedBatch operations, the store is busy with many writers: a batch
// of one or two operations would cost a transaction and a commit of its
// own for little, so it gathers more, up to minSharedBatch, waiting at
// most BatchWait (or until a batch under way ends). With several
// committers a node and several nodes on one database, batches were
// otherwise half as full and CPU per operation grew by 40% against one
// node (docs/benchmarks.md, "Three nodes on one PostgreSQL"). With fewer
// under way (nothing, a chain of lock hand-overs, a quiet node), the
// writes it would wait for mostly do not come, and its callers' latency is
// what waiting would cost: it starts at once. Waiting whenever anything
// was under way cost the contended lock benchmark about a sixth of its
// throughput on PostgreSQL (docs/benchmarks.md, "Lever 12").
const minSharedBatch = 4

// DefaultBatchWait is Options.BatchWait's default.
const DefaultBatchWait = 2 * time.Millisecond

// startBatch decides whether a committer holding n operations starts its
// batch now, with underWay operations in the batches under way, after
// gathering for waited of at most wait (negative: it never waits).
func startBatch(n int, underWay int64, waited, wait time.Duration) bool {
	return underWay < minSharedBatch || n >= minSharedBatch || waited >= wait
}

// op is one write operation waiting for a committer.
type op struct {
	ctx  context.Context
	fn   func(*tx) error
	done chan error // buffered: the committer never blocks on an answer
}

// committers feeds write operations to the store's committer goroutines.
type committers struct {
	s    *Store
	ops  chan *op // unbuffered: a queued op is always one a committer took
	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
	// gather is held by the committer gathering a batch; inFlight counts
	// the batches under way and underWay their operations, and ended is
	// notified when one ends.
	gather             sync.Mutex
	inFlight, underWay atomic.Int64
	ended              *signal
	wait               time.Duration // Options.BatchWait
	// batches counts committed transactions; waiting counts the
	// operations not yet taken by a committer; fallbacks counts batches
	// that ran whole, failed and ran again isolated; isolated is how many
	// batches still run isolated after the last fallback (see transact);
	// inline counts the batches that chained their audit records
	// themselves (PostgreSQL: chainInline).
	batches, waiting, fallbacks, isolated, inline atomic.Int64
}

// CommitBatches counts the group commit's transactions.
func (s *Store) CommitBatches() int64 { return s.commit.batches.Load() }

// AuditChainedInBatch counts the commit batches that chained their audit
// records themselves, finding the audit head free (PostgreSQL; SQLite
// always does, and counts none here).
func (s *Store) AuditChainedInBatch() int64 { return s.commit.inline.Load() }

// CommitFallbacks counts the batches that ran whole, failed and ran again
// isolated (see committers.transact).
func (s *Store) CommitFallbacks() int64 { return s.commit.fallbacks.Load() }

// startCommitters starts n committers (SQLite: one, its writer has one
// connection).
func (s *Store) startCommitters(n int) {
	c := &committers{s: s, ops: make(chan *op), stop: make(chan struct{}), ended: newSignal(), wait: s.opts.BatchWait}
	for range n {
		c.wg.Add(1)
		go c.run()
	}
	s.commit = c
}

// close stops the committers after their current batches.
func (c *committers) close() {
	c.once.Do(func() { close(c.stop) })
	c.wg.Wait()
}

// do runs fn in a batch and returns its outcome once the batch committed.
func (c *committers) do(ctx context.Context, fn func(*tx) error) error {
	o := &op{ctx: ctx, fn: fn, done: make(chan error, 1)}
	c.waiting.Add(1)
	select {
	case c.ops <- o:
		c.waiting.Add(-1)
		return <-o.done
	case <-ctx.Done():
		c.waiting.Add(-1)
		return ctx.Err()
	case <-c.stop:
		c.waiting.Add(-1)
		return latchkey.Errorf(latchkey.EUNAVAILABLE, "the store is closing")
	}
}

func (c *committers) run() {
	defer c.wg.Done()
	var carried []*op // operations that must run before any new one
	for {
		batch, ok := c.collect(carried)
		if !ok {
			return
		}
		c.inFlight.Add(1)
		c.underWay.Add(int64(len(batch)))
		carried = c.runBatch(batch)
		c.underWay.Add(-int64(len(batch)))
		c.inFlight.Add(-1)
		c.ended.notify()
		if w := c.s.wst; w != nil && w.hasPending() { // the writer's connection is free now
			w.preparePending(context.Background())
		}
	}
}

// collect gathers the next batch after the operations carried over (see
// startBatch); ok is false when the store closes with nothing gathered.
func (c *committers) collect(carried []*op) (batch []*op, ok bool) {
	if len(carried) > 0 { // they have waited a batch already: run them now, with what waits
		return c.drain(carried), true
	}
	// The gatherer waits for the next write holding gather; the other
	// idle committers wait for gather (a committer with carried
	// operations never does: the gatherer may be waiting for writes that
	// wait for those).
	c.gather.Lock()
	defer c.gather.Unlock()
	select {
	case o := <-c.ops:
		batch = append(batch, o)
	case <-c.stop:
		return nil, false
	}
	start := time.Now()
	var timeout <-chan time.Time
	for {
		if batch = c.drain(batch); len(batch) == maxBatch {
			return batch, true
		}
		ended := c.ended.wait() // before reading underWay: an end after it is seen
		waited := time.Since(start)
		if startBatch(len(batch), c.underWay.Load(), waited, c.wait) {
			return batch, true
		}
		if timeout == nil {
			t := time.NewTimer(c.wait - waited)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case o := <-c.ops:
			batch = append(batch, o)
		case <-ended:
		case <-timeout:
			return batch, true
		case <-c.stop:
			return batch, true
		}
	}
}

// drain adds to batch the operations waiting now, up to maxBatch.
func (c *committers) drain(batch []*op) []*op {
	for len(batch) < maxBatch {
		select {
		case o := <-c.ops:
			batch = append(batch, o)
		default:
			return batch
		}
	}
	return batch
}

// runBatch runs the batch's operations in one transaction and answers
// each of them, except those carried over to the next batch, which it
// returns.
func (c *committers) runBatch(batch []*op) []*op {
	live := batch[:0]
	for _, o := range batch {
		if err := o.ctx.Err(); err != nil {
			o.done <- err
			continue
		}
		live = append(live, o)
	}
	if len(live) == 0 {
		return nil
	}
	results, carried, err := c.transact(live)
	for i, o := range live {
		switch {
		case err != nil:
			o.done <- err
		case results[i] != errCarried:
			o.done <- results[i]
		}
	}
	if err != nil {
		return nil
	}
	return carried
}

// errCarried marks, in transact's results, an operation carried over.
var errCarried = errors.New("carried over to the next batch")

// transact runs ops in one transaction. It returns each op's outcome (or
// errCarried) and the ops carried over, or one error for all of them when
// the transaction as a whole failed (and none of them changed anything).
//
// A batch first runs whole: its operations one after another with no
// savepoint between them (a savepoint is a round trip and, on
// PostgreSQL, a subtransaction: about a third of a busy node's lock
// throughput, measured). If every operation succeeds or is refused with
// keep, that transaction commits. If one fails otherwise (its writes must
// be undone) or a later operation's lock wait runs out, the transaction
// is rolled back, nothing of it having happened, and the batch runs again
// isolated: each operation in its own savepoint, as write operations are
// rerun after a lost race anyway. After such a fallback the committer
// runs its next isolatedAfterFallback batches isolated straight away, so
// a contended spell does not pay for every batch twice.
func (c *committers) transact(ops []*op) ([]error, []*op, error) {
	if runWhole(len(ops), c.isolated.Load()) {
		results, ok, err := c.transactWhole(ops)
		if ok || err != nil {
			return results, nil, err
		}
		c.fallbacks.Add(1)
		c.isolated.Store(isolatedAfterFallback)
	} else if len(ops) > 1 {
		c.isolated.Add(-1)
	}
	return c.transactIsolated(ops)
}

// isolatedAfterFallback is how many batches run isolated after one that
// fell back.
const isolatedAfterFallback = 16

// runWhole decides whether a batch of n operations first runs whole (see
// transact): one operation has nothing to be isolated from; after a
// fallback, isolated batches are still owed.
func runWhole(n int, isolatedOwed int64) bool {
	return n > 1 && isolatedOwed <= 0
}

// transactWhole runs ops in one transaction without savepoints. ok is
// false when one of them failed or timed out and the transaction was
// rolled back (nothing of it happened); err is a failure of the
// transaction as a whole.
func (c *committers) transactWhole(ops []*op) (results []error, ok bool, err error) {
	ctx := context.Background()
	err = c.s.inBatchTx(ctx, func(b batchTx) error {
		results = make([]error, len(ops))
		var w batchWrites
		limited := false
		for i, o := range ops {
			if bound := c.s.d.boundLockWait(laterOpLockWait); i > 0 && !limited && bound != "" {
				if err := b.between(ctx, []string{bound}); err != nil {
					b.rollback()
					return fmt.Errorf("bound lock waits: %w", err)
				}
				limited = true
			}
			t := c.s.batchOp(ctx, b, w.records)
			ferr := c.call(t, o.fn)
			var r *refusal
			if ferr != nil && !errors.As(ferr, &r) || b.rerunnable() { // failed, or read past a failure
				b.rollback()
				return nil
			}
			w.add(t)
			results[i] = ferr
		}
		if limited {
			if err := b.between(ctx, []string{unboundLockWait}); err != nil {
				b.rollback()
				return fmt.Errorf("lock timeout: %w", err)
			}
		}
		if err := c.finish(ctx, b, w); err != nil {
			if b.rerunnable() { // an operation's pipelined write failed: find which, isolated
				return nil
			}
			return err
		}
		ok = true
		return nil
	})
	if err != nil || !ok {
		return nil, false, err
	}
	return results, true, nil
}

// batchWrites is what a batch's operations left for its commit.
type batchWrites struct {
	records     []latchkey.AuditRecord
	mail        []string
	jobsChanged bool
}

// add takes what an operation that stands (succeeded or refused with
// keep) left.
func (w *batchWrites) add(t *tx) {
	w.records = append(w.records, t.audit...)
	w.mail = append(w.mail, t.mail...)
	w.jobsChanged = w.jobsChanged || t.jobsChanged
}

// transactIsolated runs ops in one transaction, each in its own
// savepoint: one that fails is rolled back to it and the others stand.
func (c *committers) transactIsolated(ops []*op) (results []error, carried []*op, err error) {
	ctx := context.Background()
	err = c.s.inBatchTx(ctx, func(b batchTx) error {
		fail := func(what string, err error) error {
			b.rollback()
			return fmt.Errorf("%s: %w", what, err)
		}
		results = make([]error, len(ops))
		var w batchWrites
		savepoints := len(ops) > 1
		limited := false // later operations' lock waits are bounded
		// The savepoint statements between two operations (release the
		// last one's, bound the lock waits, open the next one's) go to the
		// store together: on PostgreSQL with the next operation's first
		// statement (pgPipe), not a round trip of their own.
		var between []string
		for i, o := range ops {
			if savepoints {
				if bound := c.s.d.boundLockWait(laterOpLockWait); i > 0 && !limited && bound != "" {
					between = append(between, bound)
					limited = true
				}
				if err := b.between(ctx, append(between, "SAVEPOINT op")); err != nil {
					return fail("savepoint", err)
				}
				between = nil
			}
			t := c.s.batchOp(ctx, b, w.records)
			ferr := c.call(t, o.fn)
			var r *refusal
			if savepoints && (ferr == nil || errors.As(ferr, &r)) {
				// Its pipelined writes go now: one that fails is its failure.
				if err := b.sync(ctx); err != nil {
					ferr = err
				}
			}
			if ferr != nil && !errors.As(ferr, &r) {
				if !savepoints {
					b.rollback()
					results = []error{ferr}
					return nil
				}
				between = append(between, "ROLLBACK TO SAVEPOINT op")
				if i > 0 && c.s.d.lockWaitTimedOut(ferr) {
					ferr = errCarried
					carried = append(carried, o)
				}
			} else {
				w.add(t)
			}
			results[i] = ferr
			if savepoints {
				between = append(between, "RELEASE SAVEPOINT op")
			}
		}
		if limited { // what the batch writes after its operations waits as before
			between = append(between, unboundLockWait)
		}
		if err := b.between(ctx, between); err != nil {
			return fail("release savepoint", err)
		}
		return c.finish(ctx, b, w)
	})
	if err != nil {
		return nil, nil, err
	}
	return results, carried, nil
}

// finish writes the batch's audit records and notifications, commits,
// and wakes what waits for the commit on this node. On an error the
// transaction is rolled back.
func (c *committers) finish(ctx context.Context, b batchTx, w batchWrites) error {
	t := c.s.batchOp(ctx, b, nil)
	t.audit = w.records
	// Chaining in the batch holds the audit head through the commit: worth
	// it when this is the node's only batch under way (the next holder of
	// a lock hears of its grant a round sooner), not when other batches
	// of the node would find the head held and leave their records to a
	// round that waits for it.
	recs, err := t.flushAudit(c.inFlight.Load() <= 1)
	if err != nil {
		b.rollback()
		return err
	}
	if c.s.d.notifies() { // delivered at commit, to every node (the audit records' notify is the chainer's)
		for _, terminal := range w.mail {
			if err := t.execLater("SELECT pg_notify('"+mailChannel+"', ?)", terminal); err != nil {
				b.rollback()
				return fmt.Errorf("notify: %w", err)
			}
		}
		if w.jobsChanged {
			if err := t.execLater("SELECT pg_notify('" + jobsChannel + "', '')"); err != nil {
				b.rollback()
				return fmt.Errorf("notify: %w", err)
			}
		}
	}
	before := c.s.events.wait() // before the commit: see publishCommitted
	if err := b.commit(ctx); err != nil {
		return err
	}
	c.batches.Add(1)
	pending := len(w.records) > 0 && recs == nil // left to the chainer's round (PostgreSQL)
	if c.s.chain != nil && recs != nil {
		c.inline.Add(1)
	}
	if slices.ContainsFunc(w.records, func(r latchkey.AuditRecord) bool { return revokes(r.Action) }) {
		c.s.auth.flush() // before the revocation is answered: refused here at once
	}
	switch {
	case len(w.records) == 0:
	case pending: // the chainer's round wakes the streams
		c.s.chain.poke()
	default:
		c.s.publishCommitted(before, recs)
	}
	for _, terminal := range w.mail {
		c.s.mail.notify(terminal)
	}
	if w.jobsChanged {
		c.s.jobs.notify()
	}
	return nil
}

// call runs one operation, turning a panic into an error so that one bad
// operation cannot take the committer (and every later write) down.
func (c *committers) call(t *tx, fn func(*tx) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			c.s.log.Error("write operation panicked", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			err = fmt.Errorf("write operation panicked: %v", p)
		}
	}()
	return fn(t)
}
