package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"latchkey"
	"latchkey/sqlstore"
	"latchkey/sqlstore/sqlstoretest"
)

// holdCommitter starts a write that holds a committer (a batch under way)
// until release is closed; wg waits for it.
func holdCommitter(ctx context.Context, s *sqlstore.Store, wg *sync.WaitGroup) (release chan struct{}) {
	release = make(chan struct{})
	blocked := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.Write(ctx, func(tx *sqlstore.Tx) error { close(blocked); <-release; return nil })
	}()
	<-blocked
	return release
}

// scratchStore opens a store with one committer and a table scratch
// whose key may be anything but 'bad'.
func scratchStore(t *testing.T, b sqlstoretest.Backend) (*sqlstore.Store, context.Context) {
	t.Helper()
	opts := sqlstoretest.Options(sqlstoretest.NewClock())
	opts.Committers = 1
	s := sqlstoretest.Open(t, b.URL(t), opts)
	ctx := context.Background()
	if err := s.Write(ctx, func(tx *sqlstore.Tx) error {
		return tx.Exec("CREATE TABLE scratch (k TEXT PRIMARY KEY CHECK (k <> 'bad'))")
	}); err != nil {
		t.Fatal(err)
	}
	return s, ctx
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// Operations that queue while the committer is busy share one transaction;
// inside it each is isolated: a failed or panicking one leaves no row and
// no audit record, a refusal keeps both, and one whose caller gave up
// while it queued never runs.
func TestGroupCommitSharesATransactionAndIsolatesOperations(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		s, ctx := scratchStore(t, b)

		var wg sync.WaitGroup
		release := holdCommitter(ctx, s, &wg)
		before := s.CommitBatches()

		const n = 25
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = s.Write(ctx, func(tx *sqlstore.Tx) error {
					k := fmt.Sprintf("k%02d", i)
					if err := tx.Exec("INSERT INTO scratch (k) VALUES (?)", k); err != nil {
						return err
					}
					tx.Record("test.op", k)
					switch i % 5 {
					case 1:
						return errors.New("boom")
					case 2:
						return sqlstore.Keep(latchkey.Errorf(latchkey.EFORBIDDEN, "refused but kept"))
					case 3:
						panic("bad operation")
					case 4: // a write whose failure, pipelined, shows only with a later statement
						return tx.ExecLater("INSERT INTO scratch (k) VALUES ('bad')")
					}
					return nil
				})
			}()
		}
		waitFor(t, "the operations to queue", func() bool { return s.WaitingWrites() == n })

		// One more queues and gives up before a committer takes it.
		gaveUp, cancel := context.WithCancel(ctx)
		ran := false
		gone := make(chan error)
		go func() {
			gone <- s.Write(gaveUp, func(tx *sqlstore.Tx) error {
				ran = true
				return tx.Exec("INSERT INTO scratch (k) VALUES ('gave-up')")
			})
		}()
		waitFor(t, "the last operation to queue", func() bool { return s.WaitingWrites() == n+1 })
		cancel()
		if err := <-gone; !errors.Is(err, context.Canceled) || ran {
			t.Fatalf("operation given up while queued: %v, ran %v; want context.Canceled, not run", err, ran)
		}

		fallbacks := s.CommitFallbacks()
		close(release)
		wg.Wait()
		if got := s.CommitBatches() - before; got != 2 {
			t.Errorf("%d commits for the blocker and %d queued operations; want 2 (the queued ones share one)", got, n)
		}
		if got := s.CommitFallbacks() - fallbacks; got != 1 {
			t.Errorf("%d fallbacks, want 1: the batch ran whole, met a failing operation, and ran again isolated", got)
		}

		want := map[string]bool{}
		for i, err := range errs {
			switch i % 5 {
			case 0:
				if err != nil {
					t.Errorf("op %d: %v, want success", i, err)
				}
				want[fmt.Sprintf("k%02d", i)] = true
			case 1:
				if err == nil || err.Error() != "boom" {
					t.Errorf("op %d: %v, want its own error", i, err)
				}
			case 2:
				if latchkey.ErrorCode(err) != latchkey.EFORBIDDEN {
					t.Errorf("op %d: %v, want the refusal", i, err)
				}
				want[fmt.Sprintf("k%02d", i)] = true
			case 3:
				if err == nil || !strings.Contains(err.Error(), "panicked") {
					t.Errorf("op %d: %v, want the panic as an error", i, err)
				}
			case 4:
				if err == nil || !strings.Contains(strings.ToLower(err.Error()), "check") {
					t.Errorf("op %d: %v, want its write's failure", i, err)
				}
			}
		}
		for i := range n {
			k := fmt.Sprintf("k%02d", i)
			var rows int
			if err := s.Write(ctx, func(tx *sqlstore.Tx) error {
				return tx.Scan("SELECT COUNT(*) FROM scratch WHERE k = ?", []any{k}, &rows)
			}); err != nil {
				t.Fatal(err)
			}
			if (rows == 1) != want[k] {
				t.Errorf("row %s: %d stored, want kept %v", k, rows, want[k])
			}
		}
		recs, err := s.ListAudit(ctx, admin, latchkey.AuditFilter{Action: "test.op", Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, r := range recs {
			got[r.Target] = true
		}
		if len(recs) != len(want) || len(got) != len(want) {
			t.Errorf("audit records %v, want one for each kept operation %v", got, want)
		}
		for k := range want {
			if !got[k] {
				t.Errorf("no audit record for kept operation %s", k)
			}
		}
		if v, err := s.VerifyAudit(ctx, admin); err != nil || !v.OK {
			t.Fatalf("audit chain after a shared transaction: %+v, %v", v, err)
		}
	})
}

