package sqlstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"latchkey"
	"latchkey/sqlstore"
	"latchkey/sqlstore/sqlstoretest"
)

// A check-out whose expiry job fails does not hold up the others; it is
// retried after a jittered, growing delay, and not before (the job
// engine's back-off).
func TestExpiryJobsRetryWithBackoff(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		clock := sqlstoretest.NewClock()
		s := sqlstoretest.Open(t, b.URL(t), sqlstoretest.Options(clock))
		ctx := context.Background()
		staff := admin
		site, err := s.CreateSite(ctx, staff, latchkey.DefaultSite("branch"))
		if err != nil {
			t.Fatal(err)
		}
		p, err := s.CreatePrincipal(ctx, staff, latchkey.Principal{Name: "ann", Role: latchkey.RoleUser})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.AddIdentity(ctx, staff, p.ID, "ann", "pw-ann-pw"); err != nil {
			t.Fatal(err)
		}
		set, err := s.CreateGroupSet(ctx, staff, latchkey.GroupSet{Name: "tools", Groups: []string{"wheel"}})
		if err != nil {
			t.Fatal(err)
		}
		var cos []*latchkey.Checkout
		for i := range 2 {
			tm, err := s.RegisterTerminal(ctx, staff, "ws"+string(rune('a'+i)), site.ID)
			if err != nil {
				t.Fatal(err)
			}
			co, err := s.CreateCheckout(ctx, staff, latchkey.CheckoutCreate{GroupSet: set.ID, Terminal: tm.ID, Principal: p.ID, Minutes: 1})
			if err != nil {
				t.Fatal(err)
			}
			cos = append(cos, co)
		}
		poisoned, good := cos[0], cos[1]
		if err := s.Write(ctx, func(tx *sqlstore.Tx) error {
			return tx.Exec("DELETE FROM instructions WHERE checkout_id = ?", poisoned.ID)
		}); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Minute)
		n, err := s.SweepCheckouts(ctx)
		if n != 1 || err == nil || !strings.Contains(err.Error(), poisoned.ID) {
			t.Fatalf("first sweep: %d, %v; want the good one checked in and the poisoned one's error", n, err)
		}
		if got, _ := s.GetCheckout(ctx, staff, good.ID); got.Status != latchkey.CheckedIn {
			t.Fatalf("the good check-out: %s, want checked_in", got.Status)
		}
		retryAt := func() (int, time.Time) {
			var attempts int
			var at int64
			if err := s.Write(ctx, func(tx *sqlstore.Tx) error {
				return tx.Scan("SELECT attempts, run_at FROM jobs WHERE job_key = ?", []any{"checkout.expire:" + poisoned.ID}, &attempts, &at)
			}); err != nil {
				t.Fatal(err)
			}
			return attempts, time.UnixMicro(at).UTC()
		}
		attempts, at := retryAt()
		if attempts != 1 || at.Before(clock.Now().Add(latchkey.JobRetryBase/2)) || at.After(clock.Now().Add(latchkey.JobRetryBase)) {
			t.Fatalf("after one failure: attempt %d, retry at %s (now %s); want within the first backoff", attempts, at, clock.Now())
		}
		if n, err := s.SweepCheckouts(ctx); n != 0 || err != nil {
			t.Fatalf("a sweep before the retry time: %d, %v; want nothing tried", n, err)
		}
		clock.Advance(latchkey.JobRetryBase)
		if _, err := s.SweepCheckouts(ctx); err == nil {
			t.Fatal("the retry did not run")
		}
		if attempts, at2 := retryAt(); attempts != 2 || !at2.After(at) {
			t.Fatalf("after the second failure: attempt %d, retry at %s", attempts, at2)
		}
	})
}
