package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"latchkey"
	"latchkey/sqlstore/sqlstoretest"
)

// The day view's store methods on both stores, at a site in
// America/New_York: SiteReservations returns the reservations that
// overlap the site's day (one crossing midnight on both days, one ending
// at midnight on the first only) a page of terminals at a time; QuotaUsage
// counts a session crossing the site's midnight on each day for its part,
// for the person (today) and for staff (any day, with the day's bookings).
func TestReservationDay(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		ctx := context.Background()
		site := latchkey.DefaultSite("branch")
		site.Timezone, site.DailyQuotaMinutes = "America/New_York", 24*60 // the session below is not cut short
		e := mustEnv(t, b, site, 2)
		ny, _ := time.LoadLocation(site.Timezone)
		local := func(day, hm string) time.Time {
			x, err := time.ParseInLocation("2006-01-02 15:04", day+" "+hm, ny)
			if err != nil {
				t.Fatal(err)
			}
			return x
		}
		// 04:00 on the 23rd in New York to 00:30 on the 24th.
		s, err := e.login(0, "alice", pw("alice"), false)
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(20*time.Hour + 30*time.Minute)
		if _, err := e.s.EndSession(ctx, e.term(0), s.Session.ID); err != nil {
			t.Fatal(err)
		}
		alice := latchkey.Caller{Role: latchkey.RoleUser, PrincipalID: e.alice.ID}
		mine, err := e.s.QuotaUsage(ctx, alice, latchkey.QuotaUsageQuery{Site: e.site.ID, Principal: e.alice.ID})
		if err != nil || mine.Today != "2026-11-24" || mine.Day != "2026-11-24" || len(mine.Entries) != 1 || mine.Entries[0].Used != 30*time.Minute {
			t.Fatalf("alice's use today: %+v, %v", mine, err)
		}
		day23, err := e.s.QuotaUsage(ctx, admin, latchkey.QuotaUsageQuery{Site: e.site.ID, Day: "2026-11-23"})
		if err != nil || len(day23.Entries) != 1 || day23.Entries[0].Name != "alice" || day23.Entries[0].Used != 20*time.Hour || !day23.DayStart.Equal(local("2026-11-23", "00:00")) {
			t.Fatalf("the 23rd for staff: %+v, %v", day23, err)
		}
		if _, err := e.s.QuotaUsage(ctx, alice, latchkey.QuotaUsageQuery{Site: e.site.ID}); latchkey.ErrorCode(err) != latchkey.EFORBIDDEN {
			t.Fatalf("a user reads everyone's use: %v", err)
		}
		if _, err := e.s.QuotaUsage(ctx, admin, latchkey.QuotaUsageQuery{Site: e.site.ID, Day: "24/11/2026"}); latchkey.ErrorCode(err) != latchkey.EBADREQUEST {
			t.Fatalf("a bad day: %v", err)
		}

		// The bookings are listed a terminal at a time in the order of
		// their IDs, which two terminals made at the same instant of the
		// test's clock may have either way round: first is the lower.
		first, second := e.terms[0], e.terms[1]
		if second.ID < first.ID {
			first, second = second, first
		}
		book := func(term int, day, hm string, minutes int) string {
			t.Helper()
			r, err := e.s.CreateReservation(ctx, admin, latchkey.Reservation{Terminal: []*latchkey.Terminal{first, second}[term].ID, Principal: e.alice.ID, Start: local(day, hm), Minutes: minutes})
			if err != nil {
				t.Fatal(err)
			}
			return r.ID
		}
		r1 := book(0, "2026-11-24", "22:00", 60)
		r2 := book(0, "2026-11-24", "23:30", 60) // to 00:30 on the 25th
		r3 := book(1, "2026-11-25", "00:30", 30)
		r4 := book(1, "2026-11-25", "23:00", 60) // ends at midnight
		ids := func(day string, page latchkey.Page) ([]string, *latchkey.SiteBookings) {
			t.Helper()
			from, to, err := latchkey.LocalDay(day, ny)
			if err != nil {
				t.Fatal(err)
			}
			bk, err := e.s.SiteReservations(ctx, alice, e.site.ID, from, to, page)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, r := range bk.Reservations {
				out = append(out, r.ID)
			}
			return out, bk
		}
		if got, bk := ids("2026-11-24", latchkey.Page{}); len(got) != 2 || got[0] != r1 || got[1] != r2 || len(bk.Terminals) != 2 || bk.Next != "" {
			t.Fatalf("the 24th: %v, %+v", got, bk)
		}
		if got, _ := ids("2026-11-25", latchkey.Page{}); len(got) != 3 || got[0] != r2 || got[1] != r3 || got[2] != r4 {
			t.Fatalf("the 25th: %v", got)
		}
		if got, _ := ids("2026-11-26", latchkey.Page{}); len(got) != 0 {
			t.Fatalf("the 26th: %v (a reservation ending at midnight is not on it)", got)
		}
		got, bk := ids("2026-11-25", latchkey.Page{Limit: 1})
		if len(got) != 1 || got[0] != r2 || len(bk.Terminals) != 1 || bk.Next != first.ID {
			t.Fatalf("the first page of terminals: %v, %+v", got, bk)
		}
		if got, bk := ids("2026-11-25", latchkey.Page{Limit: 1, After: bk.Next}); len(got) != 2 || got[0] != r3 || bk.Terminals[0].ID != second.ID || bk.Next != "" {
			t.Fatalf("the second page of terminals: %v, %+v", got, bk)
		}
		if _, err := e.s.SiteReservations(ctx, e.term(0), e.site.ID, time.Time{}, time.Now(), latchkey.Page{}); latchkey.ErrorCode(err) != latchkey.EFORBIDDEN {
			t.Fatalf("a terminal reads its site's reservations: %v", err)
		}
		day25, err := e.s.QuotaUsage(ctx, admin, latchkey.QuotaUsageQuery{Site: e.site.ID, Day: "2026-11-25"})
		if err != nil || len(day25.Entries) != 1 || day25.Entries[0].Reservations != 3 || day25.Entries[0].Used != 0 {
			t.Fatalf("the 25th for staff: %+v, %v", day25, err)
		}
		if p, err := e.s.PrincipalByLogin(ctx, admin, "alice2"); err != nil || p.ID != e.alice.ID {
			t.Fatalf("alice2's person: %+v, %v", p, err)
		}
		other := latchkey.Caller{Role: latchkey.RoleUser, PrincipalID: "prn_other"}
		if _, err := e.s.PrincipalByLogin(ctx, other, "alice"); latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
			t.Fatalf("another user looks alice up: %v", err)
		}
	})
}