// A batch whose operations all stand runs whole: each operation once,
// one commit, no fallback; the audit chain holds each record once.
func TestGroupCommitRunsWholeWhenAllStand(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		opts := sqlstoretest.Options(sqlstoretest.NewClock())
		opts.Committers = 1
		s := sqlstoretest.Open(t, b.URL(t), opts)
		ctx := context.Background()
		var wg sync.WaitGroup
		release := holdCommitter(ctx, s, &wg)
		before, fallbacks := s.CommitBatches(), s.CommitFallbacks()
		const n = 16
		var runs atomic.Int64
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := s.Write(ctx, func(tx *sqlstore.Tx) error {
					runs.Add(1)
					tx.Record("test.whole", fmt.Sprint(i))
					if i%2 == 1 {
						return sqlstore.Keep(latchkey.Errorf(latchkey.EFORBIDDEN, "refused but kept"))
					}
					return nil
				}); err != nil && i%2 == 0 {
					t.Error(err)
				}
			}()
		}
		waitFor(t, "the operations to queue", func() bool { return s.WaitingWrites() == n })
		close(release)
		wg.Wait()
		if got := s.CommitBatches() - before; got != 2 {
			t.Errorf("%d commits, want 2", got)
		}
		if got := s.CommitFallbacks() - fallbacks; got != 0 {
			t.Errorf("%d fallbacks for a batch whose operations all stand, want 0", got)
		}
		if got := runs.Load(); got != n {
			t.Errorf("the operations ran %d times, want %d (once each)", got, n)
		}
		recs, err := s.ListAudit(ctx, admin, latchkey.AuditFilter{Action: "test.whole", Limit: 100})
		if err != nil || len(recs) != n {
			t.Fatalf("%d records (%v), want %d", len(recs), err, n)
		}
	})
}

// A batch whose last operation's write fails where the failure shows
// only at the commit (pipelined on PostgreSQL: the write goes with
// COMMIT) runs again isolated: that operation fails with its write's
// error, the others stand, each answered once.
func TestGroupCommitLastWriteFailsAtTheCommit(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		s, ctx := scratchStore(t, b)
		var wg sync.WaitGroup
		release := holdCommitter(ctx, s, &wg)
		fallbacks := s.CommitFallbacks()
		const n = 3
		errs := make([]error, n)
		for i := range n { // queued in order: the bad write is the batch's last
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = s.Write(ctx, func(tx *sqlstore.Tx) error {
					k := fmt.Sprint("k", i)
					if i == n-1 {
						k = "bad"
					}
					return tx.ExecLater("INSERT INTO scratch (k) VALUES (?)", k)
				})
			}()
			waitFor(t, "the operation to queue", func() bool { return s.WaitingWrites() == int64(i+1) })
		}
		close(release)
		wg.Wait()
		for i, err := range errs {
			if i < n-1 && err != nil {
				t.Errorf("op %d: %v, want success", i, err)
			}
			if i == n-1 && (err == nil || !strings.Contains(strings.ToLower(err.Error()), "check")) {
				t.Errorf("op %d: %v, want its write's failure", i, err)
			}
		}
		if got := s.CommitFallbacks() - fallbacks; got != 1 {
			t.Errorf("%d fallbacks, want 1", got)
		}
		var rows int
		if err := s.Write(ctx, func(tx *sqlstore.Tx) error { return tx.Scan("SELECT COUNT(*) FROM scratch", nil, &rows) }); err != nil || rows != n-1 {
			t.Fatalf("%d rows stored (%v), want %d", rows, err, n-1)
		}
	})
}

func TestRunWhole(t *testing.T) {
	for _, tc := range []struct {
		n    int
		owed int64
		want bool
	}{
		{1, 0, false},  // one operation: nothing to isolate it from
		{2, 0, true},   // the usual batch
		{128, 0, true}, // a full one
		{5, 3, false},  // isolated batches still owed after a fallback
		{5, -1, true},  // owed ran out (the counter goes below zero)
	} {
		if got := sqlstore.RunWhole(tc.n, tc.owed); got != tc.want {
			t.Errorf("runWhole(%d, %d) = %v, want %v", tc.n, tc.owed, got, tc.want)
		}
	}
}

