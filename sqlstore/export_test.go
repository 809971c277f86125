package sqlstore

import (
	"context"
	"time"

	"latchkey"
)

// Test hooks for the group-commit tests in package sqlstore_test.

// Tx is a write transaction as a write operation sees it.
type Tx = tx

// Write runs fn as one write operation.
func (s *Store) Write(ctx context.Context, fn func(*Tx) error) error { return s.write(ctx, fn) }

// Exec runs a statement in the operation's transaction.
func (t *Tx) Exec(q string, args ...any) error {
	_, err := t.exec(q, args...)
	return err
}

// ExecLater runs a write whose result nobody reads (pipelined on
// PostgreSQL: sent with the next statements).
func (t *Tx) ExecLater(q string, args ...any) error { return t.execLater(q, args...) }

// Record queues an audit record of the operation; its action need not be
// one of latchkey.Actions.
func (t *Tx) Record(action, target string) {
	t.queueAudit("test", "", latchkey.Action(action), target, nil)
}

// RecordDetails queues an audit record with details; its action need not
// be one of latchkey.Actions.
func (t *Tx) RecordDetails(action, target string, details map[string]any) {
	t.queueAudit("test", "term-1", latchkey.Action(action), target, details)
}

// ReadEvents reads the events after seq after from the store itself, not
// the feed.
func (s *Store) ReadEvents(ctx context.Context, after int64) ([]latchkey.Event, error) {
	evs, _, err := s.readEvents(ctx, after, latchkey.Topics, 1000)
	return evs, err
}

// RecordBy queues an audit record by actor; its action need not be one of
// latchkey.Actions.
func (t *Tx) RecordBy(actor, action, target string) {
	t.queueAudit(actor, "", latchkey.Action(action), target, nil)
}

// RecordChecked queues a record the way the store's operations do.
func (t *Tx) RecordChecked(action latchkey.Action, target string) {
	t.record("test", "", action, target, nil)
}

// Keep marks err as a refusal that keeps the operation's writes.
func Keep(err error) error { return keep(err) }

// WaitingWrites is how many write operations wait for a committer.
func (s *Store) WaitingWrites() int64 { return s.commit.waiting.Load() }

// Scan reads one row in the operation's transaction.
func (t *Tx) Scan(q string, args []any, dest ...any) error {
	return t.queryRow(q, args...).Scan(dest...)
}

// RunJobStep runs step and completes the claim's job in one transaction
// holding its fence.
func (s *Store) RunJobStep(ctx context.Context, claim latchkey.Job, step func(*Tx, latchkey.Job) error) error {
	return s.runJobStep(ctx, claim, step)
}

// Setting is a PostgreSQL setting as the store's connections see it.
func (s *Store) Setting(ctx context.Context, name string) (string, error) {
	var v string
	err := s.r.QueryRowContext(ctx, "SELECT current_setting($1)", name).Scan(&v)
	return v, err
}

// HoldChain stops (true) or lets (false) the node's chainer move pending
// audit records into the log, as a node killed before its round would
// leave them (PostgreSQL; SQLite has no chainer). It waits for a round
// under way to end.
func (s *Store) HoldChain(hold bool) {
	s.chain.round.Lock()
	defer s.chain.round.Unlock()
	s.chain.held.Store(hold)
}

// PendingAudit counts the batches of records not chained yet.
func (s *Store) PendingAudit(ctx context.Context) (int, error) {
	var n int
	err := s.r.QueryRowContext(ctx, "SELECT COUNT(*) FROM audit_pending").Scan(&n)
	return n, err
}

// ChainRecords is chainRecords, for its table test.
var ChainRecords = chainRecords

// RunWhole is runWhole, for its table test.
var RunWhole = runWhole

// StartBatch is startBatch, for its table test.
var StartBatch = startBatch

// SettleAudit chains what is pending (PostgreSQL), as the reads that
// judge the log do first.
func (s *Store) SettleAudit(ctx context.Context) error { return s.settleAudit(ctx) }

// CollectCarriedWhileGathering collects n carried-over operations while
// the store's idle committers wait for writes (one of them holding the
// gather lock), and reports whether that returned within a second, with
// how many.
func (s *Store) CollectCarriedWhileGathering(n int) (int, bool) {
	c := s.commit
	time.Sleep(20 * time.Millisecond) // an idle committer has taken the gather lock
	carried := make([]*op, n)
	for i := range carried {
		carried[i] = &op{ctx: context.Background(), done: make(chan error, 1)}
	}
	got := make(chan int, 1)
	go func() {
		b, _ := c.collect(carried)
		got <- len(b)
	}()
	select {
	case k := <-got:
		return k, true
	case <-time.After(time.Second):
		return 0, false
	}
}

// WakeJob wakes the live job with key in the operation's transaction, as
// a decision or a reply wakes its workflow's.
func (t *Tx) WakeJob(key string) error { return t.wakeJob(key) }

// Listening says whether the store's PostgreSQL listener follows its
// channels (always false on SQLite).
func (s *Store) Listening() bool { return s.listening.Load() }
