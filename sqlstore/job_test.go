package sqlstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"latchkey"
	"latchkey/sqlstore"
	"latchkey/sqlstore/sqlstoretest"
)

var (
	jobAdmin = latchkey.Caller{PrincipalID: "prn_admin", Role: latchkey.RoleAdmin}
	noop     = []latchkey.JobKind{"noop"}
)

func claimOne(t *testing.T, s *sqlstore.Store, node string, lease time.Duration) (latchkey.Job, bool) {
	t.Helper()
	got, err := s.ClaimJobs(context.Background(), node, noop, 1, lease)
	if err != nil {
		t.Fatalf("claim: %v", err)
	}
	if len(got) == 0 {
		return latchkey.Job{}, false
	}
	return got[0], true
}

// A job runs when due, once; a key keeps a second live job out, and frees
// itself when the job ends.
func TestJobEnqueueClaimComplete(t *testing.T) {
	sqlstoretest.ForEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		clock := sqlstoretest.NewClock()
		s := sqlstoretest.Open(t, b.URL(t), sqlstoretest.Options(clock))
		ctx := context.Background()
		j, err := s.EnqueueJob(ctx, latchkey.JobSpec{Kind: "noop", Key: "once", Args: map[string]string{"a": "b"}, RunAt: clock.Now().Add(time.Minute)})
		if err != nil || j.State != latchkey.JobAvailable {
			t.Fatalf("enqueue: %+v, %v", j, err)
		}
		again, err := s.EnqueueJob(ctx, latchkey.JobSpec{Kind: "noop", Key: "once"})
		if err != nil || again.ID != j.ID {
			t.Fatalf("a second job with a live key: %+v, %v; want the first (%s)", again, err, j.ID)
		}
		if _, ok := claimOne(t, s, "node_a", time.Second); ok {
			t.Fatal("claimed a job before its run_at")
		}
		if got, _ := s.ClaimJobs(ctx, "node_a", []latchkey.JobKind{"other"}, 5, time.Second); len(got) != 0 {
			t.Fatalf("claimed a job of another kind: %+v", got)
		}
		clock.Advance(time.Minute)
		c, ok := claimOne(t, s, "node_a", time.Second)
		if !ok || c.ID != j.ID || c.Fence != 1 || c.Attempts != 1 || c.Node != "node_a" || string(c.Args) != `{"a":"b"}` {
			t.Fatalf("claim: %+v %v", c, ok)
		}
		if _, ok := claimOne(t, s, "node_b", time.Second); ok {
			t.Fatal("a job under a live claim was claimed again")
		}
		if err := s.CompleteJob(ctx, c); err != nil {
			t.Fatal(err)
		}
		got, err := s.Job(ctx, jobAdmin, j.ID)
		if err != nil || got.State != latchkey.JobDone || got.EndedAt == nil {
			t.Fatalf("after complete: %+v, %v", got, err)
		}
		if err := s.CompleteJob(ctx, c); !latchkey.IsStaleFence(err) {
			t.Fatalf("complete twice: %v, want ErrStaleFence", err)
		}
		next, err := s.EnqueueJob(ctx, latchkey.JobSpec{Kind: "noop", Key: "once"})
		if err != nil || next.ID == j.ID {
			t.Fatalf("the key of an ended job: %+v, %v; want a new job", next, err)
		}
	})
}

