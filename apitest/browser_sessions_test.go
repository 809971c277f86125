package apitest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"latchkey"
	"latchkey/client"
	"latchkey/sqlstore/sqlstoretest"
)

// The sessions board in a real browser against a real serve, both
// stores: staff open it and see each terminal's state (unlocked, locked,
// failed, free); a session locked through the API turns its row locked
// without a reload; a filter narrows the board; the page passes axe-core
// and its picture goes to the docs.
func TestConsoleSessionsBoardInABrowser(t *testing.T) {
	forEachProcessBackend(t, func(t *testing.T, _ sqlstoretest.Backend, storeURL, dataDir string) {
		srv := startServer(t, storeURL, dataDir)
		admin := adminOf(t, srv)
		bg := context.Background()
		site := admin.site(client.SiteCreate{Name: "high street"})
		var terms []*latchkey.Terminal
		var tcs []*client.Client
		for i := 1; i <= 5; i++ {
			tm := admin.terminal(site.ID, fmt.Sprintf("counter %d", i))
			terms, tcs = append(terms, tm), append(tcs, client.New(srv.URL, client.WithToken(tm.Token)))
		}
		for _, name := range []string{"ann", "ben", "cat"} {
			admin.user(name)
		}
		logOnAt := func(i int, who string, force bool) *latchkey.Session {
			t.Helper()
			r, err := tcs[i].StartSession(bg, terms[i].ID, latchkey.LoginRequest{Identity: who, Password: pw(who), Force: force, TimeSent: time.Now()})
			if err != nil {
				t.Fatalf("%s at %s: %v", who, terms[i].Name, err)
			}
			return &r.Session
		}
		ann := logOnAt(0, "ann", false) // counter 1: unlocked, locked live below
		ben := logOnAt(1, "ben", false) // counter 2: locked
		if _, err := tcs[1].LockSession(bg, ben.ID, latchkey.LockRequest{TimeSent: time.Now(), Reason: "manual"}); err != nil {
			t.Fatal(err)
		}
		logOnAt(2, "cat", false) // counter 3: failed by cat's forced log-on at counter 4
		logOnAt(3, "cat", true)
		// counter 5: free, its agent online and standalone
		if _, err := tcs[4].ReportAgentStatus(bg, latchkey.AgentStatus{Standalone: true, Since: time.Now()}); err != nil {
			t.Fatal(err)
		}
		// Deferred events from counter 3 for cat: locked, a failed unlock, unlocked.
		at := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
		if _, err := tcs[2].PostTerminalEvents(bg, terms[2].ID, []latchkey.TerminalEvent{
			{Event: 24, OccurredAt: at, Identity: "cat"},
			{Event: 26, OccurredAt: at.Add(5 * time.Minute), Identity: "cat", Reason: latchkey.ReasonInvalidCredentials},
			{Event: 25, OccurredAt: at.Add(6 * time.Minute), Identity: "cat"},
		}); err != nil {
			t.Fatal(err)
		}

		p := page{t: t, ctx: newBrowserTab(t), base: srv.URL}
		p.logOn("admin", procAdminPassword)
		p.do("open the board", chromedp.Navigate(srv.URL+"/sessions"), chromedp.WaitVisible(chromedp.CSS("#board table")))
		state := func(i int) string {
			return fmt.Sprintf(`(document.getElementById('row-%s') || {dataset: {}}).dataset.state || ''`, terms[i].ID)
		}
		got := make([]string, len(terms))
		for i := range terms {
			got[i] = p.eval(state(i))
		}
		if strings.Join(got, ",") != "unlocked,locked,failed,unlocked,free" {
			t.Fatalf("the board's states: %v", got)
		}
		// The stream is open before the change (board.js refreshes on open).
		p.within(5*time.Second, "the first live refresh", `document.getElementById('board').dataset.refreshes || ''`, "1")
		// board.js refreshes at most twice a second: let that refresh's
		// half second pass, so what is measured is the event's way to the row.
		time.Sleep(600 * time.Millisecond)
		p.eval(`window.stillHere = 'yes'; 'ok'`)
		start := time.Now()
		if _, err := tcs[0].LockSession(bg, ann.ID, latchkey.LockRequest{TimeSent: time.Now(), Reason: "inactivity"}); err != nil {
			t.Fatal(err)
		}
		p.within(5*time.Second, "ann's row turns locked, live", state(0), "locked")
		t.Logf("the row turned locked %s after the lock call began (no reload)", time.Since(start).Round(time.Millisecond))
		if got := p.eval(`String(window.stillHere)`); got != "yes" {
			t.Fatal("the page was reloaded")
		}
		if row := p.text("#row-" + terms[0].ID); !strings.Contains(row, "ann") || !strings.Contains(row, "Locked since") {
			t.Fatalf("ann's row: %q", row)
		}
		if row := p.text("#row-" + terms[4].ID); !strings.Contains(row, "Online, standalone") {
			t.Fatalf("counter 5's row: %q", row)
		}
		// A burst of 50 session events over a second or two costs at most
		// two refreshes a second, and the board ends as things stand.
		before := p.eval(`document.getElementById('board').dataset.refreshes`)
		burst := time.Now()
		for range 25 {
			s := logOnAt(4, "ben", false)
			if _, err := tcs[4].EndSession(bg, s.ID); err != nil {
				t.Fatal(err)
			}
			time.Sleep(30 * time.Millisecond)
		}
		burstTook := time.Since(burst)
		p.within(5*time.Second, "counter 5 free again after the burst", "("+state(4)+`) + (document.getElementById("row-`+terms[4].ID+`").textContent.includes("Free since") ? " since" : "")`, "free since")
		time.Sleep(time.Second) // the trailing refresh, if any
		var n0, n1 int
		fmt.Sscan(before, &n0)
		fmt.Sscan(p.eval(`document.getElementById('board').dataset.refreshes`), &n1)
		took := time.Since(burst)
		if most := int(2*took.Seconds()) + 2; n1-n0 > most {
			t.Fatalf("%d refreshes in %s for a burst of 50 events, want at most %d", n1-n0, took, most)
		}
		t.Logf("a burst of 50 session events in %s: %d refreshes in %s", burstTook.Round(time.Millisecond), n1-n0, took.Round(time.Millisecond))
		p.checkAccessibility("the sessions board")
		screenshot(t, p.ctx, "console-sessions")

		// The state filter with the keyboard: choose "failed", press Show.
		p.do("filter failed terminals", chromedp.SetValue(chromedp.CSS("#f-state"), "failed"), chromedp.Focus(chromedp.CSS("#f-go")),
			chromedp.KeyEvent("\r"))
		p.within(5*time.Second, "only the failed terminal", `location.search.includes('state=failed') && document.getElementById('board') ? `+
			`Array.from(document.querySelectorAll('#board tbody tr')).map(r => r.id).join(',') : ''`, "row-"+terms[2].ID)
		// A person's page from the board.
		p.do("filter by a name", chromedp.Navigate(srv.URL+"/sessions?q=cat"), chromedp.WaitVisible(chromedp.CSS(`#row-`+terms[3].ID)))
		p.within(5*time.Second, "the live refresh on open", `document.getElementById('board').dataset.refreshes || ''`, "1") // it replaces the rows
		p.do("open cat's page", chromedp.Click(chromedp.CSS(`#row-`+terms[3].ID+` a`)), chromedp.WaitVisible(chromedp.CSS(`#ps-h`)))
		if h := p.text("h1"); h != "cat" {
			t.Fatalf("cat's page: %q", h)
		}
		if n := p.eval(`String(document.querySelectorAll('tr[data-status]').length)`); n != "2" {
			t.Fatalf("cat's page lists %s sessions, want 2 (one active, one failed)", n)
		}
		if ev := p.eval(`Array.from(document.querySelectorAll('tr[data-event] th')).map(h => h.textContent).join('|')`); ev != "25: Position unlocked|26: Unlock failed|24: Position locked" {
			t.Fatalf("cat's events, newest first: %q", ev)
		}
		p.checkAccessibility("a person's page")
		screenshot(t, p.ctx, "console-person")
	})
}
