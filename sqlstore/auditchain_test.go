package sqlstore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"latchkey"
	"latchkey/sqlstore"
	"latchkey/sqlstore/sqlstoretest"
)

// chainRecords gives consecutive seqs after the head and links each hash
// to the one before, the first to the head.
func TestChainRecords(t *testing.T) {
	at := time.Date(2026, 12, 4, 13, 0, 0, 0, time.UTC)
	rec := func(target string) latchkey.AuditRecord {
		return latchkey.AuditRecord{At: at, Actor: "a", Action: "lock.acquire", Target: target, Details: []byte(`{}`)}
	}
	for _, tc := range []struct {
		name     string
		seq      int64
		head     string
		n        int
		wantLast int64
	}{
		{"none", 7, "h7", 0, 7},
		{"one onto the genesis", 0, latchkey.GenesisHash, 1, 1},
		{"three onto a head", 41, "abc", 3, 44},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := make([]latchkey.AuditRecord, tc.n)
			for i := range rs {
				rs[i] = rec(fmt.Sprint(i))
			}
			seq, head := sqlstore.ChainRecords(tc.seq, tc.head, rs)
			if seq != tc.wantLast {
				t.Fatalf("last seq %d, want %d", seq, tc.wantLast)
			}
			prev := tc.head
			for i, r := range rs {
				if r.Seq != tc.seq+int64(i)+1 || r.PrevHash != prev || r.Hash != latchkey.ChainHash(prev, r) {
					t.Fatalf("record %d: seq %d prev %q hash %q, want seq %d chained onto %q", i, r.Seq, r.PrevHash, r.Hash, tc.seq+int64(i)+1, prev)
				}
				prev = r.Hash
			}
			if head != prev {
				t.Fatalf("head %q, want the last record's hash %q", head, prev)
			}
		})
	}
}

// TestAuditChainFollowsAnswers: writers on two nodes (one on SQLite)
// write at once; a record whose write was answered before another write
// began is chained before that write's record, each record is in the
// chain once, and the chain verifies.
func TestAuditChainFollowsAnswers(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		ctx := context.Background()
		e := mustEnv(t, b, latchkey.DefaultSite("s"), 0)
		nodes := []*sqlstore.Store{e.s}
		if b.Name == "postgres" {
			nodes = append(nodes, sqlstoretest.Open(t, e.url, sqlstoretest.Options(e.clock)))
		}
		const writers, each = 8, 40
		var mu sync.Mutex
		var answered []string      // in the order their answers came
		before := map[string]int{} // write -> len(answered) when it began
		var wg sync.WaitGroup
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					name := fmt.Sprintf("w%d-%d", w, i)
					mu.Lock()
					before[name] = len(answered)
					mu.Unlock()
					s := nodes[(w+i)%len(nodes)]
					if err := writeStep(s, name); err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					answered = append(answered, name)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		seqOf := map[string]int64{}
		err := e.s.ExportAudit(ctx, admin, 0, func(r latchkey.AuditRecord) error {
			if r.Action != "test.step" {
				return nil
			}
			if _, dup := seqOf[r.Target]; dup {
				return fmt.Errorf("%s chained twice", r.Target)
			}
			seqOf[r.Target] = r.Seq
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(seqOf) != writers*each {
			t.Fatalf("%d records chained, want %d", len(seqOf), writers*each)
		}
		for name, k := range before {
			for _, earlier := range answered[:k] {
				if seqOf[earlier] >= seqOf[name] {
					t.Fatalf("%s was answered before %s began, but is chained at %d, after it (%d)", earlier, name, seqOf[earlier], seqOf[name])
				}
			}
		}
		if v, err := e.s.VerifyAudit(ctx, admin); err != nil || !v.OK {
			t.Fatalf("verify: %+v %v", v, err)
		}
	})
}

// writeStep writes one audit record of action test.step about target, as
// a write operation of its own.
func writeStep(s *sqlstore.Store, target string) error {
	return s.Write(context.Background(), func(tx *sqlstore.Tx) error { tx.Record("test.step", target); return nil })
}