// After Close, writes are refused with unavailable, and Close waits for
// the batch under way: when it returns, that write has committed and has
// its answer.
func TestGroupCommitClose(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		url := b.URL(t)
		ctx := context.Background()
		s, err := sqlstore.Open(ctx, url, sqlstoretest.Options(sqlstoretest.NewClock()))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Write(ctx, func(tx *sqlstore.Tx) error { return tx.Exec("CREATE TABLE scratch (k TEXT PRIMARY KEY)") }); err != nil {
			t.Fatal(err)
		}
		started, finished := make(chan struct{}), make(chan error, 1)
		var returned atomic.Bool
		go func() {
			finished <- s.Write(ctx, func(tx *sqlstore.Tx) error {
				close(started)
				time.Sleep(200 * time.Millisecond)
				returned.Store(true)
				return tx.Exec("INSERT INTO scratch (k) VALUES ('slow')")
			})
		}()
		<-started
		if err := s.Close(); err != nil {
			t.Fatalf("close: %v", err)
		}
		if !returned.Load() {
			t.Fatal("Close returned before the write under way had run")
		}
		// The answer was handed over before Close returned; the goroutine
		// that receives it may just not have been scheduled yet.
		select {
		case err := <-finished:
			if err != nil {
				t.Fatalf("the write under way at Close: %v, want committed", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the write under way at Close was never answered")
		}
		if err := s.Write(ctx, func(*sqlstore.Tx) error { return nil }); latchkey.ErrorCode(err) != latchkey.EUNAVAILABLE {
			t.Fatalf("write after Close: %v, want unavailable", err)
		}

		again := sqlstoretest.Open(t, url, sqlstoretest.Options(sqlstoretest.NewClock()))
		var n int
		if err := again.Write(ctx, func(tx *sqlstore.Tx) error {
			return tx.Scan("SELECT COUNT(*) FROM scratch WHERE k = 'slow'", nil, &n)
		}); err != nil || n != 1 {
			t.Fatalf("after reopening, the write under way at Close: %d rows, %v; want 1", n, err)
		}
	})
}

// On PostgreSQL a batch's later operation does not wait for a row another
// transaction holds: it is carried over to the next batch, and the
// operations batched with it commit without waiting.
func TestGroupCommitCarriesOverLockWaits(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		if b.Name != "postgres" {
			t.Skip("SQLite has one writer: no transaction waits for another's row")
		}
		opts := sqlstoretest.Options(sqlstoretest.NewClock())
		opts.Committers = 2
		s := sqlstoretest.Open(t, b.URL(t), opts)
		ctx := context.Background()
		if err := s.Write(ctx, func(tx *sqlstore.Tx) error {
			if err := tx.Exec("CREATE TABLE scratch (k TEXT PRIMARY KEY, v INT)"); err != nil {
				return err
			}
			return tx.Exec("INSERT INTO scratch (k, v) VALUES ('x', 0), ('y', 0)")
		}); err != nil {
			t.Fatal(err)
		}
		hold := func(set string) (started, release chan struct{}, done chan error) {
			started, release, done = make(chan struct{}), make(chan struct{}), make(chan error, 1)
			go func() {
				done <- s.Write(ctx, func(tx *sqlstore.Tx) error {
					if err := tx.Exec(set); err != nil {
						return err
					}
					close(started)
					<-release
					return nil
				})
			}()
			return
		}
		aStarted, releaseA, aDone := hold("UPDATE scratch SET v = 1 WHERE k = 'x'") // holds row x
		var once sync.Once
		letAGo := func() { once.Do(func() { close(releaseA) }) }
		defer letAGo() // a failing test must not leave the store's Close waiting on row x
		<-aStarted
		dStarted, releaseD, dDone := hold("UPDATE scratch SET v = 1 WHERE k = 'y'") // keeps the other committer busy
		<-dStarted

		bDone, cDone := make(chan error, 1), make(chan error, 1)
		go func() {
			bDone <- s.Write(ctx, func(tx *sqlstore.Tx) error { return tx.Exec("INSERT INTO scratch (k, v) VALUES ('b', 0)") })
		}()
		waitFor(t, "b to queue", func() bool { return s.WaitingWrites() == 1 })
		go func() {
			cDone <- s.Write(ctx, func(tx *sqlstore.Tx) error { return tx.Exec("UPDATE scratch SET v = v + 10 WHERE k = 'x'") })
		}()
		waitFor(t, "c to queue", func() bool { return s.WaitingWrites() == 2 })
		close(releaseD) // the free committer takes [b, c]: c waits for row x
		if err := <-dDone; err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-bDone:
			if err != nil {
				t.Fatalf("b: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("b waited for the row lock that c, batched after it, needs")
		}
		select {
		case err := <-cDone:
			t.Fatalf("c answered (%v) while row x is still held", err)
		case <-time.After(100 * time.Millisecond):
		}
		letAGo()
		if err := <-aDone; err != nil {
			t.Fatal(err)
		}
		if err := <-cDone; err != nil {
			t.Fatalf("c, carried over: %v", err)
		}
		var v int
		if err := s.Write(ctx, func(tx *sqlstore.Tx) error {
			return tx.Scan("SELECT v FROM scratch WHERE k = 'x'", nil, &v)
		}); err != nil || v != 11 {
			t.Fatalf("row x = %d, %v; want 11 (a's 1, then c's +10)", v, err)
		}
	})
}

