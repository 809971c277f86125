package apitest_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
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
		w := newWorld(t, b, client.SiteCreate{SiteSettings: latchkey.SiteSettings{DailyQuotaMinutes: &quota}}, 2)
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

// Issue 10, hole 5: booking a terminal that someone is using cuts their
// session short (the reservation stands), but cancelling the booking
// gives the time back: the session's end and warning are recomputed from
// its remaining limits, so nobody can end another person's session by
// reserving and cancelling. Before the fix the session kept the cut end
// and was logged off at it. Both stores.
func TestReservationCancelGivesTimeBack(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		maxMin, warn := 120, 60
		w := newWorld(t, b, client.SiteCreate{SiteSettings: latchkey.SiteSettings{MaxSessionMinutes: &maxMin, WarningSeconds: &warn}}, 2)
		ctx := context.Background()
		bob := w.userClient("bob")
		s := w.mustLogin(0, "alice", false).Session
		full := s.StartedAt.Add(2 * time.Hour)
		if got := w.session(s.ID); got.EndsAt == nil || !got.EndsAt.Equal(full) || got.Limit != latchkey.LimitMaxSession {
			t.Fatalf("alice's session at logon: %+v", got)
		}
		// Bob books the terminal two minutes from now: alice is cut short
		// and, a minute and a half on, warned.
		r, err := bob.CreateReservation(ctx, latchkey.Reservation{Terminal: w.terms[0].ID, Start: w.clock.Now().Add(2 * time.Minute), Minutes: 30})
		if err != nil {
			t.Fatal(err)
		}
		if got := w.session(s.ID); got.EndsAt == nil || !got.EndsAt.Equal(r.Start) || got.Limit != latchkey.LimitReservation {
			t.Fatalf("alice's session after bob's booking: %+v, want cut at %s", got, r.Start)
		}
		w.clock.Advance(90 * time.Second)
		if _, err := w.store.ApplyTimeouts(ctx); err != nil {
			t.Fatal(err)
		}
		// Bob cancels: alice's session ends when it would have.
		if err := bob.DeleteReservation(ctx, r.ID); err != nil {
			t.Fatal(err)
		}
		got := w.session(s.ID)
		if got.EndsAt == nil || !got.EndsAt.Equal(full) || got.Limit != latchkey.LimitMaxSession ||
			got.WarnAt == nil || !got.WarnAt.Equal(full.Add(-time.Minute)) {
			t.Fatalf("alice's session after the cancel: ends %v (%s), warn %v; want %s (max_session)", got.EndsAt, got.Limit, got.WarnAt, full)
		}
		w.clock.Advance(5 * time.Minute)
		if _, err := w.store.ApplyTimeouts(ctx); err != nil {
			t.Fatal(err)
		}
		if got := w.session(s.ID); got.Status != latchkey.SessionActive {
			t.Fatalf("alice's session after the cancelled reservation's start: %s, want active", got.Status)
		}
		recs, _, err := w.admin.ListAudit(ctx, latchkey.AuditFilter{Action: "session.limit", Limit: 100})
		if err != nil || len(recs) != 2 || !strings.Contains(string(recs[1].Details), `"reservation_deleted":"`+r.ID+`"`) {
			t.Fatalf("session.limit records: %+v, %v; want the cut and the time given back", recs, err)
		}

		// Without other limits, the session has none again. A reservation
		// of someone else that remains still binds.
		s2 := w.mustLogin(1, "bob", false).Session
		if _, err := w.admin.UpdateSite(ctx, w.site.ID, latchkey.SiteUpdate{SiteSettings: latchkey.SiteSettings{MaxSessionMinutes: client.Ptr(0)}}); err != nil {
			t.Fatal(err)
		}
		later, err := w.admin.CreateReservation(ctx, latchkey.Reservation{Terminal: w.terms[1].ID, Principal: w.alice.ID,
			Start: w.clock.Now().Add(3 * time.Hour), Minutes: 30})
		if err != nil {
			t.Fatal(err)
		}
		sooner, err := w.admin.CreateReservation(ctx, latchkey.Reservation{Terminal: w.terms[1].ID, Principal: w.alice.ID,
			Start: w.clock.Now().Add(time.Hour), Minutes: 30})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.admin.DeleteReservation(ctx, sooner.ID); err != nil {
			t.Fatal(err)
		}
		if got := w.session(s2.ID); got.EndsAt == nil || !got.EndsAt.Equal(later.Start) {
			t.Fatalf("bob's session after the sooner booking went: ends %v, want at the later one %s", got.EndsAt, later.Start)
		}
		if err := w.admin.DeleteReservation(ctx, later.ID); err != nil {
			t.Fatal(err)
		}
		if got := w.session(s2.ID); got.EndsAt != nil || got.Limit != "" {
			t.Fatalf("bob's session with no limit left: ends %v (%s), want none", got.EndsAt, got.Limit)
		}
	})
}

