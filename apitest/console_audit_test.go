package apitest_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"latchkey"
	"latchkey/sqlstore/sqlstoretest"
)

// pageSeqs are the seqs of the audit table's rows, top to bottom.
func pageSeqs(page string) []int64 {
	var out []int64
	for _, m := range regexp.MustCompile(`<tr><td>(\d+)</td>`).FindAllStringSubmatch(page, -1) {
		n, _ := strconv.ParseInt(m[1], 10, 64)
		out = append(out, n)
	}
	return out
}

// apiSeqs are the seqs the API lists for f, newest first, every page.
func apiSeqs(t *testing.T, w *world, f latchkey.AuditFilter) []int64 {
	t.Helper()
	f.Newest, f.Limit = true, 1000
	items, _, err := w.admin.ListAudit(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	out := []int64{}
	for _, r := range items {
		out = append(out, r.Seq)
	}
	return out
}

// The Audit screen over HTTP, both stores: the log newest first with
// names for IDs; each filter (action, actor, terminal, a time range)
// narrows the table to exactly what the API lists for it; Older pages
// back; Verify says the chain is whole in words, and broken where a
// record was edited; the seal downloads as a file whose signature checks
// against the server's key; the export's lines are the API's; a delegate
// reads and filters but may not verify, seal or export and is told why;
// a user is refused the screen.
func TestConsoleAudit(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w, start := auditWorld(t, b)
		ctx := context.Background()
		admin := newBrowser(t, w.url)
		token := admin.logOn("admin", adminPassword)

		resp, page := admin.do("GET", "/audit", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("the screen: %d\n%s", resp.StatusCode, page)
		}
		all := apiSeqs(t, w, latchkey.AuditFilter{})
		if got := pageSeqs(page); !slices.Equal(got, all) {
			t.Fatalf("the screen lists %v, the API %v", got, all)
		}
		for _, want := range []string{`<label for="f-action">`, `<label for="f-actor">`, `<label for="f-terminal">`, `<label for="f-from">`, `<label for="f-to">`,
			`>alice</a>`, `>counter 1</a>`, `<th scope="col">Time (UTC)</th>`, `<time datetime="`, `<option value="session.lock">`,
			`id="verify">Verify the chain`, `href="/audit/seal"`, "latchkey audit verify --seal"} {
			if !strings.Contains(page, want) {
				t.Fatalf("the screen lacks %q:\n%s", want, page)
			}
		}

		// Each filter narrows the table to what the API lists for it.
		t1 := w.terms[1].ID
		from, to := start.Add(2*time.Minute), start.Add(4*time.Minute)
		for _, c := range []struct {
			query string
			f     latchkey.AuditFilter
			n     int // at least this many rows
		}{
			{"action=session.lock", latchkey.AuditFilter{Action: "session.lock"}, 4},
			{"actor=" + w.alice.ID, latchkey.AuditFilter{Actor: w.alice.ID}, 4},
			{"terminal=" + t1, latchkey.AuditFilter{Terminal: t1}, 4},
			{"from=" + from.Format("2006-01-02T15:04") + "&to=" + to.Format("2006-01-02T15:04"), latchkey.AuditFilter{From: from, To: to}, 4},
			{"action=session.login&terminal=" + t1 + "&from=" + url.QueryEscape(from.Format(time.RFC3339)), latchkey.AuditFilter{Action: "session.login", Terminal: t1, From: from}, 1},
		} {
			resp, page := admin.do("GET", "/audit?"+c.query, nil)
			want := apiSeqs(t, w, c.f)
			got := pageSeqs(page)
			if resp.StatusCode != 200 || !slices.Equal(got, want) || len(got) < c.n || len(got) >= len(all) {
				t.Fatalf("filter %s: %d, the screen lists %v, the API %v (of %d)", c.query, resp.StatusCode, got, want, len(all))
			}
			if !strings.Contains(page, "as filtered") || !strings.Contains(page, `id="clear"`) {
				t.Fatalf("filter %s: the page does not say it is filtered", c.query)
			}
		}
		if _, page := admin.do("GET", "/audit?action=session.lock", nil); !strings.Contains(page, `<option value="session.lock" selected>`) {
			t.Fatal("the action chosen is not kept in the form")
		}
		resp, page = admin.do("GET", "/audit?from=2026-12-04T10:00&to=2026-12-04T09:00", nil)
		if resp.StatusCode != 400 || !strings.Contains(page, `role="alert"`) || !strings.Contains(page, "The filter&#39;s to is not right") {
			t.Fatalf("a time range backwards: %d\n%s", resp.StatusCode, page)
		}

		// Older pages back, newest first, to the first record.
		var paged []int64
		pages := 0
		next := "/audit?limit=3&action=session.lock&order=newest"
		for ; next != ""; pages++ {
			resp, page := admin.do("GET", next, nil)
			if resp.StatusCode != 200 {
				t.Fatalf("%s: %d", next, resp.StatusCode)
			}
			paged = append(paged, pageSeqs(page)...)
			next = ""
			if m := regexp.MustCompile(`href="([^"]+)" id="older"`).FindStringSubmatch(page); m != nil {
				next = strings.ReplaceAll(m[1], "&amp;", "&")
			}
		}
		if want := apiSeqs(t, w, latchkey.AuditFilter{Action: "session.lock"}); !slices.Equal(paged, want) || pages < 2 {
			t.Fatalf("paged %v in %d pages, want %v", paged, pages, want)
		}

		// Verify: whole, in words.
		head := all[0]
		resp, page = admin.do("POST", "/audit/verify", url.Values{"csrf": {token}, "filter": {"action=session.lock"}})
		whole := fmt.Sprintf("The chain is whole: %d records, from 1 to %d.", head, head)
		if resp.StatusCode != 200 || !regexp.MustCompile(`role="status" id="verdict">`+regexp.QuoteMeta(whole)).MatchString(page) {
			t.Fatalf("verify: %d\n%s", resp.StatusCode, page)
		}
		if !strings.Contains(page, `<option value="session.lock" selected>`) {
			t.Fatal("verify lost the page's filter")
		}
		if resp, _ := admin.do("POST", "/audit/verify", url.Values{"csrf": {"forged"}}); resp.StatusCode != 403 {
			t.Fatalf("verify without the form's token: %d", resp.StatusCode)
		}

		// The seal: a file, the API's object, signed by the server's key.
		resp, body := admin.do("GET", "/audit/seal", nil)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" ||
			resp.Header.Get("Content-Disposition") != fmt.Sprintf(`attachment; filename="seal-%020d.json"`, head) {
			t.Fatalf("seal: %d %v\n%s", resp.StatusCode, resp.Header, body)
		}
		var seal latchkey.AuditSeal
		if err := json.Unmarshal([]byte(body), &seal); err != nil {
			t.Fatal(err)
		}
		apiSeal, err := w.admin.AuditSeal(ctx)
		if err != nil {
			t.Fatal(err)
		}
		recs, _, err := w.admin.ListAudit(ctx, latchkey.AuditFilter{Before: head + 1, Newest: true, Limit: 1})
		if err != nil || len(recs) != 1 {
			t.Fatal(recs, err)
		}
		if err := seal.Verify(apiSeal.Key); err != nil || seal.Seq != head || seal.Hash != recs[0].Hash {
			t.Fatalf("the seal %+v: %v (head %d %s)", seal, err, head, recs[0].Hash)
		}
		v := latchkey.NewChainVerifier()
		if err := v.Expect(seal); err != nil {
			t.Fatal(err)
		}

		// The export: the API's lines, whole or filtered.
		apiLines := func(path string) string {
			req, _ := http.NewRequest("GET", w.url+path, nil)
			req.Header.Set("Authorization", "Bearer "+w.admin.Token())
			r, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Body.Close()
			b, _ := io.ReadAll(r.Body)
			return string(b)
		}
		resp, body = admin.do("GET", "/audit/export", nil)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-ndjson" ||
			resp.Header.Get("Content-Disposition") != `attachment; filename="audit-after-0.jsonl"` || body != apiLines("/v1/audit/export") {
			t.Fatalf("export: %d %v\n%s", resp.StatusCode, resp.Header, body)
		}
		sc := bufio.NewScanner(strings.NewReader(body))
		for sc.Scan() { // the whole export checks against the seal
			var l latchkey.AuditLine
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				t.Fatal(err)
			}
			r, err := l.Record()
			if err != nil || !v.Add(r) {
				t.Fatalf("export line %s: %v, chain %+v", sc.Text(), err, v.Verification())
			}
		}
		if v.Finish(head, seal.Hash); !v.Verification().OK || v.SealMatched != head {
			t.Fatalf("the export against the seal: %+v", v.Verification())
		}
		resp, body = admin.do("GET", "/audit/export?action=session.login&terminal="+t1, nil)
		filtered, _, err := w.admin.ListAudit(ctx, latchkey.AuditFilter{Action: "session.login", Terminal: t1})
		if err != nil {
			t.Fatal(err)
		}
		var want strings.Builder
		for _, r := range filtered {
			b, _ := json.Marshal(r.ExportLine())
			want.Write(append(b, '\n'))
		}
		if resp.StatusCode != 200 || len(filtered) != 2 || body != want.String() ||
			resp.Header.Get("Content-Disposition") != `attachment; filename="audit-filtered-after-0.jsonl"` {
			t.Fatalf("filtered export: %d %v\n%s\nwant\n%s", resp.StatusCode, resp.Header, body, want.String())
		}
		if tail := apiLines("/v1/audit/export?after=3"); func() string { _, b := admin.do("GET", "/audit/export?after=3", nil); return b }() != tail {
			t.Fatal("the export after a seq is not the API's")
		}

		// A delegate reads and filters; verify, seal and export are refused
		// with the reason, and the page says it before any press.
		dana := newBrowser(t, w.url)
		danaCSRF := dana.logOn("dana", pw("dana"))
		resp, page = dana.do("GET", "/audit?action=session.lock", nil)
		if resp.StatusCode != 200 || !slices.Equal(pageSeqs(page), apiSeqs(t, w, latchkey.AuditFilter{Action: "session.lock"})) {
			t.Fatalf("the delegate's screen: %d\n%s", resp.StatusCode, page)
		}
		if !strings.Contains(page, `id="verify" disabled aria-describedby="not-admin"`) || !strings.Contains(page, `<p id="not-admin">Verifying the chain, downloading a seal and exporting are for admins`) ||
			strings.Contains(page, `href="/audit/seal"`) || strings.Contains(page, `href="/audit/export`) {
			t.Fatalf("the delegate's controls:\n%s", page)
		}
		for _, c := range []struct {
			method, path string
			form         url.Values
		}{{"POST", "/audit/verify", url.Values{"csrf": {danaCSRF}}}, {"GET", "/audit/seal", nil}, {"GET", "/audit/export", nil}} {
			resp, page := dana.do(c.method, c.path, c.form)
			if resp.StatusCode != 403 || !strings.Contains(page, `role="alert">Verifying the chain, downloading a seal and exporting are for admins: you are a delegate`) {
				t.Fatalf("the delegate's %s %s: %d\n%s", c.method, c.path, resp.StatusCode, page)
			}
		}

		// A user is refused the screen, and told why.
		alice := newBrowser(t, w.url)
		aliceCSRF := alice.logOn("alice", pw("alice"))
		for _, c := range []struct {
			method, path string
			form         url.Values
		}{{"GET", "/audit", nil}, {"POST", "/audit/verify", url.Values{"csrf": {aliceCSRF}}}, {"GET", "/audit/seal", nil}, {"GET", "/audit/export", nil}} {
			resp, page := alice.do(c.method, c.path, c.form)
			if resp.StatusCode != 403 || !strings.Contains(page, `role="alert">The audit log is for admins and delegates: you are signed in as a user.`) || strings.Contains(page, "session.login") {
				t.Fatalf("the user's %s %s: %d\n%s", c.method, c.path, resp.StatusCode, page)
			}
		}

		// An edited record: verify names it, as an alert.
		sqlstoretest.Tamper(t, w.storeURL, "UPDATE audit SET target = 'x' WHERE seq = 3")
		resp, page = admin.do("POST", "/audit/verify", url.Values{"csrf": {token}})
		if resp.StatusCode != 200 || !strings.Contains(page, `role="alert" id="verdict">The chain is broken at record 3`) {
			t.Fatalf("verify after an edit: %d\n%s", resp.StatusCode, page)
		}
	})
}
