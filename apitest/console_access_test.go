package apitest_test

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"latchkey"
	"latchkey/client"
	"latchkey/sqlstore/sqlstoretest"
)

// My access over HTTP, both stores: a set that needs approval is asked
// for from the same form (with a reason; minutes that are not a number are refused in
// words and nothing is asked), the request's page names who asks and for
// what and shows its steps, My access lists it, the approver (a user, who
// may not read people) sees the requester's name in the inbox, and the
// requester cancels it. A set without approval is checked out; its page
// shows the time left, the expiry warning once within its time, and
// Extend (refused in words past the set's maximum) moves its end and ends
// the warning; My access lists it as running.
func TestConsoleMyAccessRequestsAndExtends(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 1)
		ctx := context.Background()
		root, err := w.admin.CreateGroupSet(ctx, latchkey.GroupSet{Name: "root tools", Groups: []string{"adm"}, Eligible: []string{w.alice.ID},
			Approval: true, Approvers: []string{w.bob.ID}})
		if err != nil {
			t.Fatal(err)
		}
		tools, err := w.admin.CreateGroupSet(ctx, latchkey.GroupSet{Name: "tools", Groups: []string{"wheel"}, MaxMinutes: 30, Eligible: []string{w.alice.ID}})
		if err != nil {
			t.Fatal(err)
		}
		w.mustLogin(0, "alice", false)
		alice := newBrowser(t, w.url)
		tok := alice.logOn("alice", pw("alice"))
		term := w.terms[0].ID

		ask := url.Values{"csrf": {tok}, "groupset": {root.ID}, "terminal": {term}, "reason": {"patch the kernel"}, "minutes": {"twenty"}}
		resp, page := alice.do("POST", "/access", ask)
		if resp.StatusCode != 400 || !strings.Contains(page, "Minutes must be a whole number above 0, or empty for the set&#39;s maximum.") {
			t.Fatalf("a request with minutes \"twenty\": %d\n%s", resp.StatusCode, page)
		}
		if reqs, _, err := w.admin.ListRequests(ctx, latchkey.RequestFilter{}); err != nil || len(reqs) != 0 {
			t.Fatalf("a refused request made %d requests (%v)", len(reqs), err)
		}
		ask.Set("minutes", "20")
		resp, _ = alice.do("POST", "/access", ask)
		loc := resp.Header.Get("Location")
		if resp.StatusCode != 303 || !strings.HasPrefix(loc, "/requests/") {
			t.Fatalf("asking for approval: %d to %q", resp.StatusCode, loc)
		}
		reqID := strings.TrimPrefix(loc, "/requests/")
		_, page = alice.do("GET", loc, nil)
		for _, want := range []string{"alice asks for group set root tools", "On counter 0 for 20 minutes.", "patch the kernel",
			"Waiting for approval.", `<td>Approval</td><td data-step-status="running">`, `<td>Grant on counter 0</td><td data-step-status="pending">`, `id="cancel-request"`} {
			if !strings.Contains(page, want) {
				t.Fatalf("the request's page lacks %q:\n%s", want, page)
			}
		}
		if _, page = alice.do("GET", "/access", nil); !strings.Contains(page, `<a href="/requests/`+reqID+`">root tools</a>`) || !strings.Contains(page, "Waiting for approval") {
			t.Fatalf("My access does not list the request:\n%s", page)
		}
		if resp, page = alice.do("GET", "/requests/"+reqID+"/live", nil); resp.StatusCode != 200 || !strings.Contains(page, `id="steps"`) || strings.Contains(page, "<html") {
			t.Fatalf("the live part: %d\n%s", resp.StatusCode, page)
		}

		bob := newBrowser(t, w.url)
		bob.logOn("bob", pw("bob"))
		if _, page = bob.do("GET", "/approvals", nil); !strings.Contains(page, "alice asks for group set root tools") {
			t.Fatalf("the approver's inbox does not name the requester:\n%s", page)
		}
		if _, page = bob.do("GET", "/requests/"+reqID, nil); strings.Contains(page, `id="cancel-request"`) {
			t.Fatalf("the approver may not cancel, but is offered it:\n%s", page)
		}

		resp, page = alice.do("POST", "/requests/"+reqID+"/cancel", url.Values{"csrf": {tok}, "idem": {latchkey.NewID("form")}})
		if resp.StatusCode != 200 || !strings.Contains(page, "Request "+reqID+" cancelled.") || !strings.Contains(page, "Cancelled.") || strings.Contains(page, `id="cancel-request"`) {
			t.Fatalf("cancelling: %d\n%s", resp.StatusCode, page)
		}
		if q, err := w.admin.GetRequest(ctx, reqID); err != nil || q.Status != latchkey.RequestCancelled {
			t.Fatalf("the request after cancel: %+v, %v", q, err)
		}

		resp, _ = alice.do("POST", "/access", url.Values{"csrf": {tok}, "idem": {latchkey.NewID("form")}, "groupset": {tools.ID}, "terminal": {term}, "minutes": {"20"}})
		loc = resp.Header.Get("Location")
		if resp.StatusCode != 303 || !strings.HasPrefix(loc, "/checkouts/") {
			t.Fatalf("checking out: %d to %q", resp.StatusCode, loc)
		}
		coID := strings.TrimPrefix(loc, "/checkouts/")
		_, page = alice.do("GET", loc, nil)
		if !strings.Contains(page, `data-seconds="1200"`) || !strings.Contains(page, `id="co-warning" class="warning" role="alert" hidden`) {
			t.Fatalf("20 minutes left and no warning yet:\n%s", page)
		}
		if _, page = alice.do("GET", "/access", nil); !strings.Contains(page, `<a href="/checkouts/`+coID+`">wheel</a>`) {
			t.Fatalf("My access does not list the check-out:\n%s", page)
		}
		resp, page = alice.do("POST", loc+"/extend", url.Values{"csrf": {tok}, "idem": {latchkey.NewID("form")}, "minutes": {"0"}})
		if resp.StatusCode != 400 || !strings.Contains(page, "minutes") {
			t.Fatalf("extending by 0 minutes: %d\n%s", resp.StatusCode, page)
		}
		resp, page = alice.do("POST", loc+"/extend", url.Values{"csrf": {tok}, "idem": {latchkey.NewID("form")}, "minutes": {"90"}})
		if resp.StatusCode == 303 || resp.StatusCode == 200 {
			t.Fatalf("extending past the set's 30 minutes was taken: %d\n%s", resp.StatusCode, page)
		}
		w.clock.Advance(16 * time.Minute)
		_, page = alice.do("GET", loc, nil)
		end := w.clock.Now().Add(4 * time.Minute).UTC().Format("15:04 UTC")
		if !strings.Contains(page, `data-seconds="240"`) || !strings.Contains(page, `<span id="co-countdown">4:00</span>`) || !strings.Contains(page, "This check-out ends at "+end+", in 4 minutes. Extend it or check in.") {
			t.Fatalf("4 minutes before the end, within the 5-minute warning, the page does not warn:\n%s", page)
		}
		resp, _ = alice.do("POST", loc+"/extend", url.Values{"csrf": {tok}, "idem": {latchkey.NewID("form")}, "minutes": {"10"}})
		wantRedirect(t, resp, loc+"?extended=1")
		_, page = alice.do("GET", loc+"?extended=1", nil)
		end = w.clock.Now().Add(10 * time.Minute).UTC().Format("15:04 UTC")
		if !strings.Contains(page, "Extended: it now ends at "+end+".") || !strings.Contains(page, `data-seconds="600"`) || !strings.Contains(page, `id="co-warning" class="warning" role="alert" hidden`) {
			t.Fatalf("after extending to 10 minutes from now:\n%s", page)
		}
		co, err := w.admin.GetCheckout(ctx, coID)
		if err != nil || !co.ExpiresAt.Equal(w.clock.Now().Add(10*time.Minute)) {
			t.Fatalf("the check-out's end: %+v, %v", co, err)
		}
		if regexp.MustCompile(`id="extendform"[^>]*hidden`).MatchString(page) {
			t.Fatalf("Extend is hidden on a running check-out:\n%s", page)
		}
	})
}
