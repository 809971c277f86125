package apitest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"latchkey"
	"latchkey/client"
	"latchkey/sqlstore/sqlstoretest"
)

// Reservations in a real browser against a real serve, both stores: a
// person opens the screen, goes to the next day, books a terminal with
// the form (the site's local time, Europe/Paris), sees it in the day view
// as theirs beside someone else's shown as "reserved", cancels it after
// the confirmation, and the day view shows the terminal free again; an
// admin sees the name. axe-core checks the day view (a user's and
// staff's) and the confirmation.
func TestConsoleReservationsInABrowser(t *testing.T) {
	forEachProcessBackend(t, func(t *testing.T, _ sqlstoretest.Backend, storeURL, dataDir string) {
		srv := startServer(t, storeURL, dataDir)
		admin := adminOf(t, srv)
		bg := context.Background()
		quota, zone := 120, "Europe/Paris"
		site := admin.site(client.SiteCreate{Name: "Library", SiteSettings: latchkey.SiteSettings{DailyQuotaMinutes: &quota, Timezone: &zone}})
		terms := []*latchkey.Terminal{admin.terminal(site.ID, "Reading room 1"), admin.terminal(site.ID, "Reading room 2")}
		people := map[string]*latchkey.Principal{"ann": admin.user("ann"), "ben": admin.user("ben")}
		// Ben booked the second room tomorrow at 14:00 Paris time.
		paris, _ := time.LoadLocation(zone)
		tomorrow := time.Now().In(paris).AddDate(0, 0, 1)
		at := time.Date(tomorrow.Year(), tomorrow.Month(), tomorrow.Day(), 14, 0, 0, 0, paris)
		if _, err := admin.CreateReservation(bg, latchkey.Reservation{Terminal: terms[1].ID, Principal: people["ben"].ID, Start: at, Minutes: 90}); err != nil {
			t.Fatal(err)
		}

		p := page{t: t, ctx: newBrowserTab(t), base: srv.URL}
		p.logOn("ann", pw("ann"))
		p.do("open Reservations", chromedp.Navigate(srv.URL+"/reservations"), chromedp.WaitVisible(chromedp.CSS("#rv-quota")))
		if got := p.text("#rv-quota"); got != "You have used 0 of 120 minutes today at Library; resets at 00:00 Europe/Paris." {
			t.Fatalf("the quota line: %q", got)
		}
		p.do("go to the next day", chromedp.Click(chromedp.CSS(`a[rel=next]`)), chromedp.WaitVisible(chromedp.CSS("#bookform")))
		if got := p.text("#day-h"); got != "Library: "+tomorrow.Format("Monday 2 January 2006") {
			t.Fatalf("the next day's heading: %q", got)
		}
		row2 := `document.getElementById('t-` + terms[1].ID + `').textContent.replace(/\s+/g, ' ').trim()`
		if got := p.eval(row2); got != "Reading room 2 14:00–15:30 reserved" {
			t.Fatalf("ben's booking as ann sees it: %q", got)
		}
		p.do("book room 1 at 10:00 for 45 minutes", chromedp.SendKeys(chromedp.CSS("#bk-start"), "10:00"),
			chromedp.SendKeys(chromedp.CSS("#bk-minutes"), "45"), chromedp.Click(chromedp.CSS("#book")))
		p.within(5*time.Second, "the booking", `document.querySelector('.notice') ? document.querySelector('.notice').textContent : ''`, "Booked.")
		row1 := `document.getElementById('t-` + terms[0].ID + `').textContent.replace(/\s+/g, ' ').trim()`
		if got := p.eval(row1); got != "Reading room 1 10:00–10:45 you Cancel…" {
			t.Fatalf("ann's booking in the day view: %q", got)
		}
		// The booking is 10:00 in Paris, whatever the browser's zone.
		want := time.Date(tomorrow.Year(), tomorrow.Month(), tomorrow.Day(), 10, 0, 0, 0, paris).UTC().Format(time.RFC3339)
		if got := p.eval(`document.querySelector('.booking.own time').getAttribute('datetime')`); got != want {
			t.Fatalf("the booking's start: %s, want %s", got, want)
		}
		p.checkAccessibility("Reservations day view")
		screenshot(t, p.ctx, "console-reservations")

		p.do("ask to cancel", chromedp.Click(chromedp.CSS(`.booking.own a`)), chromedp.WaitVisible(chromedp.CSS("#confirm-cancel")))
		if got := p.text("#confirm-h"); got != "Cancel this reservation?" {
			t.Fatalf("the confirmation: %q", got)
		}
		p.checkAccessibility("Reservations cancel confirmation")
		p.do("confirm", chromedp.Click(chromedp.CSS("#confirm-cancel")))
		p.within(5*time.Second, "the cancelling", `document.querySelector('.notice') ? document.querySelector('.notice').textContent : ''`, "The reservation is cancelled.")
		if got := p.eval(row1); got != "Reading room 1 free all day" {
			t.Fatalf("room 1 after cancelling: %q", got)
		}
		rs, err := admin.ListReservations(bg, terms[0].ID)
		if err != nil || len(rs) != 0 {
			t.Fatalf("room 1's reservations: %+v, %v", rs, err)
		}
		if got := p.eval(row2); !strings.HasSuffix(got, "14:00–15:30 reserved") {
			t.Fatalf("ben's booking after ann cancelled hers: %q", got)
		}

		// An admin at another desk sees names, and everyone's minutes.
		a := page{t: t, ctx: browserContext(t, p.ctx), base: srv.URL}
		a.logOn("admin", procAdminPassword)
		a.do("the admin opens tomorrow", chromedp.Navigate(srv.URL+"/reservations?site="+site.ID+"&day="+tomorrow.Format("2006-01-02")),
			chromedp.WaitVisible(chromedp.CSS("#usage-h")))
		if got := a.eval(row2); got != "Reading room 2 14:00–15:30 ben Cancel…" {
			t.Fatalf("ben's booking as the admin sees it: %q", got)
		}
		a.checkAccessibility("Reservations for staff")
	})
}