// A claim whose lease lapsed is taken over by another node under a new
// fence; the first node's late completion, failure, snooze, renewal and
// step are all refused, and the step's writes are undone.
func TestJobTakeoverFencesTheStaleClaim(t *testing.T) {
	sqlstoretest.ForEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		clock := sqlstoretest.NewClock()
		s := sqlstoretest.Open(t, b.URL(t), sqlstoretest.Options(clock))
		ctx := context.Background()
		if _, err := s.EnqueueJob(ctx, latchkey.JobSpec{Kind: "noop"}); err != nil {
			t.Fatal(err)
		}
		a, _ := claimOne(t, s, "node_a", 3*time.Second)
		clock.Advance(2 * time.Second)
		if _, ok := claimOne(t, s, "node_b", 3*time.Second); ok {
			t.Fatal("taken over before the lease lapsed")
		}
		clock.Advance(time.Second)
		bc, ok := claimOne(t, s, "node_b", 3*time.Second)
		if !ok || bc.ID != a.ID || bc.Fence != a.Fence+1 || bc.Node != "node_b" || bc.Attempts != 2 {
			t.Fatalf("takeover: %+v %v", bc, ok)
		}
		if err := s.CompleteJob(ctx, a); !latchkey.IsStaleFence(err) {
			t.Errorf("stale complete: %v", err)
		}
		if err := s.FailJob(ctx, a, errors.New("x")); !latchkey.IsStaleFence(err) {
			t.Errorf("stale fail: %v", err)
		}
		if err := s.SnoozeJob(ctx, a, time.Second); !latchkey.IsStaleFence(err) {
			t.Errorf("stale snooze: %v", err)
		}
		if lost, err := s.ExtendJobLeases(ctx, []latchkey.Job{a, bc}, time.Second); err != nil || len(lost) != 1 || lost[0].Fence != a.Fence {
			t.Errorf("extend: lost %+v, %v; want only the stale claim", lost, err)
		}
		if err := s.Write(ctx, func(tx *sqlstore.Tx) error { return tx.Exec("CREATE TABLE step_effects (claim TEXT)") }); err != nil {
			t.Fatal(err)
		}
		err := s.RunJobStep(ctx, a, func(tx *sqlstore.Tx, _ latchkey.Job) error {
			return tx.Exec("INSERT INTO step_effects (claim) VALUES ('stale')")
		})
		if !latchkey.IsStaleFence(err) {
			t.Errorf("stale step: %v", err)
		}
		// The live claim's step commits with its completion.
		err = s.RunJobStep(ctx, bc, func(tx *sqlstore.Tx, _ latchkey.Job) error {
			return tx.Exec("INSERT INTO step_effects (claim) VALUES ('live')")
		})
		if err != nil {
			t.Fatal(err)
		}
		var n, live int
		if err := s.Write(ctx, func(tx *sqlstore.Tx) error {
			return tx.Scan("SELECT COUNT(*), COUNT(CASE WHEN claim = 'live' THEN 1 END) FROM step_effects", nil, &n, &live)
		}); err != nil {
			t.Fatal(err)
		}
		if n != 1 || live != 1 {
			t.Errorf("%d effects written by steps (%d of the live claim), want only the live claim's", n, live)
		}
		if got, _ := s.Job(ctx, jobAdmin, a.ID); got.State != latchkey.JobDone || got.Node != "node_b" {
			t.Errorf("job: %+v", got)
		}
	})
}

