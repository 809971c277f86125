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

// Cluster and tasks in a real browser against a real serve (which runs
// tasks), both stores: the admin sees the serve's node alive, schedules a
// report with the form for a few seconds ahead, and its page goes from
// Scheduled to Done by itself (no reload), its progress full, with the
// chart shown and the CSV link; on /cluster a task's row turns done by
// itself too. axe-core runs on both pages; their pictures go to the docs.
func TestConsoleClusterInABrowser(t *testing.T) {
	forEachProcessBackend(t, func(t *testing.T, _ sqlstoretest.Backend, storeURL, dataDir string) {
		srv := startServer(t, storeURL, dataDir)
		admin := adminOf(t, srv)
		bg := context.Background()
		// A session today, so that the report has a row.
		term := admin.terminal(admin.site(client.SiteCreate{Name: "branch"}).ID, "counter 1")
		admin.user("ann")
		admin.logOnAt(term, "ann")

		p := page{t: t, ctx: newBrowserTab(t), base: srv.URL}
		p.logOn("admin", procAdminPassword)
		p.do("open Cluster and tasks", chromedp.Click(chromedp.CSS(`a[href="/cluster"]`)), chromedp.WaitVisible(chromedp.CSS("#taskform")))
		p.within(5*time.Second, "the serve's node alive", `String(document.querySelectorAll('#nodes tr[data-alive=true]').length)`, "1")
		// Only the report's fields show for a report; the time only for At a time.
		if got := p.eval(`document.getElementById('reconcile-fields').hidden + '|' + document.getElementById('at').disabled`); got != "true|true" {
			t.Fatalf("the form for a report, now: %q", got)
		}
		p.do("choose At a time", chromedp.Click(chromedp.CSS("#when-at")))
		// A few seconds ahead, so that the page is seen before the task runs.
		p.eval(`document.getElementById('at').value = new Date(Date.now() + 4000).toISOString().slice(0, 19); 'ok'`)
		p.do("schedule", chromedp.Click(chromedp.CSS("#schedule")))
		p.within(5*time.Second, "the task's page", `document.getElementById('task-status') ? document.getElementById('task-status').dataset.status : ''`, "scheduled")
		if got := p.text("#task-status"); !strings.HasPrefix(got, "Scheduled for ") && got != "Due: waiting for a node to start it." {
			t.Fatalf("before it runs: %q", got)
		}
		if got := p.eval(`document.querySelector('#live progress').hasAttribute('value') + '|' + document.querySelector('#live .plabel').textContent`); got != "false|not started" {
			t.Fatalf("its progress before it runs: %q", got)
		}
		p.eval(`window.stillHere = 'yes'; 'ok'`)
		took := p.within(20*time.Second, "Done, live", `document.getElementById('task-status').dataset.status`, "done")
		t.Logf("the task's page said done %s after it was seen scheduled", took.Round(time.Millisecond))
		if got := p.eval(`String(window.stillHere) + '|' + document.getElementById('task-status').textContent + '|' + document.querySelector('#live progress').value + '/' + document.querySelector('#live progress').max + '|' + document.querySelector('#live .plabel').textContent`); got != "yes|Done.|1/1|1 of 1 (100%)" {
			t.Fatalf("once done (no reload): %q", got)
		}
		if got := p.eval(`document.getElementById('live-say').textContent`); got != "Done. Progress: 1 of 1 (100%)." {
			t.Fatalf("what a screen reader is told: %q", got)
		}
		p.within(5*time.Second, "the chart shown", `String(document.getElementById('chart').complete && document.getElementById('chart').naturalWidth)`, "960")
		if alt := p.eval(`document.getElementById('chart').alt`); !strings.HasPrefix(alt, "Bar chart: the sessions started in each hour of the day") {
			t.Fatalf("the chart's alt: %q", alt)
		}
		if got := p.eval(`document.getElementById('download').textContent + '|' + document.querySelector('#report tbody tr td:nth-child(2)').textContent`); got != "Download the report (CSV)|ann" {
			t.Fatalf("the report's link and rows: %q", got)
		}
		p.checkAccessibility("a report's page, done")
		screenshot(t, p.ctx, "console-task")

		// /cluster follows its tasks too: a reconciliation a few seconds
		// ahead turns done in its row without a reload.
		at := time.Now().Add(3 * time.Second)
		x, err := admin.CreateTask(bg, latchkey.TaskCreate{Kind: latchkey.TaskReconcile, RunAt: &at})
		if err != nil {
			t.Fatal(err)
		}
		p.do("back to Cluster and tasks", chromedp.Click(chromedp.CSS(`a[href="/cluster"]`)), chromedp.WaitVisible(chromedp.CSS("#taskform")))
		p.eval(`window.stillHere = 'yes'; 'ok'`)
		row := `document.getElementById('task-` + x.ID + `')`
		p.within(5*time.Second, "the reconciliation listed", row+` ? `+row+`.dataset.status : ''`, "scheduled")
		p.within(20*time.Second, "the reconciliation done, live", row+` ? `+row+`.dataset.status : ''`, "done")
		if got := p.eval(`String(window.stillHere) + '|' + document.querySelectorAll('#tasks tbody tr[data-status=done]').length`); got != "yes|2" {
			t.Fatalf("the tasks after both ran (no reload): %q", got)
		}
		p.checkAccessibility("Cluster and tasks")
		screenshot(t, p.ctx, "console-cluster")
	})
}
