package apitest_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"latchkey"
	"latchkey/client"
	"latchkey/sqlstore/sqlstoretest"
)

// POST /v1/agent/journal on both stores: each offline session is
// recorded once as a standalone session (re-uploads change nothing),
// ended ones count towards the quota, and in-progress ones get their
// reconnect verdict: an invalid identity is logged off at once, an over-
// quota person is warned and then logged off, a clash with a reservation
// booked meanwhile is reported. The end of an online session that went on
// offline is recorded at the time it happened.
func TestJournalUpload(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		quota, warn := 60, 30
		w := newWorld(t, b, client.SiteCreate{SiteSettings: latchkey.SiteSettings{DailyQuotaMinutes: &quota, WarningSeconds: &warn}}, 3)
		ctx := context.Background()
		at := func(d time.Duration) *time.Time { x := w.clock.Now().Add(d); return &x }
		upload := func(term int, es ...latchkey.JournalEntry) []latchkey.JournalResult {
			t.Helper()
			res, err := w.tc[term].UploadJournal(ctx, es)
			if err != nil || len(res) != len(es) {
				t.Fatalf("upload: %+v, %v", res, err)
			}
			return res
		}
		// Alice logs on online (so her verifier is cached at the site) and
		// terminal 0's agent fetches its policy before going offline: its
		// entries of alice's sessions count as checked (issue 10, hole 4).
		first := w.mustLogin(2, "alice", false)
		if _, err := w.tc[2].EndSession(ctx, first.Session.ID); err != nil {
			t.Fatal(err)
		}
		if !has(t, w.tc[0], "alice") {
			t.Fatal("alice's verifier is not in terminal 0's policy")
		}
		w.clock.Advance(3 * time.Hour)

		// Ended offline sessions: ok, recorded once, counted.
		ended := []latchkey.JournalEntry{
			{ID: "off-1", Identity: "alice", StartedAt: *at(-2 * time.Hour), EndedAt: at(-100 * time.Minute), Standalone: true, Verified: true},
			{ID: "off-2", Identity: "nobody", StartedAt: *at(-90 * time.Minute), EndedAt: at(-80 * time.Minute), Standalone: true},
		}
		res := upload(0, ended...)
		if res[0].Verdict != latchkey.VerdictOK || res[0].Session != "off-1" || res[1].Verdict != latchkey.VerdictOK || res[1].Session != "" {
			t.Fatalf("ended entries: %+v", res)
		}
		audit := w.auditCount()
		again := upload(0, ended...)
		if again[0] != res[0] || again[1] != res[1] || w.auditCount() != audit {
			t.Fatalf("a re-upload changed something: %+v vs %+v, audit %d → %d", again, res, audit, w.auditCount())
		}
		got := w.session("off-1")
		if !got.Standalone || got.Status != latchkey.SessionEnded || !got.StartedAt.Equal(ended[0].StartedAt) || !got.EndedAt.Equal(*ended[0].EndedAt) {
			t.Fatalf("the recorded session: %+v", got)
		}
		list, _, err := w.admin.ListPrincipalSessions(ctx, w.alice.ID, "", latchkey.Page{})
		if err != nil || len(list) != 2 || (list[0].ID != "off-1" && list[1].ID != "off-1") {
			t.Fatalf("alice's sessions: %+v, %v", list, err)
		}

		// Alice used 20 offline minutes; 35 online make 55 of 60.
		s := w.mustLogin(1, "alice", false)
		w.clock.Advance(35 * time.Minute)
		if _, err := w.tc[1].EndSession(ctx, s.Session.ID); err != nil {
			t.Fatal(err)
		}
		// In progress, started 10 minutes ago offline: over quota.
		over := latchkey.JournalEntry{ID: "off-3", Identity: "alice", StartedAt: *at(-10 * time.Minute), Standalone: true, Verified: true}
		r := upload(0, over)[0]
		if r.Verdict != latchkey.VerdictWarnThenLogoff || r.Reason != latchkey.EQUOTAEXCEEDED || r.WarningSeconds != 30 {
			t.Fatalf("over quota: %+v, want warn_then_logoff after 30 s", r)
		}
		if s := w.session("off-3"); s.Status != latchkey.SessionActive || s.EndsAt == nil || !s.EndsAt.Equal(w.clock.Now().Add(30*time.Second)) {
			t.Fatalf("the over-quota session: %+v", s)
		}
		w.clock.Advance(10 * time.Second)
		if r2 := upload(0, over)[0]; r2.Verdict != latchkey.VerdictWarnThenLogoff || r2.WarningSeconds != 20 {
			t.Fatalf("re-upload during the warning: %+v, want 20 s left", r2)
		}
		w.clock.Advance(20 * time.Second)
		if _, err := w.store.ApplyTimeouts(ctx); err != nil {
			t.Fatal(err)
		}
		if s := w.session("off-3"); s.Status != latchkey.SessionExpired || s.EndReason != latchkey.EQUOTAEXCEEDED {
			t.Fatalf("after the warning: %s/%s, want expired/quota_exceeded", s.Status, s.EndReason)
		}
		if _, err := w.login(1, "alice", false); latchkey.ErrorCode(err) != latchkey.EQUOTAEXCEEDED {
			t.Fatalf("offline minutes count towards the quota: %v, want quota_exceeded", err)
		}

		// With standalone_auth any, an identity that is not valid is
		// logged off at once: unknown, or a password the agent could not
		// check and did not send (after an agent restart: unchecked), or a
		// wrong one.
		if _, err := w.admin.UpdateSite(ctx, w.site.ID, latchkey.SiteUpdate{SiteSettings: latchkey.SiteSettings{StandaloneAuth: client.Ptr(latchkey.StandaloneAuthAny)}}); err != nil {
			t.Fatal(err)
		}
		for i, c := range []struct {
			e      latchkey.JournalEntry
			reason string
		}{
			{latchkey.JournalEntry{ID: "off-4", Identity: "nobody", StartedAt: *at(-time.Minute), Standalone: true}, "invalid_identity"},
			{latchkey.JournalEntry{ID: "off-5", Identity: "bob", StartedAt: *at(-time.Minute), Standalone: true}, "unchecked"},
			{latchkey.JournalEntry{ID: "off-6", Identity: "bob", StartedAt: *at(-time.Minute), Standalone: true, Password: "wrong"}, "invalid_identity"},
		} {
			if r := upload(2, c.e)[0]; r.Verdict != latchkey.VerdictLogoff || r.Reason != c.reason {
				t.Fatalf("entry %d (%s): %+v, want logoff (%s)", i, c.e.ID, r, c.reason)
			}
		}
		if s := w.session("off-6"); s.Status != latchkey.SessionEnded || s.EndReason != "invalid_identity" {
			t.Fatalf("the logged-off session: %+v", s)
		}
		// The right password, sent from the agent's memory: ok, and the
		// session goes on online with its limits.
		r = upload(2, latchkey.JournalEntry{ID: "off-7", Identity: "bob", StartedAt: *at(-5 * time.Minute), Standalone: true, Password: pw("bob")})[0]
		if r.Verdict != latchkey.VerdictOK {
			t.Fatalf("bob with his password: %+v", r)
		}
		if s := w.session("off-7"); s.Status != latchkey.SessionActive || s.EndsAt == nil || s.Limit != latchkey.LimitQuota {
			t.Fatalf("bob's session online: %+v, want active with his quota as limit", s)
		}
		// The terminal logs it out online, like any session.
		if _, err := w.tc[2].EndSession(ctx, "off-7"); err != nil {
			t.Fatal(err)
		}

		// A reservation booked while the terminal was offline: an offline
		// session that ran into it is kept and the clash reported.
		if _, err := w.admin.CreateReservation(ctx, latchkey.Reservation{Terminal: w.terms[1].ID, Principal: w.alice.ID,
			Start: w.clock.Now().Add(-20 * time.Minute), Minutes: 60}); err != nil {
			t.Fatal(err)
		}
		r = upload(1, latchkey.JournalEntry{ID: "off-8", Identity: "bob", StartedAt: *at(-30 * time.Minute), EndedAt: at(-10 * time.Minute), Standalone: true, Verified: true})[0]
		if r.Verdict != latchkey.VerdictOK {
			t.Fatalf("the clashing entry: %+v", r)
		}
		clashes, _, err := w.admin.ListAudit(ctx, latchkey.AuditFilter{Action: "session.clash"})
		if err != nil || len(clashes) != 1 || clashes[0].Target != "off-8" {
			t.Fatalf("clash records: %+v, %v", clashes, err)
		}

		// An online session that went on offline ends when the agent saw it end.
		w.person("dave", false, "dave")
		s = w.mustLogin(0, "dave", false)
		endedAt := w.clock.Now().Add(5 * time.Minute)
		w.clock.Advance(30 * time.Minute)
		if r := upload(0, latchkey.JournalEntry{ID: "off-9", Identity: "dave", Session: s.Session.ID, StartedAt: s.Session.StartedAt, EndedAt: &endedAt})[0]; r.Verdict != latchkey.VerdictOK {
			t.Fatalf("the continued session: %+v", r)
		}
		if got := w.session(s.Session.ID); got.Status != latchkey.SessionEnded || !got.EndedAt.Equal(endedAt) {
			t.Fatalf("the continued session: %+v, want ended at %s", got, endedAt)
		}

		// Bad input changes nothing: another terminal's session, a bad
		// entry, a person's token.
		other := w.mustLogin(2, "bob", false)
		audit = w.auditCount()
		if _, err := w.tc[0].UploadJournal(ctx, []latchkey.JournalEntry{
			{ID: "off-10", Identity: "alice", StartedAt: *at(-time.Minute), Standalone: true, Verified: true},
			{ID: "off-11", Identity: "bob", Session: other.Session.ID, StartedAt: other.Session.StartedAt, EndedAt: at(0)},
		}); latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
			t.Fatalf("ending another terminal's session: %v, want not_found", err)
		}
		if _, err := w.tc[0].UploadJournal(ctx, []latchkey.JournalEntry{{ID: "bad id", Identity: "alice", StartedAt: *at(0)}}); latchkey.ErrorCode(err) != latchkey.EBADREQUEST {
			t.Fatalf("a bad entry id: %v, want bad_request", err)
		}
		if st, _ := w.adminRaw(http.MethodPost, "/v1/agent/journal", `{"entries":[]}`); st != http.StatusForbidden {
			t.Fatalf("a person's token uploads a journal: %d, want 403", st)
		}
		if w.auditCount() != audit || w.session(other.Session.ID).Status != latchkey.SessionActive {
			t.Fatal("a refused upload changed something")
		}
	})
}

