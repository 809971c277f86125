package apitest_test

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"testing"
	"time"

	"latchkey"
	"latchkey/client"
	"latchkey/sqlstore/sqlstoretest"
)

// auditWorld is a world whose log has people logging on, locking and
// off at two terminals a minute apart, and a delegate, dana.
func auditWorld(t *testing.T, b sqlstoretest.Backend) (*world, time.Time) {
	t.Helper()
	w := newWorld(t, b, client.SiteCreate{}, 2)
	dana := w.person("dana", true, "dana")
	if _, err := w.admin.UpdatePrincipal(context.Background(), dana.ID, latchkey.PrincipalUpdate{Role: client.Ptr(latchkey.RoleDelegate)}); err != nil {
		t.Fatal(err)
	}
	start := w.clock.Now()
	for i, who := range []string{"alice", "bob", "alice", "bob"} {
		w.clock.Advance(time.Minute)
		r := w.mustLogin(i%2, who, true)
		w.mustLock(i%2, r.Session.ID)
	}
	return w, start
}

// GET /v1/audit's filters beyond API.md (terminal, from, to as RFC 3339,
// before, order), both stores: each narrows the list to exactly the
// records a plain reading of the whole log selects; before pages newest
// first with next as the following page's before; the old parameters
// (after, limit, actor, action) answer as before.
func TestAuditListFiltersAPI(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w, start := auditWorld(t, b)
		type page struct {
			Items []latchkey.AuditRecord `json:"items"`
			Next  string                 `json:"next"`
		}
		get := func(q url.Values) page {
			t.Helper()
			st, body := w.adminRaw("GET", "/v1/audit?"+q.Encode(), "")
			var p page
			if st != 200 || json.Unmarshal([]byte(body), &p) != nil {
				t.Fatalf("GET /v1/audit?%s: %d %s", q.Encode(), st, body)
			}
			return p
		}
		all := get(url.Values{"limit": {"1000"}}).Items
		seqs := func(recs []latchkey.AuditRecord, keep func(latchkey.AuditRecord) bool) []int64 {
			out := []int64{}
			for _, r := range recs {
				if keep(r) {
					out = append(out, r.Seq)
				}
			}
			return out
		}
		t1 := w.terms[1].ID
		from, to := start.Add(2*time.Minute), start.Add(4*time.Minute)
		head := all[len(all)-1].Seq
		for _, c := range []struct {
			q    url.Values
			keep func(latchkey.AuditRecord) bool
			rev  bool
		}{
			{url.Values{"terminal": {t1}}, func(r latchkey.AuditRecord) bool { return r.Terminal == t1 }, false},
			{url.Values{"from": {from.Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}},
				func(r latchkey.AuditRecord) bool { return !r.At.Before(from) && r.At.Before(to) }, false},
			{url.Values{"before": {"10"}}, func(r latchkey.AuditRecord) bool { return r.Seq < 10 }, true},
			{url.Values{"order": {"newest"}, "action": {"session.lock"}}, func(r latchkey.AuditRecord) bool { return r.Action == "session.lock" }, true},
			{url.Values{"after": {"3"}, "before": {"9"}, "order": {"oldest"}}, func(r latchkey.AuditRecord) bool { return r.Seq > 3 && r.Seq < 9 }, false},
			{url.Values{"actor": {w.bob.ID}, "terminal": {t1}, "from": {from.Format(time.RFC3339Nano)}},
				func(r latchkey.AuditRecord) bool {
					return r.Actor == w.bob.ID && r.Terminal == t1 && !r.At.Before(from)
				}, false},
		} {
			want := seqs(all, c.keep)
			if c.rev {
				slices.Reverse(want)
			}
			if got := seqs(get(c.q).Items, func(latchkey.AuditRecord) bool { return true }); !slices.Equal(got, want) || len(want) == 0 || len(want) == len(all) {
				t.Errorf("%s: %v, want %v", c.q.Encode(), got, want)
			}
		}

		// Newest first, two at a time, following next as before.
		var paged []int64
		q := url.Values{"before": {"999999"}, "limit": {"2"}, "action": {"session.login"}}
		for {
			p := get(q)
			for _, r := range p.Items {
				paged = append(paged, r.Seq)
			}
			if p.Next == "" {
				break
			}
			q.Set("before", p.Next)
		}
		want := seqs(all, func(r latchkey.AuditRecord) bool { return r.Action == "session.login" })
		slices.Reverse(want)
		if !slices.Equal(paged, want) || len(want) < 4 {
			t.Fatalf("paged newest first: %v, want %v (head %d)", paged, want, head)
		}
		// The client sends the same parameters.
		recs, next, err := w.admin.ListAudit(t.Context(), latchkey.AuditFilter{Terminal: t1, Newest: true, Limit: 1})
		if err != nil || len(recs) != 1 || recs[0].Terminal != t1 || next == "" {
			t.Fatalf("the client: %v %q %v", recs, next, err)
		}
	})
}
