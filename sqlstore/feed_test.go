package sqlstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"latchkey"
	"latchkey/sqlstore"
	"latchkey/sqlstore/sqlstoretest"
)

// startFeed starts s's event feed at the head of the log, whose seq it
// returns.
func startFeed(t *testing.T, ctx context.Context, s *sqlstore.Store) int64 {
	t.Helper()
	start, err := s.LatestEventSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.ListEvents(ctx, admin, latchkey.EventFilter{After: start}); err != nil {
		t.Fatal(err)
	}
	return start
}

// Readers of the event stream get every event exactly once and in order,
// whether it comes from the node's in-memory feed or, for a reader
// further behind than the feed holds, from the store; also while events
// are being written.
func TestEventFeedDeliversEveryEventOnce(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		s := sqlstoretest.Open(t, b.URL(t), sqlstoretest.Options(sqlstoretest.NewClock()))
		ctx := context.Background()
		start := startFeed(t, ctx, s)
		const writes, perWrite = 20, 500 // more than the feed keeps (feedSize+feedSlack)
		var wg sync.WaitGroup
		read := func(after int64, n int) ([]int64, error) {
			var got []int64
			for len(got) < n {
				evs, last, err := s.ListEvents(ctx, admin, latchkey.EventFilter{After: after, Topics: []string{latchkey.TopicLocks}, Limit: 700})
				if err != nil {
					return got, err
				}
				for _, e := range evs {
					got = append(got, e.Seq)
				}
				after = last
			}
			return got, nil
		}
		live := make([][]int64, 4)
		errs := make([]error, len(live))
		for i := range live { // readers that follow the writes as they happen
			wg.Add(1)
			go func() { defer wg.Done(); live[i], errs[i] = read(start, writes*perWrite) }()
		}
		var writers sync.WaitGroup
		for k := range 4 { // writers at once: on PostgreSQL several batches, chained in them or by the chainer
			writers.Add(1)
			go func() {
				defer writers.Done()
				for w := k; w < writes; w += 4 {
					if err := s.Write(ctx, func(tx *sqlstore.Tx) error {
						for i := range perWrite {
							tx.Record("lock.test", fmt.Sprintf("w%d-%d", w, i))
							if i%5 == 0 {
								tx.Record("principal.test", "not a stream topic")
							}
						}
						return nil
					}); err != nil {
						t.Error(err)
					}
				}
			}()
		}
		writers.Wait()
		wg.Wait()
		late, err := read(start, writes*perWrite) // from before the feed's floor: the store
		if err != nil {
			t.Fatal(err)
		}
		want := []int64{}
		for after := start; ; {
			recs, err := s.ListAudit(ctx, admin, latchkey.AuditFilter{After: after, Action: "lock.test", Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) == 0 {
				break
			}
			for _, r := range recs {
				want = append(want, r.Seq)
			}
			after = recs[len(recs)-1].Seq
		}
		for i, got := range append(live, late) {
			if i < len(errs) && errs[i] != nil {
				t.Fatalf("reader %d: %v", i, errs[i])
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("reader %d got %d events, want the %d in the audit log, in order", i, len(got), len(want))
			}
		}
	})
}

// A commit of this node whose records it chained itself puts their events
// in the node's feed: the streams it wakes take them from memory, with no
// read of the store, and get exactly what a read of the store gives.
func TestEventFeedTakesTheNodesOwnCommits(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		clock := sqlstoretest.NewClock()
		clock.Advance(1234567 * time.Nanosecond) // a time a read gives back to the microsecond only
		opts := sqlstoretest.Options(clock)
		opts.Committers = 1 // one batch under way at a time: it chains its records itself
		s := sqlstoretest.Open(t, b.URL(t), opts)
		ctx := context.Background()
		if b.Name == "postgres" { // its listener wakes everything once it connects: before the feed starts
			waitFor(t, "the listener to connect", s.Listening)
		}
		start := startFeed(t, ctx, s)
		began := time.Now()
		reads0, published0 := s.FeedCounts()
		const commits = 5
		after := start
		for i := range commits {
			if err := s.Write(ctx, func(tx *sqlstore.Tx) error {
				tx.RecordDetails("lock.test", fmt.Sprint("own-", i), map[string]any{"i": i, "name": "ünïcode \"quoted\""})
				tx.Record("principal.test", "not a stream topic")
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			evs, last, err := s.ListEvents(ctx, admin, latchkey.EventFilter{After: after})
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != 1 || evs[0].Target != fmt.Sprint("own-", i) {
				t.Fatalf("commit %d: the feed gave %+v, want its one event", i, evs)
			}
			stored, err := s.ReadEvents(ctx, after)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(evs)
			want, _ := json.Marshal(stored)
			if string(got) != string(want) {
				t.Fatalf("commit %d: the feed gave\n%s\nthe store gives\n%s", i, got, want)
			}
			after = last
		}
		reads, published := s.FeedCounts()
		if got := published - published0; got != commits {
			t.Errorf("%d of %d commits put their events in the feed themselves", got, commits)
		}
		// The feed reads the store anyway once its last read is a second old.
		if got := reads - reads0; got != 0 && time.Since(began) < time.Second {
			t.Errorf("the feed read the store %d times for the node's own commits", got)
		}
	})
}