func TestStartBatch(t *testing.T) {
	const wait = 2 * time.Millisecond
	for _, tc := range []struct {
		name     string
		n        int
		underWay int64
		waited   time.Duration
		want     bool
	}{
		{"nothing under way: at once", 1, 0, 0, true},
		{"one write while a batch of one commits: at once", 1, 1, 0, true},
		{"one write while three commit: at once", 1, 3, 0, true},
		{"one write while four commit: gather", 1, 4, 0, false},
		{"three while many commit: gather", 3, 40, time.Millisecond, false},
		{"enough to share a commit", 4, 40, 0, true},
		{"waited its time", 1, 40, wait, true},
	} {
		if got := sqlstore.StartBatch(tc.n, tc.underWay, tc.waited, -1); !got {
			t.Errorf("%s: startBatch(%d, %d, %v) with a negative wait = false, want true: it never waits", tc.name, tc.n, tc.underWay, tc.waited)
		}
		if got := sqlstore.StartBatch(tc.n, tc.underWay, tc.waited, wait); got != tc.want {
			t.Errorf("%s: startBatch(%d, %d, %v) = %v, want %v", tc.name, tc.n, tc.underWay, tc.waited, got, tc.want)
		}
	}
}

// With several committers (PostgreSQL), writes that arrive one by one
// while the batches under way hold minSharedBatch operations are gathered
// into one batch of their own instead of one transaction each; a write
// with fewer under way (none, or one: a chain of lock hand-overs) does not
// wait.
func TestGroupCommitGathersWhileABatchCommits(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		if b.Name != "postgres" {
			t.Skip("SQLite has one committer: nothing is ever under way beside it")
		}
		opts := sqlstoretest.Options(sqlstoretest.NewClock())
		opts.Committers = 5              // four held below, one to gather
		opts.BatchWait = 5 * time.Second // long: only the rule ends the gathering here
		s := sqlstoretest.Open(t, b.URL(t), opts)
		ctx := context.Background()
		write := func(what string) error {
			return s.Write(ctx, func(tx *sqlstore.Tx) error { tx.Record("test.gather", what); return nil })
		}
		quick := func(what string) {
			t.Helper()
			start := time.Now()
			if err := write(what); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d > time.Second {
				t.Fatalf("a write with %s took %v: it waited to gather", what, d)
			}
		}

		quick("no batch under way")
		var wg sync.WaitGroup
		var releases []chan struct{}
		t.Cleanup(func() { // before the store closes (cleanups run last first), also after a failure
			for _, r := range releases {
				close(r)
			}
			wg.Wait()
		})
		releases = append(releases, holdCommitter(ctx, s, &wg))
		quick("one write under way")
		for range 3 { // each starts at once too: fewer than four under way
			releases = append(releases, holdCommitter(ctx, s, &wg))
		}
		before := s.CommitBatches()
		var done atomic.Int64
		for i := range 4 { // one by one, far apart: each would have had its own transaction
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := write(fmt.Sprint("gathered ", i)); err != nil {
					t.Error(err)
				}
				done.Add(1)
			}()
			time.Sleep(50 * time.Millisecond)
		}
		waitFor(t, "the four writes to be answered", func() bool { return done.Load() == 4 })
		if got := s.CommitBatches() - before; got != 1 {
			t.Errorf("%d commits for four writes gathered while four were under way, want 1", got)
		}
	})
}

// Operations carried over to the next batch run at once, even while
// another committer holds the gather lock waiting for new writes: they
// must not wait behind it (the writes it waits for may be waiting for
// them; a deadlock the reservation caps test found).
func TestGroupCommitCarriedDoNotWaitForTheGatherer(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		s := sqlstoretest.Open(t, b.URL(t), sqlstoretest.Options(sqlstoretest.NewClock()))
		n, ok := s.CollectCarriedWhileGathering(2)
		if !ok || n != 2 {
			t.Fatalf("collected %d carried operations (returned: %v), want 2 at once", n, ok)
		}
	})
}