// A failing job backs off and is retried until it has used its
// attempts; it then ends failed with its error and an audit record, and
// an admin can retry it.
func TestJobFailureRetryAndAdminRetry(t *testing.T) {
	sqlstoretest.ForEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		clock := sqlstoretest.NewClock()
		s := sqlstoretest.Open(t, b.URL(t), sqlstoretest.Options(clock))
		ctx := context.Background()
		j, _ := s.EnqueueJob(ctx, latchkey.JobSpec{Kind: "noop", MaxAttempts: 2})
		c, _ := claimOne(t, s, "node_a", time.Second)
		if err := s.FailJob(ctx, c, errors.New("disk on fire")); err != nil {
			t.Fatal(err)
		}
		got, _ := s.Job(ctx, jobAdmin, j.ID)
		if got.State != latchkey.JobAvailable || got.Error != "disk on fire" || got.RunAt.Before(clock.Now().Add(latchkey.JobRetryBase/2)) {
			t.Fatalf("after one failure: %+v", got)
		}
		if _, ok := claimOne(t, s, "node_a", time.Second); ok {
			t.Fatal("retried before its back-off")
		}
		clock.Advance(latchkey.JobRetryBase)
		c, ok := claimOne(t, s, "node_a", time.Second)
		if !ok {
			t.Fatal("not retried after its back-off")
		}
		if err := s.FailJob(ctx, c, errors.New("still on fire")); err != nil {
			t.Fatal(err)
		}
		got, _ = s.Job(ctx, jobAdmin, j.ID)
		if got.State != latchkey.JobFailed || got.Error != "still on fire" || got.Attempts != 2 {
			t.Fatalf("after its last attempt: %+v", got)
		}
		clock.Advance(time.Hour)
		if _, ok := claimOne(t, s, "node_a", time.Second); ok {
			t.Fatal("a failed job was claimed")
		}
		recs, err := s.ListAudit(ctx, jobAdmin, latchkey.AuditFilter{Action: string(latchkey.ActionJobFail), Limit: 10})
		if err != nil || len(recs) != 1 || recs[0].Target != j.ID {
			t.Fatalf("audit of the failure: %+v, %v", recs, err)
		}
		failed, _, err := s.Jobs(ctx, jobAdmin, latchkey.JobFilter{State: latchkey.JobFailed})
		if err != nil || len(failed) != 1 || failed[0].ID != j.ID {
			t.Fatalf("failed jobs: %+v, %v", failed, err)
		}
		delegate := latchkey.Caller{PrincipalID: "prn_d", Role: latchkey.RoleDelegate}
		if _, err := s.RetryJob(ctx, delegate, j.ID); latchkey.ErrorCode(err) != latchkey.EFORBIDDEN {
			t.Fatalf("retry by a delegate: %v", err)
		}
		r, err := s.RetryJob(ctx, jobAdmin, j.ID)
		if err != nil || r.State != latchkey.JobAvailable || r.Attempts != 0 {
			t.Fatalf("retry: %+v, %v", r, err)
		}
		if _, err := s.RetryJob(ctx, jobAdmin, j.ID); latchkey.ErrorCode(err) != latchkey.ECONFLICT {
			t.Fatalf("retry of an available job: %v, want conflict", err)
		}
		c, ok = claimOne(t, s, "node_b", time.Second)
		if !ok || c.ID != j.ID {
			t.Fatal("a retried job was not claimed")
		}
		if err := s.SnoozeJob(ctx, c, time.Minute); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Job(ctx, jobAdmin, j.ID); got.Attempts != 0 || got.State != latchkey.JobAvailable {
			t.Fatalf("a snooze counted an attempt: %+v", got)
		}
		if x, err := s.CancelJob(ctx, jobAdmin, j.ID); err != nil || x.State != latchkey.JobCancelled {
			t.Fatalf("cancel: %+v, %v", x, err)
		}
		if _, _, err := s.Jobs(ctx, jobAdmin, latchkey.JobFilter{State: "bogus"}); latchkey.ErrorCode(err) != latchkey.EBADREQUEST {
			t.Fatalf("unknown state filter: %v", err)
		}
	})
}

// Nodes claiming at once never claim one job twice, and every job is
// claimed (PostgreSQL: SKIP LOCKED; SQLite: one writer).
func TestJobConcurrentClaimsTakeEachJobOnce(t *testing.T) {
	sqlstoretest.ForEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		url := b.URL(t)
		const jobs, nodes = 300, 6
		stores := make([]*sqlstore.Store, 3) // three "nodes" on one database
		for i := range stores {
			stores[i] = sqlstoretest.Open(t, url, sqlstoretest.Options(latchkey.SystemClock{}))
		}
		ctx := context.Background()
		for i := range jobs {
			if _, err := stores[0].EnqueueJob(ctx, latchkey.JobSpec{Kind: "noop", Args: i}); err != nil {
				t.Fatal(err)
			}
		}
		var mu sync.Mutex
		seen := map[string]string{}
		var wg sync.WaitGroup
		for n := range nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, node := stores[n%len(stores)], fmt.Sprintf("node_%d", n)
				for {
					got, err := s.ClaimJobs(ctx, node, noop, 7, time.Minute)
					if err != nil {
						t.Error(err)
						return
					}
					if len(got) == 0 {
						return
					}
					for _, c := range got {
						mu.Lock()
						if other, dup := seen[c.ID]; dup {
							t.Errorf("job %s claimed by %s and %s", c.ID, other, node)
						}
						seen[c.ID] = node
						mu.Unlock()
						if err := s.CompleteJob(ctx, c); err != nil {
							t.Error(err)
						}
					}
				}
			}()
		}
		wg.Wait()
		if len(seen) != jobs {
			t.Fatalf("%d jobs claimed, want %d", len(seen), jobs)
		}
	})
}

// An enqueue wakes the runners waiting on JobsChanged, on this node and
// (PostgreSQL) on every other.
func TestJobsChangedWakesOtherNodes(t *testing.T) {
	sqlstoretest.ForEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		url := b.URL(t)
		s1 := sqlstoretest.Open(t, url, sqlstoretest.Options(latchkey.SystemClock{}))
		watchers := []*sqlstore.Store{s1}
		if b.Name == "postgres" {
			watchers = append(watchers, sqlstoretest.Open(t, url, sqlstoretest.Options(latchkey.SystemClock{})))
		}
		ctx := context.Background()
		var chans []<-chan struct{}
		for _, w := range watchers {
			chans = append(chans, w.JobsChanged())
		}
		if _, err := s1.EnqueueJob(ctx, latchkey.JobSpec{Kind: "noop"}); err != nil {
			t.Fatal(err)
		}
		for i, ch := range chans {
			select {
			case <-ch:
			case <-time.After(5 * time.Second):
				t.Fatalf("node %d was not woken by an enqueue", i+1)
			}
		}
	})
}

