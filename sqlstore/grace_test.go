package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"latchkey"
	"latchkey/sqlstore"
	"latchkey/sqlstore/sqlstoretest"
)

// After the whole cluster was silent for a minute (the database down),
// an edit lock whose lease was live when the silence began is still held,
// its lease lengthened by the minute; an active session's idle clock gets
// the minute back. Beats a second apart give nothing back.
func TestOutageGraceGivesTheSilenceBack(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		s, clock, beat := graceStore(t, b)
		ctx := context.Background()
		p, err := s.CreatePrincipal(ctx, admin, latchkey.Principal{Name: "ed", Role: latchkey.RoleDelegate})
		if err != nil {
			t.Fatal(err)
		}
		holder := latchkey.Caller{PrincipalID: p.ID, Role: latchkey.RoleDelegate, TokenID: "tok_ed"}
		ttl := 10
		res, err := s.AcquireLock(ctx, holder, "admin/users", latchkey.AcquireRequest{TTLSeconds: &ttl})
		if err != nil || res.ExpiresAt == nil {
			t.Fatalf("acquire: %+v, %v", res, err)
		}
		expires := *res.ExpiresAt
		clock.Advance(time.Second)
		beat() // a second: nothing given back
		if l, _ := s.GetLock(ctx, holder, "admin/users"); l.Holder == nil || !l.Holder.ExpiresAt.Equal(expires) {
			t.Fatalf("a beat a second later moved the lease: %+v, want %s", l.Holder, expires)
		}
		clock.Advance(time.Minute) // the outage: nobody beats, nobody renews
		if _, _, err := s.SweepLocks(ctx); err != nil {
			t.Fatal(err)
		}
		l, err := s.GetLock(ctx, holder, "admin/users")
		if err != nil || l.Holder == nil || !l.Holder.ExpiresAt.Equal(expires.Add(time.Minute)) {
			t.Fatalf("after a minute's outage: %+v, %v; want held until %s", l, err, expires.Add(time.Minute))
		}
		recs, _ := s.ListAudit(ctx, admin, latchkey.AuditFilter{Action: string(latchkey.ActionClusterResume), Limit: 10})
		if len(recs) != 1 {
			t.Fatalf("%d cluster.resume records, want one", len(recs))
		}
		beat() // the heartbeat after the sweep: applied once only
		if l, _ := s.GetLock(ctx, holder, "admin/users"); l.Holder == nil || !l.Holder.ExpiresAt.Equal(expires.Add(time.Minute)) {
			t.Fatalf("grace applied twice: %+v", l.Holder)
		}
	})
}

// The first request after an outage, before any heartbeat or sweep, finds
// the silence given back: another caller's acquire of an edit lock whose
// lease was live when the outage began finds it held (read-only), not
// granted over a lease the outage ran out.
func TestOutageGraceBeforeTheFirstHeartbeat(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		s, clock, _ := graceStore(t, b)
		ctx := context.Background()
		var callers []latchkey.Caller
		for _, name := range []string{"ed", "flo"} {
			p, err := s.CreatePrincipal(ctx, admin, latchkey.Principal{Name: name, Role: latchkey.RoleDelegate})
			if err != nil {
				t.Fatal(err)
			}
			callers = append(callers, latchkey.Caller{PrincipalID: p.ID, Role: latchkey.RoleDelegate, TokenID: "tok_" + name})
		}
		ttl := 10
		held, err := s.AcquireLock(ctx, callers[0], "admin/users", latchkey.AcquireRequest{TTLSeconds: &ttl})
		if err != nil || held.ExpiresAt == nil {
			t.Fatalf("acquire: %+v, %v", held, err)
		}
		clock.Advance(time.Minute) // the outage: no beat, no sweep, no renewal
		got, err := s.AcquireLock(ctx, callers[1], "admin/users", latchkey.AcquireRequest{TTLSeconds: &ttl})
		if err != nil || got.Mode != latchkey.LockReadOnly || got.Holder == nil || got.Holder.Principal != callers[0].PrincipalID {
			t.Fatalf("the first acquire after the outage: %+v, %v; want read-only, the holder's lease given the minute back", got, err)
		}
		l, err := s.GetLock(ctx, callers[0], "admin/users")
		if err != nil || l.Holder == nil || l.Holder.Principal != callers[0].PrincipalID || !l.Holder.ExpiresAt.Equal(held.ExpiresAt.Add(time.Minute)) {
			t.Fatalf("after the outage: %+v, %v", l.Holder, err)
		}
	})
}

// graceStore opens a store with the outage grace on, and node_a's first
// heartbeat made; beat makes another.
func graceStore(t *testing.T, b sqlstoretest.Backend) (s *sqlstore.Store, clock *sqlstoretest.Clock, beat func()) {
	t.Helper()
	clock = sqlstoretest.NewClock()
	opts := sqlstoretest.Options(clock)
	opts.OutageGrace = true
	s = sqlstoretest.Open(t, b.URL(t), opts)
	beat = func() {
		t.Helper()
		if err := s.Heartbeat(context.Background(), latchkey.Node{ID: "node_a", Addr: "a", StartedAt: clock.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	beat()
	return s, clock, beat
}
