package apitest_test

import (
	"context"
	"testing"
	"time"

	"latchkey"
	"latchkey/client"
	"latchkey/sqlstore/sqlstoretest"
)

// A reservation holds its terminal for its person from its start: others
// are refused (conflict) until it ends or, if its person does not show up
// within the grace, until it is released; admins may always log on.
// Overlapping bookings conflict. Both store backends.
func TestReservations(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 2)
		ctx := context.Background()
		bob := w.userClient("bob")
		now := w.clock.Now()
		r, err := bob.CreateReservation(ctx, latchkey.Reservation{Terminal: w.terms[0].ID, Start: now.Add(time.Hour), Minutes: 60})
		if err != nil || r.Principal != w.bob.ID {
			t.Fatalf("bob books: %+v, %v", r, err)
		}
		if _, err := w.admin.CreateReservation(ctx, latchkey.Reservation{Terminal: w.terms[0].ID, Principal: w.alice.ID,
			Start: now.Add(90 * time.Minute), Minutes: 60}); latchkey.ErrorCode(err) != latchkey.ECONFLICT {
			t.Fatalf("an overlapping booking: %v, want conflict", err)
		}
		if _, err := bob.CreateReservation(ctx, latchkey.Reservation{Terminal: w.terms[0].ID, Principal: w.alice.ID, Start: now, Minutes: 5}); latchkey.ErrorCode(err) != latchkey.EFORBIDDEN {
			t.Fatalf("bob books for alice: %v, want forbidden", err)
		}
		if _, err := bob.CreateReservation(ctx, latchkey.Reservation{Terminal: w.terms[0].ID, Start: now.Add(-2 * time.Hour), Minutes: 60}); latchkey.ErrorCode(err) != latchkey.EBADREQUEST {
			t.Fatalf("a booking in the past: %v, want bad_request", err)
		}
		if items, err := w.tc[0].ListReservations(ctx, w.terms[0].ID); err != nil || len(items) != 1 || items[0].ID != r.ID {
			t.Fatalf("the terminal lists its reservations: %+v, %v", items, err)
		}

		// Before the start anyone may log on.
		s := w.mustLogin(0, "alice", false)
		if _, err := w.tc[0].EndSession(ctx, s.Session.ID); err != nil {
			t.Fatal(err)
		}
		w.clock.Advance(time.Hour)
		if _, err := w.login(0, "alice", false); latchkey.ErrorCode(err) != latchkey.ECONFLICT {
			t.Fatalf("alice during bob's reservation: %v, want conflict", err)
		}
		if _, err := w.login(1, "alice", false); err != nil {
			t.Fatalf("alice at another terminal: %v", err)
		}
		bs := w.mustLogin(0, "bob", false)
		if _, err := w.tc[0].EndSession(ctx, bs.Session.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := w.login(0, "alice", true); latchkey.ErrorCode(err) != latchkey.ECONFLICT {
			t.Fatalf("alice after bob showed up, with force: %v, want conflict until the end", err)
		}

		// A no-show's reservation is released after the grace.
		r2, err := bob.CreateReservation(ctx, latchkey.Reservation{Terminal: w.terms[1].ID, Start: w.clock.Now().Add(time.Minute), Minutes: 60})
		if err != nil {
			t.Fatal(err)
		}
		w.clock.Advance(5 * time.Minute)
		if _, err := w.login(1, "alice", true); latchkey.ErrorCode(err) != latchkey.ECONFLICT {
			t.Fatalf("alice within the grace: %v, want conflict", err)
		}
		w.clock.Advance(latchkey.DefaultReservationGrace)
		if _, err := w.login(1, "alice", true); err != nil {
			t.Fatalf("alice after bob's no-show: %v", err)
		}
		if err := bob.DeleteReservation(ctx, r2.ID); err != nil {
			t.Fatal(err)
		}
		if err := w.userClient("alice").DeleteReservation(ctx, r.ID); latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
			t.Fatalf("alice deletes bob's reservation: %v, want not_found", err)
		}
	})
}

// A site's daily quota is enforced at login: once a person's sessions at
// the site used it up today, the login is refused with quota_exceeded and
// the time it resets; the next day they may log on again. Both stores.
func TestDailyQuotaAtLogin(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		quota := 30
		w := newWorld(t, b, client.SiteCreate{DailyQuotaMinutes: &quota}, 2)
		ctx := context.Background()
		use := func(term int, d time.Duration) {
			t.Helper()
			s := w.mustLogin(term, "alice", false)
			w.clock.Advance(d)
			if _, err := w.tc[term].EndSession(ctx, s.Session.ID); err != nil {
				t.Fatal(err)
			}
		}
		use(0, 20*time.Minute)
		use(1, 9*time.Minute) // 29 of 30: one minute left
		s := w.mustLogin(0, "alice", false)
		w.clock.Advance(time.Minute)
		if _, err := w.tc[0].EndSession(ctx, s.Session.ID); err != nil {
			t.Fatal(err)
		}
		_, err := w.login(1, "alice", false)
		if latchkey.ErrorCode(err) != latchkey.EQUOTAEXCEEDED {
			t.Fatalf("a login with the quota used up: %v, want quota_exceeded", err)
		}
		reset, _ := latchkey.ErrorDetails(err)["reset_at"].(string)
		_, dayEnd := latchkey.QuotaDay(w.clock.Now(), time.UTC)
		if at, perr := time.Parse(time.RFC3339, reset); perr != nil || !at.Equal(dayEnd) {
			t.Fatalf("reset_at %q, want %s", reset, dayEnd)
		}
		// Staff are not subject to quotas: the admin logs on again after
		// more than the quota's minutes.
		for range 2 {
			adm, err := w.tc[1].StartSession(ctx, w.terms[1].ID, latchkey.LoginRequest{Identity: "admin", Password: adminPassword, TimeSent: w.clock.Now()})
			if err != nil {
				t.Fatalf("the admin logs on: %v", err)
			}
			w.clock.Advance(40 * time.Minute)
			if _, err := w.tc[1].EndSession(ctx, adm.Session.ID); err != nil {
				t.Fatal(err)
			}
		}
		w.clock.Advance(24 * time.Hour)
		if _, err := w.login(1, "alice", false); err != nil {
			t.Fatalf("the next day: %v", err)
		}
	})
}
