package sqlstore_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"latchkey"
	"latchkey/sqlstore"
	"latchkey/sqlstore/sqlstoretest"
)

// probeMu keeps the backends' subtests from changing the probe at once.
var probeMu sync.Mutex

// ListAudit's filters on both stores: each filter (actor, action,
// terminal, a time range, a seq window, newest first) returns exactly the
// records a plain reading of the whole log selects, in order, a page at a
// time; a delegate reads, a user may not; a bad filter is bad_request.
func TestListAuditFilters(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		e := mustEnv(t, b, latchkey.DefaultSite("s"), 2)
		ctx := context.Background()
		start := e.clock.Now()
		for i := 0; i < 6; i++ {
			e.clock.Advance(time.Minute)
			r, err := e.login(i%2, "alice", pw("alice"), true)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.s.LockSession(ctx, e.term(i%2), r.Session.ID, latchkey.LockRequest{TimeSent: e.clock.Now(), Reason: "manual"}); err != nil {
				t.Fatal(err)
			}
		}
		all := exportAll(t, e.s, 0)
		match := func(f latchkey.AuditFilter, r latchkey.AuditRecord) bool {
			return r.Seq > f.After && (f.Before == 0 || r.Seq < f.Before) &&
				(f.Actor == "" || r.Actor == f.Actor) && (f.Action == "" || string(r.Action) == f.Action) &&
				(f.Terminal == "" || r.Terminal == f.Terminal) &&
				(f.From.IsZero() || !r.At.Before(f.From)) && (f.To.IsZero() || r.At.Before(f.To))
		}
		t0, t1 := e.terms[0].ID, e.terms[1].ID
		filters := map[string]latchkey.AuditFilter{
			"all":               {},
			"newest first":      {Newest: true},
			"by action":         {Action: "session.lock"},
			"by terminal":       {Terminal: t1},
			"by actor":          {Actor: e.alice.ID},
			"terminal, action":  {Terminal: t0, Action: "session.login", Newest: true},
			"a time range":      {From: start.Add(2 * time.Minute), To: start.Add(4 * time.Minute)},
			"from":              {From: start.Add(5 * time.Minute), Newest: true},
			"a seq window":      {After: 3, Before: all[len(all)-3].Seq},
			"before, by action": {Before: all[len(all)-1].Seq, Action: "session.login"},
		}
		// pages reads f's records in pages of 2, following the cursor.
		pages := func(f latchkey.AuditFilter) []int64 {
			var got []int64
			page := f
			page.Limit = 2
			for {
				items, err := e.s.ListAudit(ctx, admin, page)
				if err != nil {
					t.Fatalf("%+v: %v", f, err)
				}
				for _, r := range items {
					got = append(got, r.Seq)
				}
				next := page.NextAudit(items)
				if next == 0 {
					return got
				}
				if page.Newest {
					page.Before = next
				} else {
					page.After = next
				}
			}
		}
		checkPages := func(name string, f latchkey.AuditFilter, got []int64) {
			var want []int64
			for _, r := range all {
				if match(f, r) {
					want = append(want, r.Seq)
				}
			}
			if f.Newest {
				slices.Reverse(want)
			}
			if len(want) == 0 {
				t.Fatalf("%s: the test selects nothing", name)
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s: got %v, want %v", name, got, want)
			}
		}
		// Both plans of a time range: with the default probe the small log
		// is read in seq order; with a probe of 1 record, through audit_at.
		type run struct {
			name string
			f    latchkey.AuditFilter
		}
		var runs []run
		for name, f := range filters {
			runs = append(runs, run{name, f})
		}
		for name, f := range filters {
			if !f.From.IsZero() || !f.To.IsZero() {
				runs = append(runs, run{name + ", through audit_at", f})
			}
		}
		for _, rn := range runs {
			name, f := rn.name, rn.f
			if strings.HasSuffix(name, "through audit_at") {
				probeMu.Lock()
				restore := sqlstore.SetAuditProbe(1)
				got := pages(f)
				restore()
				probeMu.Unlock()
				checkPages(name, f, got)
				continue
			}
			checkPages(name, f, pages(f))
		}

		delegate := latchkey.Caller{Role: latchkey.RoleDelegate, PrincipalID: "prn_d"}
		if items, err := e.s.ListAudit(ctx, delegate, latchkey.AuditFilter{Action: "session.lock"}); err != nil || len(items) != 6 {
			t.Fatalf("a delegate: %d records, %v", len(items), err)
		}
		_, err := e.s.ListAudit(ctx, latchkey.Caller{Role: latchkey.RoleUser, PrincipalID: e.alice.ID}, latchkey.AuditFilter{})
		wantCode(t, err, latchkey.EFORBIDDEN)
		_, err = e.s.ListAudit(ctx, admin, latchkey.AuditFilter{From: start, To: start})
		wantCode(t, err, latchkey.EBADREQUEST)
		_, err = e.s.ListAudit(ctx, admin, latchkey.AuditFilter{Limit: -1})
		wantCode(t, err, latchkey.EBADREQUEST)
	})
}
