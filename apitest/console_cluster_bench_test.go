package apitest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"latchkey"
	"latchkey/sqlstore/sqlstoretest"
)

// BenchmarkConsoleCluster: Cluster and tasks' pages at the server's door
// on the store of BenchmarkConsolePages (100k principals, 1M past
// sessions, `latchkey bench seed`'s data) with three nodes beating, 2,000
// tasks scheduled ahead, and a report of yesterday and a reconciliation
// (every terminal unreachable: a group set managed everywhere, no agent)
// that have run; for the admin's browser session. Reported: p50 and p99
// in ms. Goal (issue 13): p99 < 50 ms. Run:
//
//	LATCHKEY_TEST_POSTGRES=... go test -run '^$' -bench ConsoleCluster -benchtime 300x ./apitest
func BenchmarkConsoleCluster(b *testing.B) {
	for _, be := range sqlstoretest.Backends() {
		b.Run(be.Name, func(b *testing.B) {
			ctx := context.Background()
			s := seededStore(b, be)
			admin := latchkey.Caller{PrincipalID: "prn_bench", Role: latchkey.RoleAdmin}
			for i := range 3 {
				if err := s.Heartbeat(ctx, latchkey.Node{ID: fmt.Sprintf("node_bench%d", i), Addr: fmt.Sprintf("10.0.0.%d:8443", i+1)}); err != nil {
					b.Fatal(err)
				}
			}
			later := time.Now().Add(time.Hour)
			for range 2000 {
				if _, err := s.CreateTask(ctx, admin, latchkey.TaskCreate{Kind: latchkey.TaskAuditSeal, RunAt: &later}); err != nil {
					b.Fatal(err)
				}
			}
			day := time.Now().UTC().AddDate(0, 0, -1).Format(latchkey.TaskDateLayout)
			report, err := s.CreateTask(ctx, admin, latchkey.TaskCreate{Kind: latchkey.TaskReport, Params: json.RawMessage(`{"from":"` + day + `","to":"` + day + `"}`)})
			if err != nil {
				b.Fatal(err)
			}
			// A group set latchkey manages everywhere and no agent: every
			// terminal is unreachable, the longest drift table.
			if _, err := s.CreateGroupSet(ctx, admin, latchkey.GroupSet{Name: "bench tools", Groups: []string{"wheel"}}); err != nil {
				b.Fatal(err)
			}
			reconcile, err := s.CreateTask(ctx, admin, latchkey.TaskCreate{Kind: latchkey.TaskReconcile, Params: json.RawMessage(`{"wait":"1s"}`)})
			if err != nil {
				b.Fatal(err)
			}
			if err := s.RunDueJobs(ctx, "node_bench0", latchkey.JobTask); err != nil {
				b.Fatal(err)
			}
			for _, id := range []string{report.ID, reconcile.ID} {
				if x, err := s.Task(ctx, admin, id); err != nil || x.Status != latchkey.TaskDone {
					b.Fatalf("task %s: %+v, %v", id, x, err)
				}
			}
			rep, err := s.TaskResult(ctx, admin, report.ID)
			if err != nil {
				b.Fatal(err)
			}
			rec, err := s.TaskResult(ctx, admin, reconcile.ID)
			if err != nil {
				b.Fatal(err)
			}
			b.Logf("the report of %s: %d CSV lines; the reconciliation: %s", day, bytes.Count(rep.Body, []byte("\n")), rec.Body[:min(len(rec.Body), 200)])
			br := newBrowser(b, consoleServer(b, s))
			br.logOn("admin", adminPassword)
			for _, page := range []struct{ name, path string }{{"/cluster", "/cluster"}, {"/cluster/live", "/cluster/live"},
				{"/tasks/report", "/tasks/" + report.ID}, {"/tasks/reconcile", "/tasks/" + reconcile.ID}} {
				timePage(b, br, page.name, page.path, "")
			}
		})
	}
}
