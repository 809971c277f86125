package apitest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"latchkey"
	"latchkey/agent"
	"latchkey/client"
	"latchkey/sqlstore/sqlstoretest"
)

// A reconciliation through the API with real agents (file executor) on
// both stores: a grant lost on one workstation and a member nobody
// granted on another are reported, corrected with fix through ordinary
// instructions that each agent applies once, and a second reconciliation
// finds nothing.
func TestReconcileWithRealAgents(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 2)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		set, err := w.admin.CreateGroupSet(ctx, latchkey.GroupSet{Name: "tools", Groups: []string{"wheel", "docker"}, Eligible: []string{w.alice.ID}})
		if err != nil {
			t.Fatal(err)
		}
		var files []*agent.FileExecutor
		for i := range w.terms {
			_, ex := runFileAgent(t, ctx, w, i)
			files = append(files, ex)
		}
		members := func(i int) string {
			m, err := files[i].Members()
			if err != nil {
				t.Fatal(err)
			}
			return strings.Join(m, ",")
		}
		eventually := func(what string, ok func() bool) {
			t.Helper()
			for deadline := time.Now().Add(15 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("never: %s", what)
				}
			}
		}
		w.mustLogin(0, "alice", false)
		co, err := w.userClient("alice").CreateCheckout(ctx, latchkey.CheckoutCreate{GroupSet: set.ID, Terminal: w.terms[0].ID, Minutes: 30})
		if err != nil {
			t.Fatal(err)
		}
		eventually("the grant applied", func() bool { return members(0) == "docker alice,wheel alice" })
		// Drift made behind latchkey's back.
		if err := os.WriteFile(files[0].Path, []byte("docker alice\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(files[1].Path, []byte("wheel mallory\nvideo mallory\n"), 0o644); err != nil {
			t.Fatal(err)
		}

		reconcile := func(params string) latchkey.ReconcileResult {
			t.Helper()
			x, err := w.admin.CreateTask(ctx, latchkey.TaskCreate{Kind: latchkey.TaskReconcile, Params: json.RawMessage(params)})
			if err != nil {
				t.Fatal(err)
			}
			if err := w.store.RunDueJobs(ctx, "node_test", latchkey.JobTask); err != nil {
				t.Fatal(err)
			}
			got, err := w.admin.GetTask(ctx, x.ID)
			if err != nil || got.Status != latchkey.TaskDone || got.Progress != (latchkey.TaskProgress{Done: 2, Total: 2}) {
				t.Fatalf("task: %+v, %v", got, err)
			}
			var out bytes.Buffer
			if ct, err := w.admin.TaskResult(ctx, x.ID, &out); err != nil || ct != "application/json" {
				t.Fatalf("result: %q, %v", ct, err)
			}
			var r latchkey.ReconcileResult
			if err := json.Unmarshal(out.Bytes(), &r); err != nil {
				t.Fatal(err)
			}
			return r
		}
		r := reconcile(`{"fix":true,"wait":"20s"}`)
		if got := fmt.Sprintf("%d/%d answered, %d drifted, unexpected %d, missing %d, fixes %d", r.Answered, r.Terminals, r.Drifted, r.Unexpected, r.Missing, r.Fixes); got != "2/2 answered, 2 drifted, unexpected 1, missing 1, fixes 2" {
			t.Fatalf("%s: %+v", got, r)
		}
		if fmt.Sprint(r.Drift[0].Missing, r.Drift[1].Unexpected) != "[{wheel alice}] [{wheel mallory}]" && fmt.Sprint(r.Drift[1].Missing, r.Drift[0].Unexpected) != "[{wheel alice}] [{wheel mallory}]" {
			t.Fatalf("drift: %+v", r.Drift)
		}
		eventually("the corrections applied", func() bool {
			return members(0) == "docker alice,wheel alice" && members(1) == "video mallory"
		})
		// Each correction applied once: its line in each agent's log.
		for _, d := range r.Drift {
			i := 0
			if d.Terminal == w.terms[1].ID {
				i = 1
			}
			want := map[int]string{0: "+ wheel alice ", 1: "- wheel mallory "}[i] + d.Fixes[0] + "\n"
			log, _ := os.ReadFile(files[i].Path + ".log")
			if n := strings.Count(string(log), want); n != 1 || len(d.Fixes) != 1 {
				t.Fatalf("terminal %d applied %q %d times:\n%s", i, want, n, log)
			}
		}
		if c, _ := w.admin.GetCheckout(ctx, co.ID); c.Status != latchkey.CheckedOut {
			t.Fatalf("the check-out: %+v", c)
		}
		eventually("the corrections answered", func() bool {
			ins0, _ := w.admin.TerminalInstructions(ctx, w.terms[0].ID)
			ins1, _ := w.admin.TerminalInstructions(ctx, w.terms[1].ID)
			return len(ins0) == 0 && len(ins1) == 0
		})
		if r := reconcile(`{"wait":"20s"}`); r.Drifted != 0 || r.Answered != 2 || r.Fixes != 0 {
			t.Fatalf("a second reconciliation: %+v", r)
		}
	})
}
