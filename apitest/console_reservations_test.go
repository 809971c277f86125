package apitest_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"latchkey"
	"latchkey/client"
	"latchkey/sqlstore/sqlstoretest"
)

// The reservations screen over HTTP, both stores, at a site in
// Pacific/Auckland (13 hours ahead of UTC in November), so the site's day
// is not the UTC day: the test clock's 09:00 UTC is 22:00 there. A user
// books and sees it as theirs; another user sees "reserved" without the
// name; staff see the name and everyone's minutes; an overlapping booking
// is refused with the API's message, the form kept and nothing created;
// the caps refuse a fourth booking; cancelling asks first and works for
// its person and staff only; the quota line counts a finished session of
// today.
func TestConsoleReservations(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		quota, zone := 120, "Pacific/Auckland"
		w := newWorld(t, b, client.SiteCreate{Name: "Library", SiteSettings: latchkey.SiteSettings{DailyQuotaMinutes: &quota, Timezone: &zone}}, 2)
		ctx := context.Background()
		loc, _ := time.LoadLocation(zone)
		today := w.clock.Now().In(loc).Format("2006-01-02")
		if today != "2026-11-23" || w.clock.Now().In(loc).Hour() != 22 {
			t.Fatalf("the test clock moved: %s in %s", w.clock.Now().In(loc), zone)
		}
		tomorrow := w.clock.Now().In(loc).AddDate(0, 0, 1).Format("2006-01-02")

		// Alice used a terminal for 35 minutes today.
		s := w.mustLogin(0, "alice", false)
		w.clock.Advance(35 * time.Minute)
		if _, err := w.tc[0].EndSession(ctx, s.Session.ID); err != nil {
			t.Fatal(err)
		}

		alice := newBrowser(t, w.url)
		aliceCSRF := alice.logOn("alice", pw("alice"))
		resp, page := alice.do("GET", "/reservations", nil)
		if resp.StatusCode != 200 || !strings.Contains(page, "Library: Monday 23 November 2026 (today)") ||
			!strings.Contains(page, "You have used 35 of 120 minutes today at Library; resets at 00:00 Pacific/Auckland.") ||
			!strings.Contains(page, "local time (Pacific/Auckland)") || strings.Count(page, `class="free"`) != 2 {
			t.Fatalf("alice's day view: %d\n%s", resp.StatusCode, page)
		}
		book := func(br *browser, csrf, terminal, day, start, minutes, who string) (*http.Response, string) {
			t.Helper()
			return br.do("POST", "/reservations", url.Values{"csrf": {csrf}, "idem": {latchkey.NewID("form")}, "site": {w.site.ID},
				"day": {day}, "terminal": {terminal}, "start": {start}, "minutes": {minutes}, "for": {who}})
		}
		// 23:00 at the site is 10:00 UTC.
		resp, _ = book(alice, aliceCSRF, w.terms[1].ID, today, "23:00", "30", "")
		wantRedirect(t, resp, "/reservations?day="+today+"&did=booked&site="+w.site.ID)
		_, page = alice.do("GET", resp.Header.Get("Location"), nil)
		slot := `<time datetime="2026-11-23T10:00:00Z">23:00</time>–<time datetime="2026-11-23T10:30:00Z">23:30</time>`
		if !strings.Contains(page, "Booked.") || !strings.Contains(page, slot+" you") || !strings.Contains(page, "Cancel…") {
			t.Fatalf("alice's booking on the day view:\n%s", page)
		}
		rs, err := w.admin.ListReservations(ctx, w.terms[1].ID)
		if err != nil || len(rs) != 1 || rs[0].Principal != w.alice.ID || !rs[0].Start.Equal(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)) {
			t.Fatalf("the reservation: %+v, %v", rs, err)
		}
		aliceRes := rs[0].ID
		// The same form sent again (a retry, a second press) is applied once.
		again := url.Values{"csrf": {aliceCSRF}, "idem": {latchkey.NewID("form")}, "site": {w.site.ID}, "day": {today},
			"terminal": {w.terms[0].ID}, "start": {"23:40"}, "minutes": {"10"}}
		resp, _ = alice.do("POST", "/reservations", again)
		wantRedirect(t, resp, "/reservations?day="+today+"&did=booked&site="+w.site.ID)
		resp, _ = alice.do("POST", "/reservations", again)
		wantRedirect(t, resp, "/reservations?sent=again")
		if rs := mustReservations(t, w, 0); len(rs) != 1 {
			t.Fatalf("a form sent twice booked %d", len(rs))
		}
		if _, page := alice.do("GET", "/reservations?sent=again", nil); !strings.Contains(page, "That form was sent before and applied once") {
			t.Fatalf("the page after a form sent twice:\n%s", page)
		}
		if err := w.admin.DeleteReservation(ctx, mustReservations(t, w, 0)[0].ID); err != nil {
			t.Fatal(err)
		}

		// Bob sees it as reserved, without alice's name and without Cancel.
		bob := newBrowser(t, w.url)
		bobCSRF := bob.logOn("bob", pw("bob"))
		_, page = bob.do("GET", "/reservations", nil)
		if !strings.Contains(page, slot+" reserved") || strings.Contains(page, "alice") || strings.Contains(page, "Cancel…") ||
			!strings.Contains(page, "You have used 0 of 120 minutes today") || strings.Contains(page, "Minutes used at") {
			t.Fatalf("bob's day view:\n%s", page)
		}
		// An overlapping booking: the API's message, the form kept, nothing made.
		resp, page = book(bob, bobCSRF, w.terms[1].ID, today, "23:15", "30", "")
		if resp.StatusCode != http.StatusConflict || !strings.Contains(page, "The terminal is reserved from 2026-11-23T10:00:00Z to 2026-11-23T10:30:00Z.") ||
			!strings.Contains(page, `value="23:15"`) || !strings.Contains(page, `value="30"`) {
			t.Fatalf("bob's overlapping booking: %d\n%s", resp.StatusCode, page)
		}
		if rs, _ := w.admin.ListReservations(ctx, w.terms[1].ID); len(rs) != 1 {
			t.Fatalf("the refused booking made something: %+v", rs)
		}
		// Bob may not cancel alice's, whatever he sends.
		resp, page = bob.do("POST", "/reservations/"+aliceRes+"/cancel", url.Values{"csrf": {bobCSRF}, "idem": {latchkey.NewID("form")}, "site": {w.site.ID}, "day": {today}})
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(page, "Reservation "+aliceRes+" not found.") {
			t.Fatalf("bob cancels alice's: %d\n%s", resp.StatusCode, page)
		}
		if _, page = bob.do("GET", "/reservations?cancel="+aliceRes, nil); strings.Contains(page, "Yes, cancel it") {
			t.Fatalf("bob is asked to confirm cancelling alice's:\n%s", page)
		}
		// The caps: three bookings that have not ended, then a refusal.
		for i, start := range []string{"09:00", "11:00", "13:00"} {
			if resp, page := book(bob, bobCSRF, w.terms[i%2].ID, tomorrow, start, "60", ""); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("bob's booking %d: %d\n%s", i+1, resp.StatusCode, page)
			}
		}
		resp, page = book(bob, bobCSRF, w.terms[0].ID, tomorrow, "15:00", "60", "")
		if resp.StatusCode != http.StatusConflict || !strings.Contains(page, "You already hold 3 reservations at this site that have not ended; the site allows 3.") {
			t.Fatalf("bob's fourth booking: %d\n%s", resp.StatusCode, page)
		}
		// A user may not book for someone else (no field for it, and the
		// store refuses it when sent anyway).
		if resp, page := book(bob, bobCSRF, w.terms[0].ID, tomorrow, "20:00", "30", "alice"); resp.StatusCode != http.StatusForbidden || !strings.Contains(page, "Only admins and delegates book for someone else.") {
			t.Fatalf("bob books for alice: %d\n%s", resp.StatusCode, page)
		}

		// Staff see names and everyone's minutes of the day, and book for
		// someone by login ID.
		admin := newBrowser(t, w.url)
		adminCSRF := admin.logOn("admin", adminPassword)
		_, page = admin.do("GET", "/reservations", nil)
		if !strings.Contains(page, slot+" alice") || !strings.Contains(page, `<th scope="row">alice</th><td>User</td><td>35</td><td>120</td><td>1</td>`) ||
			!strings.Contains(page, "daily quotas do not apply to admins and delegates") {
			t.Fatalf("the admin's day view:\n%s", page)
		}
		resp, page = book(admin, adminCSRF, w.terms[0].ID, today, "23:30", "20", "alice2")
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("the admin books for alice: %d\n%s", resp.StatusCode, page)
		}
		resp, page = book(admin, adminCSRF, w.terms[0].ID, today, "23:55", "20", "nobody-here")
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(page, "Nobody has the login ID or principal ID nobody-here.") || !strings.Contains(page, `value="nobody-here"`) {
			t.Fatalf("the admin books for nobody: %d\n%s", resp.StatusCode, page)
		}
		_, page = admin.do("GET", "/reservations?site="+w.site.ID+"&day="+tomorrow, nil)
		if strings.Count(page, " bob <a") != 3 || !strings.Contains(page, "Tuesday 24 November 2026") || strings.Contains(page, "(today)") {
			t.Fatalf("the admin's view of tomorrow:\n%s", page)
		}

		// Alice cancels hers: asked first, then done.
		_, page = alice.do("GET", "/reservations?site="+w.site.ID+"&day="+today+"&cancel="+aliceRes, nil)
		if !strings.Contains(page, "Cancel this reservation?") || !strings.Contains(page, "cannot be undone") {
			t.Fatalf("alice's confirmation:\n%s", page)
		}
		resp, _ = alice.do("POST", "/reservations/"+aliceRes+"/cancel", url.Values{"csrf": {csrf(t, page)}, "idem": {idemOf(t, page, "/reservations/"+aliceRes+"/cancel")}, "site": {w.site.ID}, "day": {today}})
		wantRedirect(t, resp, "/reservations?day="+today+"&did=cancelled&site="+w.site.ID)
		for _, r := range mustReservations(t, w, 1) {
			if r.ID == aliceRes {
				t.Fatalf("alice's reservation after cancelling: %+v", r)
			}
		}
		// Staff cancel anyone's.
		var bobs string
		for _, r := range append(mustReservations(t, w, 0), mustReservations(t, w, 1)...) {
			if r.Principal == w.bob.ID {
				bobs = r.ID
			}
		}
		resp, page = admin.do("POST", "/reservations/"+bobs+"/cancel", url.Values{"csrf": {adminCSRF}, "idem": {latchkey.NewID("form")}, "site": {w.site.ID}, "day": {tomorrow}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("the admin cancels bob's: %d\n%s", resp.StatusCode, page)
		}
		for _, r := range append(mustReservations(t, w, 0), mustReservations(t, w, 1)...) {
			if r.ID == bobs {
				t.Fatalf("bob's reservation after the admin cancelled it: %+v", r)
			}
		}
		// A bad day is said in words.
		if resp, page := alice.do("GET", "/reservations?day=23-11-2026", nil); resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "Day must be a date like") {
			t.Fatalf("a bad day: %d\n%s", resp.StatusCode, page)
		}
	})
}

// idemOf is the idem key of the page's form that posts to action.
func idemOf(t *testing.T, page, action string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)action="` + regexp.QuoteMeta(action) + `".*?name="idem" value="([^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no keyed form to %s:\n%s", action, page)
	}
	return m[1]
}

// mustReservations lists terminal term's reservations that have not ended.
func mustReservations(t *testing.T, w *world, term int) []latchkey.Reservation {
	t.Helper()
	rs, err := w.admin.ListReservations(context.Background(), w.terms[term].ID)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}
