package apitest_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"latchkey"
	"latchkey/client"
	"latchkey/sqlstore/sqlstoretest"
)

// An admin sees the background jobs, finds the one that failed with its
// error, retries it, and cancels one that waits; each act is audited, and
// bad filters and wrong states are refused without change.
func TestJobsAdmin(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 0)
		ctx := context.Background()
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
		before := w.snapshot()
		for _, path := range []string{"/v1/jobs?state=bogus", "/v1/jobs?limit=-1"} {
			if st, body := w.adminRaw(http.MethodGet, path, ""); st != http.StatusBadRequest {
				t.Errorf("GET %s: %d %s", path, st, body)
			}
		}
		if _, err := w.admin.RetryJob(ctx, waiting.ID); latchkey.ErrorCode(err) != latchkey.ECONFLICT {
			t.Errorf("retry of a waiting job: %v", err)
		}
		if _, err := w.admin.Job(ctx, "job_nope"); latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
			t.Errorf("an unknown job: %v", err)
		}
		w.assertUnchanged(before, "refused job calls")
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
		for action, target := range map[string]string{"job.retry": failing.ID, "job.cancel": waiting.ID, "job.fail": failing.ID} {
			recs, _, err := w.admin.ListAudit(ctx, latchkey.AuditFilter{Action: action})
			if err != nil || len(recs) != 1 || recs[0].Target != target {
				t.Errorf("audit %s: %+v, %v", action, recs, err)
			}
		}
	})
}
