package apitest_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"latchkey"
	"latchkey/client"
	"latchkey/sqlstore/sqlstoretest"
)

// An admin sees the background jobs (by state, by kind, page by page),
// finds the one that failed with its error, retries it, and cancels one
// that waits; each act is audited with its actor and the job's kind, and
// a keyed repeat of a cancel changes nothing. Bad filters, wrong states,
// unknown jobs and callers other than admins are refused without change.
func TestJobsAdmin(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 1)
		ctx := context.Background()
		_, delegate := w.staff("dana", latchkey.RoleDelegate)
		_, user := w.staff("ulla", latchkey.RoleUser)
		failing, err := w.store.EnqueueJob(ctx, latchkey.JobSpec{Kind: "report.test", MaxAttempts: 1})
		if err != nil {
			t.Fatal(err)
		}
		waiting, err := w.store.EnqueueJob(ctx, latchkey.JobSpec{Kind: "other.test", RunAt: w.clock.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		claims, err := w.store.ClaimJobs(ctx, "node_x", []latchkey.JobKind{"report.test"}, 1, time.Minute)
		if err != nil || len(claims) != 1 {
			t.Fatalf("claim: %v %v", claims, err)
		}
		if err := w.store.FailJob(ctx, claims[0], errors.New("disk full")); err != nil {
			t.Fatal(err)
		}
		failed, _, err := w.admin.Jobs(ctx, latchkey.JobFilter{State: latchkey.JobFailed})
		if err != nil || len(failed) != 1 || failed[0].ID != failing.ID || failed[0].Error != "disk full" || failed[0].Node != "node_x" {
			t.Fatalf("failed jobs: %+v, %v", failed, err)
		}
		if byKind, _, _ := w.admin.Jobs(ctx, latchkey.JobFilter{Kind: "other.test"}); len(byKind) != 1 || byKind[0].ID != waiting.ID {
			t.Fatalf("jobs of a kind: %+v", byKind)
		}
		if avail, _, err := w.admin.Jobs(ctx, latchkey.JobFilter{State: latchkey.JobAvailable, Kind: "report.test"}); err != nil || len(avail) != 0 {
			t.Fatalf("available report.test jobs: %+v, %v", avail, err)
		}
		// Page by page, one job a page: each job once, in ID order.
		var seen []string
		for after := ""; ; {
			page, next, err := w.admin.Jobs(ctx, latchkey.JobFilter{Page: latchkey.Page{Limit: 1, After: after}})
			if err != nil || len(page) > 1 {
				t.Fatalf("a page of one job: %+v, %v", page, err)
			}
			for _, j := range page {
				seen = append(seen, j.ID)
			}
			if next == "" {
				break
			}
			after = next
		}
		if !slices.IsSorted(seen) || !slices.Contains(seen, failing.ID) || !slices.Contains(seen, waiting.ID) || len(slices.Compact(slices.Clone(seen))) != len(seen) {
			t.Fatalf("paged jobs: %v", seen)
		}
		before := w.snapshot()
		for _, c := range []struct{ path, field string }{{"/v1/jobs?state=bogus", "state"}, {"/v1/jobs?limit=-1", "limit"}} {
			st, body := w.adminRaw(http.MethodGet, c.path, "")
			var e struct {
				Error struct {
					Code    string         `json:"code"`
					Details map[string]any `json:"details"`
				} `json:"error"`
			}
			if err := json.Unmarshal([]byte(body), &e); st != http.StatusBadRequest || err != nil ||
				e.Error.Code != latchkey.EBADREQUEST || e.Error.Details["field"] != c.field {
				t.Errorf("GET %s: %d %s, want 400 bad_request naming %s", c.path, st, body, c.field)
			}
		}
		// Only admins: a delegate, a user and a terminal are refused every
		// job call, and nothing changes.
		for name, cl := range map[string]*client.Client{"delegate": delegate, "user": user, "terminal": w.tc[0]} {
			_, _, err := cl.Jobs(ctx, latchkey.JobFilter{})
			_, err2 := cl.Job(ctx, failing.ID)
			_, err3 := cl.RetryJob(ctx, failing.ID)
			_, err4 := cl.CancelJob(ctx, waiting.ID)
			for i, err := range []error{err, err2, err3, err4} {
				if latchkey.ErrorCode(err) != latchkey.EFORBIDDEN {
					t.Errorf("%s, job call %d: %v, want forbidden", name, i, err)
				}
			}
		}
		if _, err := w.admin.RetryJob(ctx, waiting.ID); latchkey.ErrorCode(err) != latchkey.ECONFLICT {
			t.Errorf("retry of a waiting job: %v", err)
		}
		if _, err := w.admin.Job(ctx, "job_nope"); latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
			t.Errorf("an unknown job: %v", err)
		}
		w.assertUnchanged(before, "refused job calls")
		for id, want := range map[string]latchkey.JobState{failing.ID: latchkey.JobFailed, waiting.ID: latchkey.JobAvailable} {
			if j, err := w.admin.Job(ctx, id); err != nil || j.State != want {
				t.Fatalf("job %s after the refused calls: %+v, %v, want %s", id, j, err, want)
			}
		}
		r, err := w.admin.RetryJob(ctx, failing.ID)
		if err != nil || r.State != latchkey.JobAvailable || r.Attempts != 0 {
			t.Fatalf("retry: %+v, %v", r, err)
		}
		x, err := w.admin.CancelJob(ctx, waiting.ID)
		if err != nil || x.State != latchkey.JobCancelled {
			t.Fatalf("cancel: %+v, %v", x, err)
		}
		if _, err := w.admin.CancelJob(ctx, waiting.ID); latchkey.ErrorCode(err) != latchkey.ECONFLICT {
			t.Errorf("cancel twice: %v", err)
		}
		// An Idempotency-Key makes a repeated cancel answer as the first
		// did, and cancel once.
		keyed, err := w.store.EnqueueJob(ctx, latchkey.JobSpec{Kind: "other.test"})
		if err != nil {
			t.Fatal(err)
		}
		st1, body1, _ := w.keyedRaw(w.admin.Token(), http.MethodPost, "/v1/jobs/"+keyed.ID+"/cancel", "cancel-"+keyed.ID, "")
		st2, body2, replayed := w.keyedRaw(w.admin.Token(), http.MethodPost, "/v1/jobs/"+keyed.ID+"/cancel", "cancel-"+keyed.ID, "")
		if st1 != http.StatusOK || st2 != st1 || body2 != body1 || !replayed {
			t.Errorf("a keyed cancel and its repeat: %d %s / %d %s replayed=%v", st1, body1, st2, body2, replayed)
		}
		for action, targets := range map[string][]string{"job.retry": {failing.ID}, "job.cancel": {waiting.ID, keyed.ID}, "job.fail": {failing.ID}} {
			recs, _, err := w.admin.ListAudit(ctx, latchkey.AuditFilter{Action: action})
			var got []string
			for _, r := range recs {
				got = append(got, r.Target)
			}
			if err != nil || !sameSet(got, targets) {
				t.Errorf("audit %s: targets %v, %v, want %v", action, got, err, targets)
			}
			for _, r := range recs {
				var d struct{ Kind latchkey.JobKind }
				if action != "job.fail" && (r.Actor == "" || json.Unmarshal(r.Details, &d) != nil || d.Kind == "") {
					t.Errorf("audit %s: %+v names no actor or kind", action, r)
				}
			}
		}
	})
}

// sameSet says whether a and b hold the same strings, each as often.
func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