// The store's one-statement claim applies exactly latchkey.ClaimJob's
// change, for a fresh job and for a takeover.
func TestClaimFollowsTheRule(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		clock := sqlstoretest.NewClock()
		s := sqlstoretest.Open(t, b.URL(t), sqlstoretest.Options(clock))
		ctx := context.Background()
		if _, err := s.EnqueueJob(ctx, latchkey.JobSpec{Kind: "noop"}); err != nil {
			t.Fatal(err)
		}
		for i, node := range []string{"node_a", "node_b"} {
			all, _, err := s.Jobs(ctx, jobAdmin, latchkey.JobFilter{})
			if err != nil || len(all) != 1 {
				t.Fatalf("%v %v", all, err)
			}
			want, err := latchkey.ClaimJob(all[0], node, clock.Now(), 3*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := claimOne(t, s, node, 3*time.Second)
			if !ok {
				t.Fatalf("claim %d: nothing", i)
			}
			if got.State != want.State || got.Node != want.Node || got.Fence != want.Fence || got.Attempts != want.Attempts ||
				!got.LeaseUntil.Equal(*want.LeaseUntil) || !got.UpdatedAt.Equal(want.UpdatedAt) || !got.RunAt.Equal(want.RunAt) {
				t.Fatalf("claim %d: store %+v, rule %+v", i, got, want)
			}
			clock.Advance(3 * time.Second) // the lease lapses: the next is a takeover
		}
	})
}

// The store's one-statement wake-up applies latchkey.WakeJob's change to
// the live job of a key, in each state a job can be in: a sleeping job is
// due now, a running one is marked woken (once), and a due or ended one is
// left alone; and the snooze of a woken claim is due at once.
func TestWakeFollowsTheRule(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		clock := sqlstoretest.NewClock()
		s := sqlstoretest.Open(t, b.URL(t), sqlstoretest.Options(clock))
		ctx := context.Background()
		kinds := []latchkey.JobKind{"wake"}
		claim := func(key string) latchkey.Job {
			t.Helper()
			got, err := s.ClaimJobs(ctx, "node_a", kinds, 1, time.Minute)
			if err != nil || len(got) != 1 || got[0].Key != key {
				t.Fatalf("claim %s: %+v, %v", key, got, err)
			}
			return got[0]
		}
		wake := func(key string) {
			t.Helper()
			if err := s.Write(ctx, func(tx *sqlstore.Tx) error { return tx.WakeJob(key) }); err != nil {
				t.Fatalf("wake %s: %v", key, err)
			}
		}
		enqueue := func(key string, in time.Duration) latchkey.Job {
			t.Helper()
			j, err := s.EnqueueJob(ctx, latchkey.JobSpec{Kind: "wake", Key: key, RunAt: clock.Now().Add(in)})
			if err != nil {
				t.Fatal(err)
			}
			return j
		}
		// One job in each state (claimed one at a time: the others are
		// not due yet, or no longer available).
		enqueue("running", 0)
		running := claim("running")
		enqueue("woken", 0)
		woken := claim("woken")
		wake("woken")
		enqueue("done", 0)
		if err := s.CompleteJob(ctx, claim("done")); err != nil {
			t.Fatal(err)
		}
		enqueue("due", -time.Second)
		sleeping := enqueue("sleeping", time.Hour)
		clock.Advance(time.Millisecond)
		byKey := func() map[string]latchkey.Job {
			all, _, err := s.Jobs(ctx, jobAdmin, latchkey.JobFilter{Kind: "wake"})
			if err != nil {
				t.Fatal(err)
			}
			m := map[string]latchkey.Job{}
			for _, j := range all {
				m[j.Key] = j
			}
			return m
		}
		before := byKey()
		for _, key := range []string{"sleeping", "due", "running", "woken", "done", "none"} {
			wake(key)
		}
		after := byKey()
		for key, was := range before {
			want, _ := latchkey.WakeJob(was, clock.Now())
			got := after[key]
			if got.State != want.State || !got.RunAt.Equal(want.RunAt) || got.Woken != want.Woken || !got.UpdatedAt.Equal(want.UpdatedAt) ||
				got.Fence != want.Fence || got.Attempts != want.Attempts {
				t.Errorf("%s: store %+v, rule %+v", key, got, want)
			}
		}
		if !after["sleeping"].RunAt.Equal(clock.Now()) || !after["running"].Woken || after["sleeping"].ID != sleeping.ID {
			t.Fatalf("the wake-ups did nothing: %+v", after)
		}
		// The woken claims' snoozes are due at once, unmarked; a claim
		// not woken sleeps its time.
		for _, c := range []latchkey.Job{running, woken} {
			if err := s.SnoozeJob(ctx, c, time.Hour); err != nil {
				t.Fatal(err)
			}
			if got, _ := s.Job(ctx, jobAdmin, c.ID); !got.RunAt.Equal(clock.Now()) || got.Woken || got.State != latchkey.JobAvailable {
				t.Errorf("the snooze of woken claim %s: %+v", c.Key, got)
			}
		}
		if err := s.SnoozeJob(ctx, claim("due"), time.Hour); err != nil {
			t.Fatal(err)
		}
		if got := byKey()["due"]; !got.RunAt.Equal(clock.Now().Add(time.Hour)) {
			t.Errorf("the snooze of a claim not woken: %+v", got)
		}
	})
}

