package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"latchkey"
	"latchkey/sqlstore/sqlstoretest"
)

// Two nodes stamp a session's activity by their own estimates of the
// store's clock, which differ by the error of their measurements
// (microseconds to milliseconds); the second node's clock here reads 5 µs
// behind the first's. An unlock on the first node, then a touch, a lock
// and an unlock on the second: last_activity_at never moves back.
func TestActivityNeverMovesBackAcrossNodes(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		e := mustEnv(t, b, latchkey.DefaultSite("s"), 1)
		ctx := context.Background()
		behind := sqlstoretest.NewClock()
		e.clock.Advance(time.Second)
		behind.Advance(time.Second - 5*time.Microsecond)
		node2 := sqlstoretest.Open(t, e.url, sqlstoretest.Options(behind))
		r, err := e.login(0, "alice", pw("alice"), false)
		if err != nil {
			t.Fatal(err)
		}
		id := r.Session.ID
		if _, err := e.s.LockSession(ctx, e.term(0), id, latchkey.LockRequest{TimeSent: e.clock.Now(), Reason: "manual"}); err != nil {
			t.Fatal(err)
		}
		unlocked, err := e.s.UnlockSession(ctx, e.term(0), id, latchkey.UnlockRequest{Identity: "alice", Password: pw("alice"), TimeSent: e.clock.Now()})
		if err != nil {
			t.Fatal(err)
		}
		last := unlocked.LastActivityAt
		check := func(what string, s *latchkey.Session, err error) {
			t.Helper()
			if err != nil {
				t.Fatalf("%s on node 2: %v", what, err)
			}
			stored, err := e.s.GetSession(ctx, admin, id)
			if err != nil {
				t.Fatal(err)
			}
			if s.LastActivityAt.Before(last) || !stored.LastActivityAt.Equal(s.LastActivityAt) {
				t.Fatalf("%s on node 2 moved last_activity_at back: %s → %s (stored %s)", what, last, s.LastActivityAt, stored.LastActivityAt)
			}
			last = s.LastActivityAt
		}
		touched, err := node2.TouchSession(ctx, e.term(0), id)
		check("touch", touched, err)
		locked, err := node2.LockSession(ctx, e.term(0), id, latchkey.LockRequest{TimeSent: behind.Now(), Reason: "manual"})
		check("lock", locked, err)
		again, err := node2.UnlockSession(ctx, e.term(0), id, latchkey.UnlockRequest{Identity: "alice", Password: pw("alice"), TimeSent: behind.Now()})
		check("unlock", again, err)
		// Activity later by node 2's clock is recorded as it is.
		behind.Advance(time.Millisecond)
		touched, err = node2.TouchSession(ctx, e.term(0), id)
		check("a later touch", touched, err)
		if !touched.LastActivityAt.Equal(behind.Now()) {
			t.Fatalf("a later touch: %s, want node 2's now %s", touched.LastActivityAt, behind.Now())
		}
	})
}