func (w *world) auditCount() int {
	w.t.Helper()
	recs, _, err := w.admin.ListAudit(context.Background(), latchkey.AuditFilter{Limit: 1000})
	if err != nil {
		w.t.Fatal(err)
	}
	return len(recs)
}

// Terminals that upload at once, sharing people in different orders, all
// get through (no deadlock between their transactions), and every entry
// is recorded once. Both stores.
func TestJournalConcurrentUploads(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 4)
		ctx := context.Background()
		people := []string{"alice", "alice2", "bob"}
		for i := range 30 {
			name := fmt.Sprintf("p%02d", i)
			w.person(name, false, name)
			people = append(people, name)
		}
		base := w.clock.Now().Add(-20 * time.Hour)
		retries := w.store.Retries()
		for round := range 3 {
			errs := make(chan error, len(w.tc))
			for ti := range w.tc {
				go func() {
					rnd := rand.New(rand.NewPCG(uint64(round), uint64(ti)))
					var es []latchkey.JournalEntry
					for i := range 300 {
						start := base.Add(time.Duration(round*300+i) * time.Minute)
						end := start.Add(30 * time.Second)
						es = append(es, latchkey.JournalEntry{ID: fmt.Sprintf("r%d-t%d-%d", round, ti, i),
							Identity: people[rnd.IntN(len(people))], StartedAt: start, EndedAt: &end, Standalone: true, Verified: true})
					}
					_, err := w.tc[ti].UploadJournal(ctx, es)
					errs <- err
				}()
			}
			for range w.tc {
				if err := <-errs; err != nil {
					t.Fatalf("round %d: a concurrent upload: %v", round, err)
				}
			}
		}
		if n := w.store.Retries() - retries; n != 0 {
			t.Fatalf("the uploads were rerun %d times (deadlocks between them)", n)
		}
		total := 0
		for _, who := range []*latchkey.Principal{w.alice, w.bob} {
			list, _, err := w.admin.ListPrincipalSessions(ctx, who.ID, "", latchkey.Page{Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			total += len(list)
		}
		if total == 0 {
			t.Fatal("no sessions recorded")
		}
	})
}