// waitNoPending waits up to a second for s to see nothing pending.
func waitNoPending(t *testing.T, s *sqlstore.Store, what string) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for {
		n, err := s.PendingAudit(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d batches of records still not chained after a second", what, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestAuditPendingChainedByAnotherNode (PostgreSQL): the records of a
// node that stops before its chainer's round (held here, as a SIGKILL
// would leave them) are chained within a second by another node's sweep,
// and by a node that starts later, without anyone reading the log.
func TestAuditPendingChainedByAnotherNode(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		if b.Name != "postgres" {
			t.Skip("SQLite chains in the writing transaction")
		}
		ctx := context.Background()
		e := mustEnv(t, b, latchkey.DefaultSite("s"), 0)
		write := func(s *sqlstore.Store, n int, prefix string) {
			for i := range n {
				if err := writeStep(s, fmt.Sprint(prefix, i)); err != nil {
					t.Fatal(err)
				}
			}
		}

		// A node running beside it.
		e.s.HoldChain(true)
		write(e.s, 20, "a")
		if n, err := e.s.PendingAudit(ctx); err != nil || n == 0 {
			t.Fatalf("%d pending (%v) with the chainer held, want some", n, err)
		}
		other := sqlstoretest.Open(t, e.url, sqlstoretest.Options(e.clock))
		waitNoPending(t, other, "with another node running")

		// A node started afterwards.
		write(e.s, 20, "b")
		other.HoldChain(true)
		time.Sleep(2 * 250 * time.Millisecond) // a sweep or two: still held
		if n, _ := e.s.PendingAudit(ctx); n == 0 {
			t.Fatal("records chained while every chainer was held: the hold does not hold")
		}
		later := sqlstoretest.Open(t, e.url, sqlstoretest.Options(e.clock))
		waitNoPending(t, later, "after a node started")
		got := 0
		if err := later.ExportAudit(ctx, admin, 0, func(r latchkey.AuditRecord) error {
			if r.Action == "test.step" {
				got++
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if got != 40 {
			t.Fatalf("%d records in the chain, want 40", got)
		}
		if v, err := later.VerifyAudit(ctx, admin); err != nil || !v.OK {
			t.Fatalf("verify: %+v %v", v, err)
		}
	})
}

// TestAuthCacheSeesPendingRevocation (PostgreSQL): a log-out whose record
// is not chained yet (every chainer held) is still refused on another
// node within a second: the token cache's look reads audit_pending too.
func TestAuthCacheSeesPendingRevocation(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		if b.Name != "postgres" {
			t.Skip("SQLite chains in the writing transaction")
		}
		ctx := context.Background()
		e := mustEnv(t, b, latchkey.DefaultSite("s"), 0)
		other := sqlstoretest.Open(t, e.url, sqlstoretest.Options(e.clock))
		tok, err := e.s.Login(ctx, "alice", pw("alice"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := other.Authenticate(ctx, tok.Token); err != nil {
			t.Fatal(err)
		}
		e.s.HoldChain(true)
		other.HoldChain(true)
		if err := e.s.Logout(ctx, tok.Token); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		for {
			_, err := other.Authenticate(ctx, tok.Token)
			if latchkey.ErrorCode(err) == latchkey.EUNAUTHENTICATED {
				break
			}
			if time.Since(start) > time.Second {
				t.Fatalf("the other node still accepts the token %v after the log-out (its record pending): %v", time.Since(start), err)
			}
			time.Sleep(5 * time.Millisecond)
		}
		if n, _ := e.s.PendingAudit(ctx); n == 0 {
			t.Fatal("the log-out's record was chained: the test did not test the pending path")
		}
		t.Logf("refused on the other node %v after the log-out, its record pending", time.Since(start).Round(time.Millisecond))
	})
}

// TestAuditChainedInTheWrite (PostgreSQL): with the audit head free, a
// write chains its records itself, so they are in the log when it is
// answered, nothing is pending and the chainer ran no round. With the
// head held by another transaction, a write does not wait for it: it is
// answered with its records pending, and they are chained once the head
// is free.
func TestAuditChainedInTheWrite(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		if b.Name != "postgres" {
			t.Skip("SQLite always chains in the writing transaction")
		}
		ctx := context.Background()
		e := mustEnv(t, b, latchkey.DefaultSite("s"), 0)
		write := func(target string) error { return writeStep(e.s, target) }
		waitNoPending(t, e.s, "after set-up")
		rounds, inline := e.s.AuditChainRounds(), e.s.AuditChainedInBatch()
		for i := range 5 {
			if err := write(fmt.Sprint("free-", i)); err != nil {
				t.Fatal(err)
			}
			if n, err := e.s.PendingAudit(ctx); err != nil || n != 0 {
				t.Fatalf("write %d answered with %d batches pending (%v): not chained in the write", i, n, err)
			}
		}
		if n := e.s.AuditChainRounds() - rounds; n != 0 {
			t.Fatalf("the chainer ran %d rounds for writes that found the head free", n)
		}
		if n := e.s.AuditChainedInBatch() - inline; n != 5 {
			t.Fatalf("%d batches counted as chained in the batch, want the 5 writes", n)
		}

		// With another of the node's batches under way, a write leaves its
		// records to the chainer even though the head is free: holding the
		// head through its commit would make the other batches' records
		// wait for a round behind it.
		var wg sync.WaitGroup
		release := holdCommitter(ctx, e.s, &wg)
		letGo := sync.OnceFunc(func() { close(release); wg.Wait() })
		defer letGo() // also when the test fails: the store cannot close with the batch held
		inline = e.s.AuditChainedInBatch()
		if err := write("beside-another"); err != nil {
			t.Fatal(err)
		}
		if n := e.s.AuditChainedInBatch() - inline; n != 0 {
			t.Fatalf("a write beside another batch chained in its batch (%d)", n)
		}
		letGo()
		waitNoPending(t, e.s, "after a write beside another batch")

		holder, err := sqlstoretest.RawDB(t, b, e.url).BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer holder.Rollback()
		if _, err := holder.ExecContext(ctx, "SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE"); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- write("while-held") }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the write waited for the head another transaction holds")
		}
		if n, err := e.s.PendingAudit(ctx); err != nil || n != 1 {
			t.Fatalf("%d batches pending (%v) with the head held, want the write's one", n, err)
		}
		if err := holder.Rollback(); err != nil {
			t.Fatal(err)
		}
		waitNoPending(t, e.s, "after the head was let go")
		var got []string
		if err := e.s.ExportAudit(ctx, admin, 0, func(r latchkey.AuditRecord) error {
			if r.Action == "test.step" {
				got = append(got, r.Target)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != "[free-0 free-1 free-2 free-3 free-4 beside-another while-held]" {
			t.Fatalf("the log holds %v", got)
		}
		if v, err := e.s.VerifyAudit(ctx, admin); err != nil || !v.OK {
			t.Fatalf("verify: %+v %v", v, err)
		}
	})
}
