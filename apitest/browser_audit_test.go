package apitest_test

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"latchkey"
	"latchkey/client"
	"latchkey/sqlstore/sqlstoretest"
)

// The Audit screen in a real browser against a real serve, both stores:
// an admin picks an action from the list and filters, and every row
// shown is of that action; Verify says in words that the chain is whole;
// a delegate sees Verify, the seal and the export disabled with the
// reason; axe-core finds nothing serious on either page.
func TestConsoleAuditInABrowser(t *testing.T) {
	forEachProcessBackend(t, func(t *testing.T, _ sqlstoretest.Backend, storeURL, dataDir string) {
		srv := startServer(t, storeURL, dataDir)
		admin := adminOf(t, srv)
		term := admin.terminal(admin.site(client.SiteCreate{Name: "branch"}).ID, "counter 1")
		admin.user("ann")
		admin.person(latchkey.Principal{Name: "dana", Role: latchkey.RoleDelegate, Global: true})
		r := admin.logOnAt(term, "ann")
		if _, err := client.New(srv.URL, client.WithToken(term.Token)).LockSession(context.Background(), r.Session.ID,
			latchkey.LockRequest{TimeSent: time.Now(), Reason: "manual"}); err != nil {
			t.Fatal(err)
		}

		p := page{t: t, ctx: newBrowserTab(t), base: srv.URL}
		p.logOn("admin", procAdminPassword)
		p.do("open Audit from the start page", chromedp.Click(chromedp.CSS(`a[href="/audit"]`)), chromedp.WaitVisible(chromedp.CSS("#f-action")))
		all := p.eval(`String(document.querySelectorAll('table.audit tbody tr').length)`)
		p.do("choose session.lock and filter",
			chromedp.SetValue(chromedp.CSS("#f-action"), "session.lock"),
			chromedp.Click(chromedp.CSS("#filter")),
			chromedp.WaitVisible(chromedp.CSS("#clear")))
		if got := p.eval(`location.search`); got != "?action=session.lock&actor=&terminal=&from=&to=" {
			t.Fatalf("the filter's address: %q", got)
		}
		rows := p.eval(`Array.from(document.querySelectorAll('table.audit tbody tr')).map(r => r.cells[4].textContent + '@' + r.cells[3].textContent + '@' + r.cells[2].textContent).join('|')`)
		if rows != "session.lock@counter 1@ann" {
			t.Fatalf("rows after filtering by session.lock: %q (of %s)", rows, all)
		}
		p.do("verify", chromedp.Click(chromedp.CSS("#verify")), chromedp.WaitVisible(chromedp.CSS("#verdict")))
		verdict := p.text("#verdict")
		if !regexp.MustCompile(`^The chain is whole: (\d+) records, from 1 to (\d+)\.$`).MatchString(verdict) || p.eval(`document.getElementById('verdict').getAttribute('role')`) != "status" {
			t.Fatalf("the verdict: %q", verdict)
		}
		if got := p.eval(`document.getElementById('f-action').value`); got != "session.lock" {
			t.Fatalf("after verify the filter is %q", got)
		}
		p.checkAccessibility("Audit, filtered, verified")
		screenshot(t, p.ctx, "console-audit")

		d := page{t: t, ctx: browserContext(t, p.ctx), base: srv.URL}
		d.logOn("dana", pw("dana"))
		d.do("the delegate opens Audit", chromedp.Navigate(srv.URL+"/audit"), chromedp.WaitVisible(chromedp.CSS("#not-admin")))
		if got := d.eval(`['verify', 'seal', 'export'].map(id => document.getElementById(id).disabled).join(' ')`); got != "true true true" {
			t.Fatalf("the delegate's buttons disabled: %s", got)
		}
		d.checkAccessibility("Audit, as a delegate")
	})
}
