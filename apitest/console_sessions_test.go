package apitest_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"latchkey"
	"latchkey/client"
	"latchkey/sqlstore/sqlstoretest"
)

// boardRows are the board's rows as terminal name → state, read from the
// page (each row's data-state and its heading cell).
func boardRows(t testing.TB, page string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, m := range regexp.MustCompile(`(?s)<tr id="row-[^"]+" data-state="([a-z]+)">\s*<th scope="row">([^<]+)</th>`).FindAllStringSubmatch(page, -1) {
		out[m[2]] = m[1]
	}
	return out
}

// rowOf is the HTML of a terminal's row on the board.
func rowOf(t testing.TB, page, terminalID string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<tr id="row-` + regexp.QuoteMeta(terminalID) + `".*?</tr>`).FindString(page)
	if m == "" {
		t.Fatalf("no row for terminal %s on the board:\n%s", terminalID, page)
	}
	return m
}

// The sessions board and a person's page over HTTP, on both stores:
// a terminal with an unlocked session, one locked, one failed (its
// person logged on elsewhere with force), one free with its agent
// online and standalone; the filters by site, state and text; paging;
// a user is refused the board in words and opens only their own page;
// events 24/25/26 sent by a terminal appear on their person's page.
func TestConsoleSessionsBoard(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		ctx := context.Background()
		w := newWorld(t, b, client.SiteCreate{}, 4)
		// counter 0: alice, then failed by her forced log-on at counter 2.
		failed := w.mustLogin(0, "alice", false).Session
		w.clock.Advance(time.Minute)
		// counter 1: bob, locked.
		bobs := w.mustLogin(1, "bob", false).Session
		w.mustLock(1, bobs.ID)
		w.clock.Advance(time.Minute)
		if _, err := w.login(2, "alice", false); latchkey.ErrorCode(err) != latchkey.ECONCURRENTSESSION {
			t.Fatalf("alice at counter 2 without force: %v, want concurrent_session", err)
		}
		active := w.mustLogin(2, "alice", true)
		if len(active.Failed) != 1 || active.Failed[0] != failed.ID {
			t.Fatalf("forced log-on failed %v, want [%s]", active.Failed, failed.ID)
		}
		// counter 3: nobody, its agent online and standalone.
		if _, err := w.tc[3].ReportAgentStatus(ctx, latchkey.AgentStatus{Standalone: true, Since: w.clock.Now()}); err != nil {
			t.Fatal(err)
		}
		annex, err := w.admin.CreateSite(ctx, client.SiteCreate{Name: "annex"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = w.admin.RegisterTerminal(ctx, "annex desk", annex.ID)
		if err != nil {
			t.Fatal(err)
		}

		br := newBrowser(t, w.url)
		br.logOn("admin", adminPassword)
		resp, page := br.do("GET", "/sessions", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("the board: %d\n%s", resp.StatusCode, page)
		}
		want := map[string]string{"counter 0": "failed", "counter 1": "locked", "counter 2": "unlocked", "counter 3": "free", "annex desk": "free"}
		if got := boardRows(t, page); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("the board's rows %v, want %v", got, want)
		}
		for _, s := range []string{`<h2 id="site-0">Site annex</h2>`, `<h2 id="site-1">Site branch</h2>`, `<label for="f-state">State</label>`,
			`<script src="/console/static/board.js"></script>`} {
			if !strings.Contains(page, s) {
				t.Fatalf("the board lacks %q:\n%s", s, page)
			}
		}
		if strings.Index(page, "annex desk") > strings.Index(page, "counter 0") {
			t.Fatal("the sites are not in name order (annex before branch)")
		}
		row := rowOf(t, page, w.terms[2].ID)
		for _, s := range []string{`<a href="/people/` + w.alice.ID + `">alice</a>`, `(alice)`, "Unlocked since", "Offline", "never"} {
			if !strings.Contains(row, s) {
				t.Fatalf("alice's row lacks %q:\n%s", s, row)
			}
		}
		row = rowOf(t, page, w.terms[1].ID)
		lockedAt := w.session(bobs.ID).LockedAt.UTC().Format("2006-01-02T15:04:05Z")
		if !strings.Contains(row, `Locked since <time datetime="`+lockedAt+`">`) || !strings.Contains(row, ">bob</a>") {
			t.Fatalf("bob's locked row (locked at %s):\n%s", lockedAt, row)
		}
		row = rowOf(t, page, w.terms[0].ID)
		endedAt := w.session(failed.ID).EndedAt.UTC().Format("2006-01-02T15:04:05Z")
		if !strings.Contains(row, `Failed since <time datetime="`+endedAt+`">`) || !strings.Contains(row, `(was <a href="/people/`+w.alice.ID+`">alice</a>)`) ||
			!strings.Contains(row, "nobody") {
			t.Fatalf("the failed row (failed at %s):\n%s", endedAt, row)
		}
		row = rowOf(t, page, w.terms[3].ID)
		if !strings.Contains(row, "Online, standalone") || strings.Contains(row, "never") {
			t.Fatalf("the standalone agent's row:\n%s", row)
		}

		// The filters, one at a time and together.
		for _, c := range []struct {
			query string
			want  []string
		}{
			{"state=unlocked", []string{"counter 2"}},
			{"state=locked", []string{"counter 1"}},
			{"state=failed", []string{"counter 0"}},
			{"state=free", []string{"annex desk", "counter 3"}},
			{"state=standalone", []string{"counter 3"}},
			{"state=offline", []string{"annex desk", "counter 0", "counter 1", "counter 2"}},
			{"site=" + annex.ID, []string{"annex desk"}},
			{"q=BOB", []string{"counter 1"}},
			{"q=alice", []string{"counter 2"}},
			{"q=counter+3", []string{"counter 3"}},
			{"q=100%25", nil},
			{"site=" + w.site.ID + "&state=free", []string{"counter 3"}},
			{"site=" + annex.ID + "&q=counter", nil},
		} {
			resp, page := br.do("GET", "/sessions?"+c.query, nil)
			var got []string
			for name := range boardRows(t, page) {
				got = append(got, name)
			}
			if resp.StatusCode != 200 || fmt.Sprint(slices.Sorted(slices.Values(got))) != fmt.Sprint(c.want) {
				t.Fatalf("%s: %d %v, want %v", c.query, resp.StatusCode, slices.Sorted(slices.Values(got)), c.want)
			}
			if c.want == nil && !strings.Contains(page, "No terminal matches these filters.") {
				t.Fatalf("%s: no words for an empty board", c.query)
			}
		}
		resp, page = br.do("GET", "/sessions?state=busy", nil)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "State must be one of unlocked, locked, failed, free, offline, standalone.") {
			t.Fatalf("an unknown state: %d\n%s", resp.StatusCode, page)
		}
		if resp, page := br.do("GET", "/sessions?after=not-a-cursor", nil); resp.StatusCode != http.StatusBadRequest ||
			!strings.Contains(page, "After must be a cursor from a previous page.") {
			t.Fatalf("a damaged cursor: %d\n%s", resp.StatusCode, page)
		}
		// The rows alone (board.js), with the same filters.
		resp, page = br.do("GET", "/sessions/rows?state=locked", nil)
		if got := boardRows(t, page); resp.StatusCode != 200 || len(got) != 1 || got["counter 1"] != "locked" || strings.Contains(page, "<html") {
			t.Fatalf("the rows: %d %v\n%s", resp.StatusCode, got, page)
		}

		// Paging: 50 terminals a page, by site then name.
		for i := 0; i < 50; i++ {
			if _, err := w.admin.RegisterTerminal(ctx, fmt.Sprintf("annex %02d", i), annex.ID); err != nil {
				t.Fatal(err)
			}
		}
		seen := map[string]bool{}
		path, pages := "/sessions", 0
		for path != "" {
			pages++
			resp, page := br.do("GET", path, nil)
			if resp.StatusCode != 200 {
				t.Fatalf("%s: %d", path, resp.StatusCode)
			}
			for name := range boardRows(t, page) {
				if seen[name] {
					t.Fatalf("%s again on page %d", name, pages)
				}
				seen[name] = true
			}
			path = ""
			if m := regexp.MustCompile(`href="(/sessions\?[^"]*after=[^"]+)" id="next-page"`).FindStringSubmatch(page); m != nil {
				path = strings.ReplaceAll(m[1], "&amp;", "&")
			}
		}
		if pages != 2 || len(seen) != 55 || !seen["counter 3"] || !seen["annex 00"] {
			t.Fatalf("%d pages with %d terminals, want 2 with 55", pages, len(seen))
		}

		// Events 24/25/26 from bob's terminal, sent as terminals send them.
		at := w.clock.Now().Add(-10 * time.Minute).UTC().Truncate(time.Second)
		if n, err := w.tc[1].PostTerminalEvents(ctx, w.terms[1].ID, []latchkey.TerminalEvent{
			{ID: "e1", Event: 24, OccurredAt: at, Identity: "bob"},
			{ID: "e2", Event: 26, OccurredAt: at.Add(time.Minute), Identity: "bob", Reason: latchkey.ReasonAttemptsExceeded},
			{ID: "e3", Event: 25, OccurredAt: at.Add(2 * time.Minute), Identity: "bob"},
			{ID: "e4", Event: 24, OccurredAt: at.Add(3 * time.Minute), Identity: "alice2"},
		}); err != nil || n != 4 {
			t.Fatalf("post events: %d %v", n, err)
		}
		resp, page = br.do("GET", "/people/"+w.bob.ID, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("bob's page: %d\n%s", resp.StatusCode, page)
		}
		for _, s := range []string{"<h1>bob</h1>", "Active, locked", "counter 1",
			`<th scope="row">24: Position locked</th>`, `<th scope="row">25: Position unlocked</th>`, `<th scope="row">26: Unlock failed</th>`,
			"too many attempts", `<time datetime="` + at.Format("2006-01-02T15:04:05Z") + `">`} {
			if !strings.Contains(page, s) {
				t.Fatalf("bob's page lacks %q:\n%s", s, page)
			}
		}
		if strings.Contains(page, "alice2") || strings.Count(page, `data-event="`) != 3 {
			t.Fatalf("bob's page shows events that are not his:\n%s", page)
		}
		// Newest first: 25 (received last of his) is listed before 24.
		if strings.Index(page, "25: Position unlocked") > strings.Index(page, "24: Position locked") {
			t.Fatal("bob's events are not newest first")
		}
		resp, page = br.do("GET", "/people/"+w.alice.ID, nil)
		if resp.StatusCode != 200 || strings.Count(page, `data-event="24"`) != 1 || !strings.Contains(page, "alice2") {
			t.Fatalf("alice's page (the event under her second login ID): %d\n%s", resp.StatusCode, page)
		}
		// Her active session first, then the failed one.
		ia, ifl := strings.Index(page, `id="ses-`+active.Session.ID+`"`), strings.Index(page, `id="ses-`+failed.ID+`"`)
		if ia < 0 || ifl < 0 || ia > ifl || !strings.Contains(page, "Failed (forced)") {
			t.Fatalf("alice's sessions (active %d, failed %d):\n%s", ia, ifl, page)
		}

		// A user: no board, said in words; only their own page.
		ub := newBrowser(t, w.url)
		ub.logOn("alice", pw("alice"))
		for _, path := range []string{"/sessions", "/sessions/rows"} {
			resp, page := ub.do("GET", path, nil)
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(page, "The sessions board is for admins and delegates.") || strings.Contains(page, "counter 1") {
				t.Fatalf("a user opens %s: %d\n%s", path, resp.StatusCode, page)
			}
		}
		resp, page = ub.do("GET", "/people/"+w.bob.ID, nil)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(page, "You may only see your own page.") || strings.Contains(page, "Position") {
			t.Fatalf("alice opens bob's page: %d\n%s", resp.StatusCode, page)
		}
		if _, home := ub.do("GET", "/", nil); !strings.Contains(home, `<a href="/people/`+w.alice.ID+`">All your sessions`) {
			t.Fatalf("the start page does not link to the person's own page:\n%s", home)
		}
		resp, page = ub.do("GET", "/people/"+w.alice.ID, nil)
		if resp.StatusCode != 200 || !strings.Contains(page, "<h1>Your sessions and events</h1>") || !strings.Contains(page, "Active, unlocked") {
			t.Fatalf("alice's own page: %d\n%s", resp.StatusCode, page)
		}
		if resp, _ := br.do("GET", "/people/prn_nobody", nil); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("an unknown person's page: %d", resp.StatusCode)
		}

		// A delegate sees the board as an admin does.
		d, err := w.admin.CreatePrincipal(ctx, latchkey.Principal{Name: "dora", Role: latchkey.RoleDelegate})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.admin.AddIdentity(ctx, d.ID, "dora", pw("dora")); err != nil {
			t.Fatal(err)
		}
		db := newBrowser(t, w.url)
		db.logOn("dora", pw("dora"))
		if resp, page := db.do("GET", "/sessions?state=locked", nil); resp.StatusCode != 200 || boardRows(t, page)["counter 1"] != "locked" {
			t.Fatalf("a delegate's board: %d\n%s", resp.StatusCode, page)
		}
	})
}
