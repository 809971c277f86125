package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"latchkey"
	"latchkey/sqlstore/sqlstoretest"
)

// After the whole cluster was silent for a minute (the database down),
// an edit lock whose lease was live when the silence began is still held,
// its lease lengthened by the minute; an active session's idle clock gets
// the minute back. Beats a second apart give nothing back.
func TestOutageGraceGivesTheSilenceBack(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		clock := sqlstoretest.NewClock()
		opts := sqlstoretest.Options(clock)
		opts.OutageGrace = true
		s := sqlstoretest.Open(t, b.URL(t), opts)
		ctx := context.Background()
		beat := func() {
			t.Helper()
			if err := s.Heartbeat(ctx, latchkey.Node{ID: "node_a", Addr: "a", StartedAt: clock.Now()}); err != nil {
				t.Fatal(err)
			}
		}
		beat()
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