// The store's one-statement completion applies latchkey.CompleteJob's
// change.
func TestCompleteFollowsTheRule(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		clock := sqlstoretest.NewClock()
		s := sqlstoretest.Open(t, b.URL(t), sqlstoretest.Options(clock))
		ctx := context.Background()
		if _, err := s.EnqueueJob(ctx, latchkey.JobSpec{Kind: "noop"}); err != nil {
			t.Fatal(err)
		}
		c, _ := claimOne(t, s, "node_a", time.Second)
		clock.Advance(time.Millisecond)
		want, err := latchkey.CompleteJob(c, c.Fence, clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := s.CompleteJob(ctx, c); err != nil {
			t.Fatal(err)
		}
		got, _ := s.Job(ctx, jobAdmin, c.ID)
		if got.State != want.State || got.LeaseUntil != nil || got.Error != want.Error || !got.UpdatedAt.Equal(want.UpdatedAt) ||
			got.EndedAt == nil || !got.EndedAt.Equal(*want.EndedAt) || got.Fence != want.Fence || got.Attempts != want.Attempts {
			t.Fatalf("store %+v, rule %+v", got, want)
		}
		if err := s.CompleteJob(ctx, latchkey.Job{ID: "job_nope", Fence: 1}); latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
			t.Fatalf("an unknown job: %v", err)
		}
	})
}

