package apitest_test

import (
	"context"
	"testing"
	"time"

	"latchkey"
	"latchkey/client"
	"latchkey/sqlstore/sqlstoretest"
)

// Online, the server ends sessions at their limit: the site's maximum
// duration, the person's remaining quota, or another person's reservation
// (an immediate session is cut short at its start, and a session already
// running is cut when the reservation is booked). The Time Critical
// Warning comes warning_seconds before (session.warn), then the session
// expires with the limit as its reason. Admins are exempt. Both stores.
func TestSessionLimits(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		maxMin, quota, warn := 60, 90, 120
		w := newWorld(t, b, client.SiteCreate{SiteSettings: latchkey.SiteSettings{MaxSessionMinutes: &maxMin, DailyQuotaMinutes: &quota, WarningSeconds: &warn}}, 2)
		ctx := context.Background()
		sweep := func() {
			t.Helper()
			if _, err := w.store.ApplyTimeouts(ctx); err != nil {
				t.Fatal(err)
			}
		}
		warnings := func(id string) int {
			t.Helper()
			recs, _, err := w.admin.ListAudit(ctx, latchkey.AuditFilter{Action: "session.warn", Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, r := range recs {
				if r.Target == id {
					n++
				}
			}
			return n
		}
		wantLimit := func(s *latchkey.Session, ends time.Time, limit latchkey.LimitReason) {
			t.Helper()
			if s.EndsAt == nil || !s.EndsAt.Equal(ends) || s.Limit != limit || s.WarnAt == nil || !s.WarnAt.Equal(ends.Add(-2*time.Minute)) {
				t.Fatalf("session %s: ends %v warn %v limit %q, want ends %s (%s), warned 2 minutes before", s.ID, s.EndsAt, s.WarnAt, s.Limit, ends, limit)
			}
		}

		// The maximum duration binds first.
		start := w.clock.Now()
		s := w.mustLogin(0, "alice", false).Session
		wantLimit(&s, start.Add(time.Hour), latchkey.LimitMaxSession)
		w.clock.Advance(58*time.Minute - time.Second)
		sweep()
		if n := warnings(s.ID); n != 0 {
			t.Fatalf("warned %d times before warn_at", n)
		}
		w.clock.Advance(time.Second)
		sweep()
		sweep()
		if n := warnings(s.ID); n != 1 {
			t.Fatalf("warned %d times at warn_at, want once", n)
		}
		if got := w.session(s.ID); got.Status != latchkey.SessionActive {
			t.Fatalf("after the warning: %s, want still active", got.Status)
		}
		w.clock.Advance(2 * time.Minute)
		sweep()
		if got := w.session(s.ID); got.Status != latchkey.SessionExpired || got.EndReason != string(latchkey.LimitMaxSession) || !got.EndedAt.Equal(start.Add(time.Hour)) {
			t.Fatalf("at the limit: %s/%s ended %v, want expired/max_session at %s", got.Status, got.EndReason, got.EndedAt, start.Add(time.Hour))
		}

		// Then the quota: 30 of 90 minutes are left.
		start = w.clock.Now()
		s = w.mustLogin(0, "alice", false).Session
		wantLimit(&s, start.Add(30*time.Minute), latchkey.LimitQuota)

		// Bob books the terminal in 10 minutes: alice's session is cut.
		bob := w.userClient("bob")
		if _, err := bob.CreateReservation(ctx, latchkey.Reservation{Terminal: w.terms[0].ID, Start: start.Add(10 * time.Minute), Minutes: 30}); err != nil {
			t.Fatal(err)
		}
		wantLimit(w.session(s.ID), start.Add(10*time.Minute), latchkey.LimitReservation)
		w.clock.Advance(8 * time.Minute)
		sweep()
		w.clock.Advance(2 * time.Minute)
		sweep()
		if got := w.session(s.ID); got.Status != latchkey.SessionExpired || got.EndReason != string(latchkey.LimitReservation) {
			t.Fatalf("at the reservation: %s/%s, want expired/reservation", got.Status, got.EndReason)
		}
		if n := warnings(s.ID); n != 1 {
			t.Fatalf("the cut session was warned %d times, want once", n)
		}
		// Bob's session under his reservation ends with it.
		bs := w.mustLogin(0, "bob", false).Session
		wantLimit(&bs, start.Add(40*time.Minute), latchkey.LimitReservation)

		// An immediate session is cut short at a due reservation's start.
		if _, err := w.admin.CreateReservation(ctx, latchkey.Reservation{Terminal: w.terms[1].ID, Principal: w.bob.ID,
			Start: w.clock.Now().Add(5 * time.Minute), Minutes: 30}); err != nil {
			t.Fatal(err)
		}
		is := w.mustLogin(1, "alice", false).Session
		wantLimit(&is, w.clock.Now().Add(5*time.Minute), latchkey.LimitReservation)
		if _, err := w.tc[1].EndSession(ctx, is.ID); err != nil {
			t.Fatal(err)
		}
		// Admins are exempt from all three.
		adm, err := w.tc[1].StartSession(ctx, w.terms[1].ID, latchkey.LoginRequest{Identity: "admin", Password: adminPassword, TimeSent: w.clock.Now()})
		if err != nil || adm.Session.EndsAt != nil || adm.Session.Limit != "" {
			t.Fatalf("an admin's session: %+v, %v; want no limit", adm, err)
		}
	})
}
