package apitest_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"latchkey"
	"latchkey/agent"
	"latchkey/client"
	"latchkey/sqlstore/sqlstoretest"
)

// The agent (in-process, file executor) against a real server on both
// stores: a check-out is applied and confirmed, a check-in removed, a
// re-delivered instruction is answered from the journal without being
// applied again, and an expired membership is removed by the agent's own
// clock before the server's check-in arrives, which then changes nothing.
func TestAgentAppliesEachChangeOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 1)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		set, err := w.admin.CreateGroupSet(ctx, latchkey.GroupSet{Name: "tools", Groups: []string{"wheel", "docker"}, Eligible: []string{w.alice.ID}})
		if err != nil {
			t.Fatal(err)
		}
		w.mustLogin(0, "alice", false)
		alice := w.userClient("alice")
		a, ex := runFileAgent(t, ctx, w, 0)

		status := func(id string, want latchkey.CheckoutStatus) {
			t.Helper()
			deadline := time.Now().Add(10 * time.Second)
			for {
				co, err := alice.GetCheckout(ctx, id)
				if err == nil && co.Status == want {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("check-out %s: %+v, %v; want %s", id, co, err, want)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		members := func() string {
			t.Helper()
			m, err := ex.Members()
			if err != nil {
				t.Fatal(err)
			}
			return strings.Join(m, ",")
		}
		logLines := func() []string {
			b, _ := os.ReadFile(ex.Path + ".log")
			return strings.Fields(strings.ReplaceAll(string(b), "\n", " | "))
		}

		co, err := alice.CreateCheckout(ctx, latchkey.CheckoutCreate{GroupSet: set.ID, Terminal: w.terms[0].ID, Minutes: 30})
		if err != nil {
			t.Fatal(err)
		}
		status(co.ID, latchkey.CheckedOut)
		if got := members(); got != "docker alice,wheel alice" {
			t.Fatalf("after the check-out the file holds %q", got)
		}

		// A re-delivery (the reply was lost) is answered from the journal.
		recs, _, _ := w.admin.ListAudit(ctx, latchkey.AuditFilter{Action: "checkout.deliver", Limit: 1000})
		var insID string
		for _, r := range recs {
			if r.Target == co.ID {
				var d struct{ Instruction string }
				if err := json.Unmarshal(r.Details, &d); err != nil {
					t.Fatal(err)
				}
				insID = d.Instruction
			}
		}
		before := len(logLines())
		if err := a.Handle(ctx, latchkey.Instruction{ID: insID, Kind: latchkey.InstrCheckout, Login: "alice", Groups: set.Groups,
			Generation: co.Generation, EndsAt: co.ExpiresAt}); err != nil {
			t.Fatal(err)
		}
		if after := len(logLines()); after != before {
			t.Fatalf("a re-delivered instruction was applied again: %v", logLines())
		}

		if _, err := alice.CheckinCheckout(ctx, co.ID); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for members() != "" {
			if time.Now().After(deadline) {
				t.Fatalf("after check-in the file still holds %q", members())
			}
			time.Sleep(10 * time.Millisecond)
		}

		// The removal's reply unlocks the groups for the next check-out.
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			recs, _, _ := w.admin.ListAudit(ctx, latchkey.AuditFilter{Action: "checkout.reply", Limit: 1000})
			if slices.ContainsFunc(recs, func(r latchkey.AuditRecord) bool {
				return r.Target == co.ID && strings.Contains(string(r.Details), `"kind":"checkin"`)
			}) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the removal was never answered")
			}
		}

		// Expiry by the agent's own clock, then the server's check-in.
		short, err := alice.CreateCheckout(ctx, latchkey.CheckoutCreate{GroupSet: set.ID, Terminal: w.terms[0].ID, Minutes: 1})
		if err != nil {
			t.Fatal(err)
		}
		status(short.ID, latchkey.CheckedOut)
		w.clock.Advance(time.Minute)
		if err := a.ExpireNow(ctx); err != nil {
			t.Fatal(err)
		}
		if got := members(); got != "" {
			t.Fatalf("after the end, by the agent's clock: %q", got)
		}
		if _, err := w.store.SweepCheckouts(ctx); err != nil {
			t.Fatal(err)
		}
		status(short.ID, latchkey.CheckedIn)
		time.Sleep(200 * time.Millisecond) // the removal is delivered and answered
		adds, removes := 0, 0
		for _, l := range strings.Split(strings.Join(logLines(), " "), "|") {
			switch f := strings.Fields(l); {
			case len(f) == 0:
			case f[0] == "+":
				adds++
			case f[0] == "-":
				removes++
			}
		}
		if adds != 4 || removes != 4 {
			t.Fatalf("applications: %d adds, %d removes; want each of 2 groups added twice and removed twice, once each:\n%v", adds, removes, logLines())
		}
	})
}

// runFileAgent runs terminal i's agent in-process (file executor, the
// world's clock) until ctx ends; the test's cleanup waits for it.
func runFileAgent(t *testing.T, ctx context.Context, w *world, i int) (*agent.Agent, *agent.FileExecutor) {
	t.Helper()
	dir := t.TempDir()
	j, err := agent.OpenJournal(filepath.Join(dir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	ex := &agent.FileExecutor{Path: filepath.Join(dir, "groups")}
	a := &agent.Agent{Client: w.tc[i], Journal: j, Executor: ex, Wait: 2 * time.Second, Now: w.clock.Now}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; j.Close() })
	return a, ex
}
