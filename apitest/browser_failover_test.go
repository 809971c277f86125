package apitest_test

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Failover scenarios 1 and 4 in a real browser (issue 13's proof): three
// nodes on PostgreSQL behind HAProxy; an admin in Chromium loads
// Administer Users through the balancer and fills in New person; a node
// is SIGKILLed; Create succeeds without logging on again (the session is
// in the store) and the page says so; the same form sent twice more by
// the browser, key and all (a retry, a second press), is applied once.
func TestConsoleFormSurvivesANodeDeathInABrowser(t *testing.T) {
	c := newCluster(t, 0)
	lb := startHAProxy(t, c.nodes)
	p := page{t: t, ctx: newBrowserTab(t), base: lb}
	p.logOn("admin", procAdminPassword)
	p.do("open Administer Users", chromedp.Navigate(lb+"/admin/users"), chromedp.WaitVisible(chromedp.CSS("#badge")))
	if got := p.text("#access"); got != "ACCESS: EXCLUSIVE" {
		t.Fatalf("the dialog: %q", got)
	}
	p.do("fill in New person", chromedp.SendKeys(chromedp.CSS("#new-name"), "hal"))
	// What the browser will send, kept to send again after the page is
	// gone.
	p.eval(`sessionStorage.setItem('sent', new URLSearchParams(new FormData(document.getElementById('createform'))).toString()); 'ok'`)
	c.nodes[0].kill()
	p.do("create", chromedp.Click(chromedp.CSS("#create")))
	p.within(10*time.Second, "the page after the node died", `document.querySelector('.notice') ? document.querySelector('.notice').textContent : ''`, "hal was created.")
	if got := p.eval(`location.pathname`); got != "/admin/users" {
		t.Fatalf("sent to %q, not the dialog (logged off?)", got)
	}
	for i := range 2 {
		got, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](`fetch('/admin/users', {method: 'POST',
			body: new URLSearchParams(sessionStorage.getItem('sent')), credentials: 'same-origin'})
			.then(r => r.status + ' ' + new URL(r.url).search)`, chromedp.EvalAwaitPromise))
		if err != nil || got != "200 ?sent=again" {
			t.Fatalf("the same form again (%d): %q, %v", i+1, got, err)
		}
	}
	if n := principalsNamed(t, c.admin, "hal"); n != 1 {
		t.Fatalf("%d principals named hal", n)
	}
}
