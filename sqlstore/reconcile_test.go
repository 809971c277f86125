package sqlstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"latchkey"
	"latchkey/sqlstore/sqlstoretest"
)

// A reconciliation asks each terminal for its members of the managed
// groups, a batch at a time, reports the drift, and with fix corrects it
// through ordinary instructions: a grant lost on the workstation comes
// back through its check-out, a member nobody granted is removed, and a
// terminal that does not answer in time is reported unreachable. Its
// inventories lock no group meanwhile.
func TestReconcileFindsAndFixesDrift(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		e := newReqEnv(t, b, false)
		ctx := context.Background()
		terms := slices.Sorted(slices.Values(e.terms)) // the order a reconciliation goes in
		agent := func(i int) latchkey.Caller { return latchkey.Caller{Role: latchkey.RoleTerminal, TerminalID: terms[i]} }
		co, err := e.s.CreateCheckout(ctx, admin, latchkey.CheckoutCreate{GroupSet: e.set.ID, Terminal: terms[0], Principal: e.ann.PrincipalID, Minutes: 30})
		if err != nil {
			t.Fatal(err)
		}
		e.reply(t, terms[0], latchkey.ReplyOK)
		for i := range terms { // every agent polls: online
			if _, err := e.s.PollInstructions(ctx, agent(i), 10); err != nil {
				t.Fatal(err)
			}
		}

		x, err := e.s.CreateTask(ctx, admin, latchkey.TaskCreate{Kind: latchkey.TaskReconcile, Params: json.RawMessage(`{"fix":true,"batch":2,"wait":"1m"}`)})
		if err != nil {
			t.Fatal(err)
		}
		ran := make(chan error, 1)
		go func() { ran <- e.s.RunDueJobs(ctx, "node_test") }()
		inventory := func(i int) latchkey.Instruction {
			t.Helper()
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				ins, err := e.s.PollInstructions(ctx, agent(i), 10)
				if err != nil {
					t.Fatal(err)
				}
				if len(ins) == 1 && ins[0].Kind == latchkey.InstrInventory && fmt.Sprint(ins[0].Groups) == "[wheel]" && ins[0].Task == x.ID && ins[0].Signature != "" {
					return ins[0]
				}
				if len(ins) > 0 {
					t.Fatalf("terminal %d: %+v, want its inventory", i, ins)
				}
			}
			t.Fatalf("terminal %d was never asked", i)
			return latchkey.Instruction{}
		}
		// The first batch: terminal 0 lost ann's grant, terminal 1 has
		// a member nobody granted.
		in0, in1 := inventory(0), inventory(1)
		if err := e.s.ReplyInstruction(ctx, agent(0), in0.ID, latchkey.Reply{Result: latchkey.ReplyOK, Members: map[string][]string{"wheel": {}}}); err != nil {
			t.Fatal(err)
		}
		if err := e.s.ReplyInstruction(ctx, agent(1), in1.ID, latchkey.Reply{Result: latchkey.ReplyOK, Members: map[string][]string{"wheel": {"zed"}, "sudo": {"zed"}}}); err != nil {
			t.Fatal(err)
		}
		// The second batch: terminal 2 is asked and never answers. Its
		// inventory locks nothing: a check-out there goes ahead.
		inventory(2)
		if _, err := e.s.CreateCheckout(ctx, admin, latchkey.CheckoutCreate{GroupSet: e.set.ID, Terminal: terms[2], Principal: e.ann.PrincipalID, Minutes: 5}); err != nil {
			t.Fatalf("a check-out while an inventory is out: %v", err)
		}
		if got, _ := e.s.Task(ctx, admin, x.ID); got.Status != latchkey.TaskRunning || got.Progress != (latchkey.TaskProgress{Done: 2, Total: 3}) {
			t.Fatalf("after the first batch: %+v", got)
		}
		e.clock.Advance(time.Minute)
		if err := <-ran; err != nil {
			t.Fatal(err)
		}
		got, err := e.s.Task(ctx, admin, x.ID)
		if err != nil || got.Status != latchkey.TaskDone || got.Progress != (latchkey.TaskProgress{Done: 3, Total: 3}) {
			t.Fatalf("done: %+v, %v", got, err)
		}
		res, err := e.s.TaskResult(ctx, admin, x.ID)
		var r latchkey.ReconcileResult
		if err != nil || res.ContentType != "application/json" || json.Unmarshal(res.Body, &r) != nil {
			t.Fatalf("result: %s, %v", res.Body, err)
		}
		sum := fmt.Sprintf("%d terminals, %d answered, %d unreachable, %d drifted, %d unexpected, %d missing, %d fixes",
			r.Terminals, r.Answered, r.Unreachable, r.Drifted, r.Unexpected, r.Missing, r.Fixes)
		if sum != "3 terminals, 2 answered, 1 unreachable, 2 drifted, 1 unexpected, 1 missing, 2 fixes" || len(r.Drift) != 3 {
			t.Fatalf("%s: %s", sum, res.Body)
		}
		if d := r.Drift[0]; fmt.Sprint(d.Missing) != "[{wheel ann}]" || len(d.Unexpected) != 0 || len(d.Fixes) != 1 {
			t.Fatalf("terminal 0: %+v", d)
		}
		if d := r.Drift[1]; fmt.Sprint(d.Unexpected) != "[{wheel zed}]" || len(d.Fixes) != 1 {
			t.Fatalf("terminal 1 (sudo is not managed, not looked at): %+v", d)
		}
		if d := r.Drift[2]; !d.Unreachable || d.Drifted() {
			t.Fatalf("terminal 2: %+v", d)
		}

		// The corrections are ordinary instructions, marked and signed.
		fix := func(i int) latchkey.Instruction {
			t.Helper()
			ins, err := e.s.PollInstructions(ctx, agent(i), 10)
			if err != nil || len(ins) != 1 || !ins[0].Fix || ins[0].Task != x.ID || ins[0].Signature == "" {
				t.Fatalf("terminal %d: %+v, %v; want one correction", i, ins, err)
			}
			return ins[0]
		}
		regrant := fix(0)
		if regrant.Kind != latchkey.InstrCheckout || regrant.Login != "ann" || fmt.Sprint(regrant.Groups) != "[wheel]" ||
			regrant.Generation != co.Generation || !regrant.EndsAt.Equal(co.ExpiresAt) || regrant.ID != r.Drift[0].Fixes[0] {
			t.Fatalf("the re-grant: %+v (check-out %+v)", regrant, co)
		}
		removal := fix(1)
		if removal.Kind != latchkey.InstrCheckin || removal.Login != "zed" || fmt.Sprint(removal.Groups) != "[wheel]" {
			t.Fatalf("the removal: %+v", removal)
		}
		for i, in := range []latchkey.Instruction{regrant, removal} {
			if err := e.s.ReplyInstruction(ctx, agent(i), in.ID, latchkey.Reply{Result: latchkey.ReplyOK}); err != nil {
				t.Fatal(err)
			}
		}
		if c, _ := e.s.GetCheckout(ctx, admin, co.ID); c.Status != latchkey.CheckedOut {
			t.Fatalf("the check-out after its re-grant: %+v", c)
		}
		if ins, _ := e.s.PollInstructions(ctx, agent(2), 10); len(ins) != 1 || ins[0].Kind != latchkey.InstrCheckout || ins[0].Fix {
			t.Fatalf("terminal 2 (its inventory cancelled, its check-out's grant due): %+v", ins)
		}
		// Two inventories and the removal are answered to the task; the
		// re-grant is answered to its check-out, like any grant.
		counts := map[latchkey.Action]int{}
		recs, err := e.s.ListAudit(ctx, admin, latchkey.AuditFilter{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range recs {
			if rec.Target == x.ID {
				counts[rec.Action]++
			}
		}
		if counts[latchkey.ActionTaskFix] != 2 || counts[latchkey.ActionTaskReply] != 3 || counts[latchkey.ActionTaskDone] != 1 {
			t.Fatalf("audit of the task: %v", counts)
		}
	})
}