// Issue 10, hole 5: a user holds at most max_reservations_per_user [3]
// reservations at a site that have not ended (conflict, details.reason
// too_many_reservations) and books at most max_booking_days_ahead [14]
// days ahead (bad_request on start); staff are exempt; 0 lifts a cap.
// Before the fix a user could book without limit. Both stores.
func TestReservationCaps(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 2)
		ctx := context.Background()
		if w.site.MaxReservationsPerUser != 3 || w.site.MaxBookingDaysAhead != 14 {
			t.Fatalf("site defaults: %+v", w.site)
		}
		bob := w.userClient("bob")
		now := w.clock.Now()
		book := func(c *client.Client, term int, who string, start time.Time) (*latchkey.Reservation, error) {
			return c.CreateReservation(ctx, latchkey.Reservation{Terminal: w.terms[term].ID, Principal: who, Start: start, Minutes: 30})
		}
		var held []*latchkey.Reservation
		for i := range 3 {
			r, err := book(bob, i%2, "", now.Add(time.Duration(i+1)*time.Hour))
			if err != nil {
				t.Fatalf("booking %d: %v", i+1, err)
			}
			held = append(held, r)
		}
		_, err := book(bob, 0, "", now.Add(10*time.Hour))
		wantCode(t, err, latchkey.ECONFLICT)
		var e *latchkey.Error
		if !errors.As(err, &e) || e.Details["reason"] != "too_many_reservations" || e.Details["limit"] != float64(3) {
			t.Fatalf("a fourth booking: %v (details %v), want too_many_reservations with limit 3", err, e)
		}
		_, err = bob.CreateReservation(ctx, latchkey.Reservation{Terminal: w.terms[1].ID, Start: now.AddDate(0, 0, 14).Add(time.Minute), Minutes: 30})
		wantCode(t, err, latchkey.EBADREQUEST)
		if !errors.As(err, &e) || e.Details["field"] != "start" {
			t.Fatalf("booking 14 days and a minute ahead: %v, want bad_request on start", err)
		}
		// Staff are exempt, for themselves and when booking for a user.
		if _, err := book(w.admin, 0, w.bob.ID, now.Add(20*time.Hour)); err != nil {
			t.Fatalf("an admin books bob a fourth: %v", err)
		}
		if _, err := book(w.admin, 1, "", now.AddDate(0, 0, 60)); err != nil {
			t.Fatalf("an admin books 60 days ahead: %v", err)
		}
		// A cancelled or ended reservation frees a place.
		if err := bob.DeleteReservation(ctx, held[0].ID); err != nil {
			t.Fatal(err)
		}
		if _, err := book(w.admin, 0, w.bob.ID, now.Add(30*time.Hour)); err != nil {
			t.Fatal(err)
		}
		w.clock.Advance(3 * time.Hour) // held[1] (2 h, 30 min) has ended
		if _, err := book(bob, 1, "", w.clock.Now().Add(40*time.Hour)); err == nil {
			t.Fatal("bob holds 4 (two booked by the admin), yet books another")
		}
		// Caps are site settings: 0 lifts them; bad values are refused.
		st, body := w.adminRaw(http.MethodPatch, "/v1/sites/"+w.site.ID, `{"max_reservations_per_user":-1}`)
		if st != http.StatusBadRequest || !strings.Contains(body, "max_reservations_per_user") {
			t.Fatalf("a negative cap: %d %s", st, body)
		}
		site, err := w.admin.UpdateSite(ctx, w.site.ID, latchkey.SiteUpdate{SiteSettings: latchkey.SiteSettings{MaxReservationsPerUser: client.Ptr(0), MaxBookingDaysAhead: client.Ptr(0)}})
		if err != nil || site.MaxReservationsPerUser != 0 || site.MaxBookingDaysAhead != 0 {
			t.Fatalf("lifting the caps: %+v, %v", site, err)
		}
		if _, err := book(bob, 1, "", w.clock.Now().AddDate(0, 0, 100)); err != nil {
			t.Fatalf("without caps: %v", err)
		}
	})
}

// The booking cap holds under concurrency: a user firing many bookings at
// once (on different terminals and times) gets exactly the cap. Both
// stores.
func TestReservationCapsConcurrent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 3)
		ctx := context.Background()
		bob := w.userClient("bob")
		now := w.clock.Now()
		const n = 9
		errs := make(chan error, n)
		for i := range n {
			go func() {
				_, err := bob.CreateReservation(ctx, latchkey.Reservation{Terminal: w.terms[i%3].ID,
					Start: now.Add(time.Duration(i+1) * time.Hour), Minutes: 30})
				errs <- err
			}()
		}
		ok := 0
		for range n {
			switch err := <-errs; latchkey.ErrorCode(err) {
			case "":
				ok++
			case latchkey.ECONFLICT:
			default:
				t.Fatalf("a concurrent booking: %v", err)
			}
		}
		if ok != 3 {
			t.Fatalf("%d concurrent bookings succeeded, want the cap of 3", ok)
		}
	})
}
