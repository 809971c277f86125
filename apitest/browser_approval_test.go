package apitest_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"latchkey"
	"latchkey/client"
	"latchkey/sqlstore/sqlstoretest"
)

// An approver and a requester side by side in two browsers, against a
// real serve with a real agent on both stores (issue 13's proof): the
// requester asks for a set that needs approval on My access and lands on
// the request's page, waiting; the approver (a user) sees who asks in the
// inbox and approves with a comment; the requester's page, not reloaded,
// turns approved and then active as the workstation confirms, with its
// steps done, while the workstation's groups file holds the grant.
func TestConsoleApprovalInABrowser(t *testing.T) {
	forEachProcessBackend(t, func(t *testing.T, _ sqlstoretest.Backend, storeURL, dataDir string) {
		srv := startServer(t, storeURL, dataDir)
		admin := adminOf(t, srv)
		term := admin.terminal(admin.site(client.SiteCreate{Name: "branch"}).ID, "counter 1")
		ann, vic := admin.user("ann"), admin.user("vic")
		if _, err := admin.CreateGroupSet(context.Background(), latchkey.GroupSet{Name: "root tools", Groups: []string{"adm"}, MaxMinutes: 60,
			Eligible: []string{ann.ID}, Approval: true, Approvers: []string{vic.ID}}); err != nil {
			t.Fatal(err)
		}
		admin.logOnAt(term, "ann")
		groups := filepath.Join(t.TempDir(), "groups")
		startAgent(t, srv.URL, term.Token, filepath.Join(t.TempDir(), "state"), groups)

		actx := newBrowserTab(t)
		requester := page{t: t, ctx: actx, base: srv.URL}
		approver := page{t: t, ctx: browserContext(t, actx), base: srv.URL}
		requester.logOn("ann", pw("ann"))
		approver.logOn("vic", pw("vic"))

		requester.do("ask for root tools", chromedp.Navigate(srv.URL+"/access"), chromedp.WaitVisible(chromedp.CSS("#checkout")),
			chromedp.SendKeys(chromedp.CSS("#co-minutes"), "20"), chromedp.SendKeys(chromedp.CSS("#co-reason"), "monthly patching"),
			chromedp.Click(chromedp.CSS("#checkout")))
		requester.within(10*time.Second, "the request's page, waiting", `document.getElementById('request-status') ? document.getElementById('request-status').dataset.status : ''`, "waiting_approval")
		if h := requester.text("h1"); h != "ann asks for group set root tools" {
			t.Fatalf("the request's heading: %q", h)
		}
		requester.checkAccessibility("a request, waiting for approval")
		screenshot(t, requester.ctx, "console-request-waiting")
		requester.eval(`window.stillHere = 'yes'; 'ok'`)

		approver.do("open the inbox", chromedp.Navigate(srv.URL+"/approvals"), chromedp.WaitVisible(chromedp.CSS("form[action^='/approvals/']")))
		if got := approver.text("main h2"); got != "ann asks for group set root tools" {
			t.Fatalf("the inbox names: %q", got)
		}
		if got := approver.text("main .card p"); !strings.Contains(got, "On counter 1 for 20 minutes.") || !strings.Contains(got, "monthly patching") {
			t.Fatalf("the inbox says: %q", got)
		}
		approver.checkAccessibility("the approvals inbox")
		screenshot(t, approver.ctx, "console-approvals")
		approver.do("approve with a comment", chromedp.SendKeys(chromedp.CSS("input[name=comment]"), "go ahead"),
			chromedp.Click(chromedp.CSS("button[value=approve]")))
		approver.within(10*time.Second, "the inbox after approving", `document.querySelector('.notice') ? document.querySelector('.notice').textContent.endsWith(' approved.') + '' : ''`, "true")
		start := time.Now()

		took := requester.within(20*time.Second, "the requester's page turns active, live", `document.getElementById('request-status').dataset.status`, "active")
		t.Logf("the requester's page said active %s after the approval (the agent applied the grant meanwhile)", took.Round(time.Millisecond))
		if got := requester.eval(`String(window.stillHere) + '|' + [...document.querySelectorAll('[data-step-status]')].map(e => e.dataset.stepStatus).join(',')`); got != "yes|done,done,done" && got != "yes|done,done,running" && got != "yes|done,done,pending" {
			t.Fatalf("the requester's page (not reloaded; approval and grant done): %q", got)
		}
		if b, _ := os.ReadFile(groups); string(b) != "adm ann\n" {
			t.Fatalf("the workstation's groups %s after the approval: %q", time.Since(start).Round(time.Millisecond), b)
		}
		requester.checkAccessibility("a request, active")
		screenshot(t, requester.ctx, "console-request-active")
	})
}