// A commit of another node that this node's feed has not read yet keeps
// this node's next commit from going into the feed by itself: a stream
// then gets both, in order (PostgreSQL: nodes share it).
func TestEventFeedReadsAnotherNodesCommitFirst(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		if b.Name != "postgres" {
			t.Skip("one node writes a SQLite store")
		}
		url := b.URL(t)
		opts := sqlstoretest.Options(sqlstoretest.NewClock())
		opts.Committers = 1
		s := sqlstoretest.Open(t, url, opts)
		other := sqlstoretest.Open(t, url, opts)
		ctx := context.Background()
		start := startFeed(t, ctx, s)
		write := func(st *sqlstore.Store, target string) {
			t.Helper()
			if err := st.Write(ctx, func(tx *sqlstore.Tx) error { tx.Record("lock.test", target); return nil }); err != nil {
				t.Fatal(err)
			}
		}
		heard := s.EventsChanged()
		write(other, "the other node's")
		select { // this node heard of it (and its feed has not read it)
		case <-heard:
		case <-time.After(10 * time.Second):
			t.Fatal("this node never heard of the other node's commit")
		}
		write(s, "this node's")
		evs, _, err := s.ListEvents(ctx, admin, latchkey.EventFilter{After: start})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range evs {
			got = append(got, e.Target)
		}
		if fmt.Sprint(got) != "[the other node's this node's]" {
			t.Fatalf("a stream got %q, want the other node's event and then this node's", got)
		}
	})
}

// A caller who may see few of the events, reading from further back than
// the feed holds, gets an answer shorter than its limit only once it has
// caught up: the stream then waits for the next commit instead of reading
// again (GET /v1/events).
func TestListEventsShortAnswerMeansCaughtUp(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		s := sqlstoretest.Open(t, b.URL(t), sqlstoretest.Options(sqlstoretest.NewClock()))
		ctx := context.Background()
		start, err := s.LatestEventSeq(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// 1,200 session events of someone else, then three of the caller's.
		if err := s.Write(ctx, func(tx *sqlstore.Tx) error {
			for i := range 1200 {
				tx.RecordBy("prn_other", "session.test", fmt.Sprintf("other-%d", i))
			}
			for i := range 3 {
				tx.RecordBy("prn_watcher", "session.test", fmt.Sprintf("mine-%d", i))
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if err := s.SettleAudit(ctx); err != nil { // events are the chained log's (PostgreSQL: after the chainer's round)
			t.Fatal(err)
		}
		user := latchkey.Caller{Role: latchkey.RoleUser, PrincipalID: "prn_watcher"}
		list := func(after int64, limit int) ([]string, int64) {
			t.Helper()
			evs, last, err := s.ListEvents(ctx, user, latchkey.EventFilter{After: after, Topics: []string{latchkey.TopicSessions}, Limit: limit})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range evs {
				got = append(got, e.Target)
			}
			return got, last
		}
		head, err := s.LatestEventSeq(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// The store is read past 1,200 invisible events, 500 at a time.
		if got, last := list(start, 500); fmt.Sprint(got) != "[mine-0 mine-1 mine-2]" || last != head {
			t.Fatalf("got %v up to %d; want the caller's three events, up to the head %d", got, last, head)
		}
		// A full answer stops at its last event; the next starts after it.
		got, last := list(start, 2)
		if fmt.Sprint(got) != "[mine-0 mine-1]" || last != head-1 {
			t.Fatalf("limit 2: got %v up to %d; want mine-0 and mine-1, up to %d", got, last, head-1)
		}
		if got, last := list(last, 2); fmt.Sprint(got) != "[mine-2]" || last != head {
			t.Fatalf("the rest: got %v up to %d; want mine-2 up to %d", got, last, head)
		}
	})
}
