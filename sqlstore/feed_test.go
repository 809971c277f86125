package sqlstore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"latchkey"
	"latchkey/sqlstore"
	"latchkey/sqlstore/sqlstoretest"
)

// Readers of the event stream get every event exactly once and in order,
// whether it comes from the node's in-memory feed or, for a reader
// further behind than the feed holds, from the store; also while events
// are being written.
func TestEventFeedDeliversEveryEventOnce(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		s := sqlstoretest.Open(t, b.URL(t), sqlstoretest.Options(sqlstoretest.NewClock()))
		ctx := context.Background()
		start, err := s.LatestEventSeq(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.ListEvents(ctx, admin, latchkey.EventFilter{After: start}); err != nil { // the feed starts here
			t.Fatal(err)
		}
		const writes, perWrite = 12, 500 // more than the feed keeps
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
		for w := range writes {
			if err := s.Write(ctx, func(tx *sqlstore.Tx) error {
				for i := range perWrite {
					tx.Record("lock.test", fmt.Sprintf("w%d-%d", w, i))
					if i%5 == 0 {
						tx.Record("principal.test", "not a stream topic")
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
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