// A terminal whose agent has not polled lately is reported unreachable
// at once, not waited for: a reconciliation of thousands of terminals
// does not wait out every batch for the few that are switched off.
func TestReconcileDoesNotWaitForOfflineAgents(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		e := newReqEnv(t, b, false)
		ctx := context.Background()
		x, err := e.s.CreateTask(ctx, admin, latchkey.TaskCreate{Kind: latchkey.TaskReconcile, Params: json.RawMessage(`{"wait":"10m"}`)})
		if err != nil {
			t.Fatal(err)
		}
		ran := make(chan error, 1)
		go func() { ran <- e.s.RunDueJobs(ctx, "node_test") }()
		select {
		case err := <-ran:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the reconciliation waits for agents that are offline")
		}
		res, err := e.s.TaskResult(ctx, admin, x.ID)
		var r latchkey.ReconcileResult
		if err != nil || json.Unmarshal(res.Body, &r) != nil || r.Terminals != 3 || r.Unreachable != 3 || r.Answered != 0 {
			t.Fatalf("result: %s, %v", res.Body, err)
		}
		for _, term := range e.terms {
			if ins, _ := e.s.PollInstructions(ctx, latchkey.Caller{Role: latchkey.RoleTerminal, TerminalID: term}, 10); len(ins) != 0 {
				t.Fatalf("an offline terminal was asked after all: %+v", ins)
			}
		}
	})
}