// The store's batched completion applies latchkey.CompleteJob's rule to
// each claim of the batch against its own fence: a fresh claim is
// completed; a claim whose job was taken over, completed or cancelled,
// and a claim of no job, are returned as lost and change nothing, even
// beside a live claim of the same job in the same batch.
func TestCompleteJobsFollowsTheRule(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		clock := sqlstoretest.NewClock()
		s := sqlstoretest.Open(t, b.URL(t), sqlstoretest.Options(clock))
		ctx := context.Background()
		for range 4 {
			if _, err := s.EnqueueJob(ctx, latchkey.JobSpec{Kind: "noop"}); err != nil {
				t.Fatal(err)
			}
		}
		claims, err := s.ClaimJobs(ctx, "node_a", noop, 4, time.Second)
		if err != nil || len(claims) != 4 {
			t.Fatalf("claim: %+v, %v", claims, err)
		}
		fresh, stale, ended, cancelled := claims[0], claims[1], claims[2], claims[3]
		if err := s.CompleteJob(ctx, ended); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CancelJob(ctx, jobAdmin, cancelled.ID); err != nil {
			t.Fatal(err)
		}
		if lost, err := s.ExtendJobLeases(ctx, []latchkey.Job{fresh}, time.Hour); err != nil || len(lost) != 0 {
			t.Fatalf("extend: %v, %v", lost, err)
		}
		clock.Advance(time.Second) // stale's lease lapses: node_b takes it over
		live, ok := claimOne(t, s, "node_b", time.Second)
		if !ok || live.ID != stale.ID || live.Fence != stale.Fence+1 {
			t.Fatalf("takeover: %+v %v", live, ok)
		}
		// First the stale claim alone, then beside the live claim of its job.
		for i, batch := range [][]latchkey.Job{
			{fresh, stale, ended, cancelled, {ID: "job_nope", Fence: 1}},
			{stale, live},
		} {
			clock.Advance(time.Millisecond)
			// What the rule says, claim by claim in order.
			jobs := map[string]latchkey.Job{}
			for _, c := range batch {
				if j, err := s.Job(ctx, jobAdmin, c.ID); err == nil {
					jobs[c.ID] = j
				}
			}
			var wantLost []latchkey.Job
			for _, c := range batch {
				j, ok := jobs[c.ID]
				if !ok {
					wantLost = append(wantLost, c)
					continue
				}
				done, err := latchkey.CompleteJob(j, c.Fence, clock.Now())
				if latchkey.IsStaleFence(err) {
					wantLost = append(wantLost, c)
					continue
				} else if err != nil {
					t.Fatal(err)
				}
				jobs[c.ID] = done
			}
			lost, err := s.CompleteJobs(ctx, batch)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(claimIDs(lost)) != fmt.Sprint(claimIDs(wantLost)) {
				t.Errorf("batch %d: lost %v, the rule says %v", i, claimIDs(lost), claimIDs(wantLost))
			}
			for id, want := range jobs {
				got, err := s.Job(ctx, jobAdmin, id)
				if err != nil {
					t.Fatal(err)
				}
				g, _ := json.Marshal(got)
				w, _ := json.Marshal(want)
				if string(g) != string(w) {
					t.Errorf("batch %d, job %s:\nstore %s\nrule  %s", i, id, g, w)
				}
			}
		}
		for _, c := range []latchkey.Job{fresh, live} {
			if got, _ := s.Job(ctx, jobAdmin, c.ID); got.State != latchkey.JobDone || got.Node != c.Node {
				t.Errorf("the job of a live claim: %+v, want done by %s", got, c.Node)
			}
		}
		if lost, err := s.CompleteJobs(ctx, nil); err != nil || len(lost) != 0 {
			t.Errorf("an empty batch: %v, %v", lost, err)
		}
	})
}

// claimIDs names claims as ID@fence, for messages and comparisons.
func claimIDs(claims []latchkey.Job) []string {
	var out []string
	for _, c := range claims {
		out = append(out, fmt.Sprintf("%s@%d", c.ID, c.Fence))
	}
	return out
}

// Every way the store ends a claim notes it on the handler's watch, even
// when the claim turns out stale: a handler that tried to end its claim
// is not completed behind its back by its runner.
func TestEndingAClaimNotesTheWatch(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		clock := sqlstoretest.NewClock()
		s := sqlstoretest.Open(t, b.URL(t), sqlstoretest.Options(clock))
		ctx := context.Background()
		for range 5 {
			if _, err := s.EnqueueJob(ctx, latchkey.JobSpec{Kind: "noop"}); err != nil {
				t.Fatal(err)
			}
		}
		claims, err := s.ClaimJobs(ctx, "node_a", noop, 5, time.Second)
		if err != nil || len(claims) != 5 {
			t.Fatalf("claim: %+v, %v", claims, err)
		}
		stale := claims[4]
		stale.Fence++
		for name, end := range map[string]func(context.Context, latchkey.Job) error{
			"complete": s.CompleteJob,
			"fail":     func(ctx context.Context, c latchkey.Job) error { return s.FailJob(ctx, c, errors.New("x")) },
			"snooze":   func(ctx context.Context, c latchkey.Job) error { return s.SnoozeJob(ctx, c, time.Second) },
			"step": func(ctx context.Context, c latchkey.Job) error {
				return s.RunJobStep(ctx, c, func(*sqlstore.Tx, latchkey.Job) error { return nil })
			},
		} {
			c := claims[0]
			claims = claims[1:]
			for _, c := range []latchkey.Job{c, stale} {
				wctx, w := latchkey.WatchClaim(ctx, c)
				err := end(wctx, c)
				if c.Fence == stale.Fence && !latchkey.IsStaleFence(err) || c.Fence != stale.Fence && err != nil {
					t.Errorf("%s %s@%d: %v", name, c.ID, c.Fence, err)
				}
				if !w.Ending() {
					t.Errorf("%s %s@%d: the watch was not told", name, c.ID, c.Fence)
				}
			}
		}
	})
}
