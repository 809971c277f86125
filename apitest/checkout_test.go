package apitest_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"latchkey"
	"latchkey/client"
	"latchkey/sqlstore/sqlstoretest"
)

// The seed's check-out flow through the API, interruption included: the
// delivered instruction locks its groups, an unanswered one is re-sent
// after the lock lapses, the reply completes the check-out, check-in is
// immediate and its removal is delivered, expiry checks in by itself, a
// never-delivered check-out needs no removal, and a long-poll wakes on a
// new check-out. Both store backends.
func TestCheckoutFlow(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 2)
		ctx := context.Background()
		set, err := w.admin.CreateGroupSet(ctx, latchkey.GroupSet{Name: "tools", Groups: []string{"wheel", "docker"}, MaxMinutes: 60, Eligible: []string{w.alice.ID}})
		if err != nil {
			t.Fatal(err)
		}
		w.mustLogin(0, "alice2", false) // her session there says which login the agent uses
		alice := w.userClient("alice")
		agent := w.tc[0]
		poll := func() []latchkey.Instruction {
			t.Helper()
			ins, err := agent.PollInstructions(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			return ins
		}
		req := latchkey.CheckoutCreate{GroupSet: set.ID, Terminal: w.terms[0].ID, Minutes: 30}

		co, err := alice.CreateCheckout(ctx, req)
		if err != nil || co.Status != latchkey.CheckingOut || !co.CanCheckIn || co.Login != "alice2" || co.Principal != w.alice.ID {
			t.Fatalf("check-out: %+v, %v; want checking_out for alice's login alice2", co, err)
		}
		ins := poll()
		if len(ins) != 1 || ins[0].Kind != latchkey.InstrCheckout || ins[0].Login != "alice2" || ins[0].Attempt != 1 ||
			!slices.Equal(ins[0].Groups, []string{"wheel", "docker"}) || !ins[0].EndsAt.Equal(co.ExpiresAt) {
			t.Fatalf("first poll: %+v", ins)
		}
		first := ins[0]
		if _, err := alice.CreateCheckout(ctx, req); latchkey.ErrorCode(err) != latchkey.ECONFLICT {
			t.Fatalf("a second check-out while the groups are locked: %v, want conflict", err)
		}
		if ins := poll(); len(ins) != 0 {
			t.Fatalf("re-delivered while locked: %+v", ins)
		}

		// No reply: after the lock lapses the instruction is sent again.
		w.clock.Advance(5 * time.Minute)
		ins = poll()
		if len(ins) != 1 || ins[0].ID != first.ID || ins[0].Attempt != 2 {
			t.Fatalf("after the lock lapsed: %+v; want the same instruction, attempt 2", ins)
		}
		if err := w.tc[1].ReplyInstruction(ctx, first.ID, latchkey.Reply{Result: "ok"}); latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
			t.Fatalf("another terminal's reply: %v, want not_found", err)
		}
		for range 2 { // the second reply is a repeat: idempotent
			if err := agent.ReplyInstruction(ctx, first.ID, latchkey.Reply{Result: "ok"}); err != nil {
				t.Fatal(err)
			}
		}
		got, err := alice.GetCheckout(ctx, co.ID)
		if err != nil || got.Status != latchkey.CheckedOut || got.Attempts != 2 || !got.CanCheckIn {
			t.Fatalf("after the reply: %+v, %v; want checked_out after 2 attempts", got, err)
		}

		// Check-in: checked in at once, the removal delivered after.
		if got, err = alice.CheckinCheckout(ctx, co.ID); err != nil || got.Status != latchkey.CheckedIn || got.CanCheckIn {
			t.Fatalf("check-in: %+v, %v", got, err)
		}
		if _, err := alice.CheckinCheckout(ctx, co.ID); latchkey.ErrorCode(err) != latchkey.ECONFLICT {
			t.Fatalf("check-in again: %v, want conflict", err)
		}
		ins = poll()
		if len(ins) != 1 || ins[0].Kind != latchkey.InstrCheckin || ins[0].Generation != first.Generation {
			t.Fatalf("after check-in: %+v; want the removal of generation %d", ins, first.Generation)
		}
		if err := agent.ReplyInstruction(ctx, ins[0].ID, latchkey.Reply{Result: "ok"}); err != nil {
			t.Fatal(err)
		}

		// A check-out checked in before its instruction left the server
		// needs no removal.
		early, err := alice.CreateCheckout(ctx, req)
		if err != nil || early.Generation <= first.Generation {
			t.Fatalf("a new check-out: %+v, %v; want a newer generation", early, err)
		}
		if _, err := alice.CheckinCheckout(ctx, early.ID); err != nil {
			t.Fatal(err)
		}
		if ins := poll(); len(ins) != 0 {
			t.Fatalf("a check-out checked in before delivery sent %+v", ins)
		}

		// Expiry checks in by itself.
		short := req
		short.Minutes = 1
		exp, err := alice.CreateCheckout(ctx, short)
		if err != nil {
			t.Fatal(err)
		}
		ins = poll()
		if err := agent.ReplyInstruction(ctx, ins[0].ID, latchkey.Reply{Result: "ok"}); err != nil {
			t.Fatal(err)
		}
		w.clock.Advance(time.Minute)
		if n, err := w.store.SweepCheckouts(ctx); err != nil || n != 1 {
			t.Fatalf("sweep: %d, %v; want one check-out expired", n, err)
		}
		if got, _ := alice.GetCheckout(ctx, exp.ID); got.Status != latchkey.CheckedIn || got.EndReason != "expired" {
			t.Fatalf("after its time: %+v; want checked_in, expired", got)
		}
		ins = poll()
		if len(ins) != 1 || ins[0].Kind != latchkey.InstrCheckin {
			t.Fatalf("after expiry: %+v; want the removal", ins)
		}
		if _, err := alice.CreateCheckout(ctx, req); latchkey.ErrorCode(err) != latchkey.ECONFLICT {
			t.Fatalf("a check-out while the removal awaits its reply: %v, want conflict", err)
		}
		if err := agent.ReplyInstruction(ctx, ins[0].ID, latchkey.Reply{Result: "ok"}); err != nil {
			t.Fatal(err)
		}

		// Who may: bob is not eligible; the terminal reads the check-out.
		w.mustLogin(1, "bob", false)
		bob := w.userClient("bob")
		if _, err := bob.CreateCheckout(ctx, latchkey.CheckoutCreate{GroupSet: set.ID, Terminal: w.terms[1].ID}); latchkey.ErrorCode(err) != latchkey.EFORBIDDEN {
			t.Fatalf("bob: %v, want forbidden", err)
		}
		if _, err := bob.GetCheckout(ctx, co.ID); latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
			t.Fatalf("bob reads alice's check-out: %v, want not_found", err)
		}
		if got, err := agent.GetCheckout(ctx, co.ID); err != nil || got.ID != co.ID {
			t.Fatalf("the terminal reads its check-out: %+v, %v", got, err)
		}

		// A long-poll returns as soon as a check-out is made.
		done := make(chan []latchkey.Instruction, 1)
		go func() {
			ins, _ := agent.PollInstructions(ctx, 20*time.Second)
			done <- ins
		}()
		time.Sleep(100 * time.Millisecond)
		start := time.Now()
		if _, err := alice.CreateCheckout(ctx, req); err != nil {
			t.Fatal(err)
		}
		select {
		case ins := <-done:
			t.Logf("long-poll answered %s after the check-out", time.Since(start))
			if len(ins) != 1 || ins[0].Kind != latchkey.InstrCheckout {
				t.Fatalf("long-poll: %+v", ins)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the long-poll did not wake for a new check-out")
		}

		var actions []latchkey.Action
		recs, _, _ := w.admin.ListAudit(ctx, latchkey.AuditFilter{Limit: 1000})
		for _, r := range recs {
			if latchkey.EventTopic(r.Action) == latchkey.TopicCheckouts && !slices.Contains(actions, r.Action) {
				actions = append(actions, r.Action)
			}
		}
		slices.Sort(actions)
		if want := []latchkey.Action{"checkout.checkin", "checkout.deliver", "checkout.expire", "checkout.reply", "checkout.request"}; !slices.Equal(actions, want) {
			t.Fatalf("audit actions %v, want %v", actions, want)
		}
	})
}

// Extending in place, up to the set's maximum, reaches the agent as an
// instruction of the same generation; the holder is warned on the stream
// before the end, and again after an extension.
func TestCheckoutExtendAndWarn(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 1)
		ctx := context.Background()
		set, err := w.admin.CreateGroupSet(ctx, latchkey.GroupSet{Name: "tools", Groups: []string{"wheel"}, MaxMinutes: 60, Eligible: []string{w.alice.ID}})
		if err != nil {
			t.Fatal(err)
		}
		w.mustLogin(0, "alice", false)
		alice := w.userClient("alice")
		events := stream(t, alice, latchkey.TopicCheckouts)
		co, err := alice.CreateCheckout(ctx, latchkey.CheckoutCreate{GroupSet: set.ID, Terminal: w.terms[0].ID, Minutes: 20})
		if err != nil {
			t.Fatal(err)
		}
		ins, _ := w.tc[0].PollInstructions(ctx, 0)
		if err := w.tc[0].ReplyInstruction(ctx, ins[0].ID, latchkey.Reply{Result: "ok"}); err != nil {
			t.Fatal(err)
		}

		w.clock.Advance(16 * time.Minute) // within the 5-minute warning
		if _, err := w.store.SweepCheckouts(ctx); err != nil {
			t.Fatal(err)
		}
		warn := nextEvent(t, events, 5*time.Second, isAction("checkout.warn", co.ID))
		if detail(warn, "principal") != w.alice.ID {
			t.Fatalf("warning %s", warn.Details)
		}
		if _, err := alice.ExtendCheckout(ctx, co.ID, 45); latchkey.ErrorCode(err) != latchkey.EBADREQUEST {
			t.Fatalf("past the set's maximum from the start: %v, want bad_request", err)
		}
		ext, err := alice.ExtendCheckout(ctx, co.ID, 30)
		if err != nil || !ext.ExpiresAt.Equal(w.clock.Now().Add(30*time.Minute)) || ext.Status != latchkey.CheckedOut {
			t.Fatalf("extend: %+v, %v", ext, err)
		}
		ins, _ = w.tc[0].PollInstructions(ctx, 0)
		if len(ins) != 1 || ins[0].Kind != latchkey.InstrCheckout || ins[0].Generation != co.Generation || !ins[0].EndsAt.Equal(ext.ExpiresAt) {
			t.Fatalf("the extension reaches the agent as %+v", ins)
		}
		if err := w.tc[0].ReplyInstruction(ctx, ins[0].ID, latchkey.Reply{Result: "ok"}); err != nil {
			t.Fatal(err)
		}
		w.clock.Advance(26 * time.Minute)
		if n, err := w.store.SweepCheckouts(ctx); err != nil || n != 1 {
			t.Fatalf("sweep: %d, %v; want the warning again", n, err)
		}
		nextEvent(t, events, 5*time.Second, isAction("checkout.warn", co.ID))
		w.clock.Advance(5 * time.Minute)
		if _, err := w.store.SweepCheckouts(ctx); err != nil {
			t.Fatal(err)
		}
		nextEvent(t, events, 5*time.Second, isAction("checkout.expire", co.ID))
		if _, err := alice.ExtendCheckout(ctx, co.ID, 5); latchkey.ErrorCode(err) != latchkey.ECONFLICT {
			t.Fatalf("extending a checked-in check-out: %v, want conflict", err)
		}
	})
}

// Admins see each terminal's online state, outstanding instructions and
// locked groups.
func TestTerminalAgentState(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 2)
		ctx := context.Background()
		set, err := w.admin.CreateGroupSet(ctx, latchkey.GroupSet{Name: "tools", Groups: []string{"wheel", "docker"}})
		if err != nil {
			t.Fatal(err)
		}
		if tm, err := w.admin.GetTerminal(ctx, w.terms[0].ID); err != nil || tm.Online || len(tm.LockedGroups) != 0 {
			t.Fatalf("before any poll: %+v, %v; want offline, nothing locked", tm, err)
		}
		co, err := w.admin.CreateCheckout(ctx, latchkey.CheckoutCreate{GroupSet: set.ID, Terminal: w.terms[0].ID, Principal: w.bob.ID})
		if err != nil {
			t.Fatal(err)
		}
		if ins, _ := w.admin.TerminalInstructions(ctx, w.terms[0].ID); len(ins) != 1 || ins[0].State != latchkey.InstrPending || ins[0].Checkout != co.ID {
			t.Fatalf("outstanding before delivery: %+v", ins)
		}
		ins, _ := w.tc[0].PollInstructions(ctx, 0)
		tm, err := w.admin.GetTerminal(ctx, w.terms[0].ID)
		if err != nil || !tm.Online || strings.Join(tm.LockedGroups, ",") != "docker,wheel" {
			t.Fatalf("after delivery: %+v, %v; want online with docker and wheel locked", tm, err)
		}
		out, _ := w.admin.TerminalInstructions(ctx, w.terms[0].ID)
		if len(out) != 1 || out[0].State != latchkey.InstrDelivered || out[0].LockedUntil == nil || out[0].Attempt != 1 {
			t.Fatalf("outstanding after delivery: %+v", out)
		}
		if err := w.tc[0].ReplyInstruction(ctx, ins[0].ID, latchkey.Reply{Result: "ok"}); err != nil {
			t.Fatal(err)
		}
		if tm, _ := w.admin.GetTerminal(ctx, w.terms[0].ID); len(tm.LockedGroups) != 0 {
			t.Fatalf("after the reply: %+v; want nothing locked", tm)
		}
		if out, _ := w.admin.TerminalInstructions(ctx, w.terms[0].ID); len(out) != 0 {
			t.Fatalf("outstanding after the reply: %+v", out)
		}
		w.clock.Advance(2 * time.Minute)
		if tm, _ := w.admin.GetTerminal(ctx, w.terms[0].ID); tm.Online {
			t.Fatal("still online two minutes after the last poll")
		}
		if _, err := w.tc[0].TerminalInstructions(ctx, w.terms[0].ID); latchkey.ErrorCode(err) != latchkey.EFORBIDDEN {
			t.Fatalf("a terminal reads the admin view: %v, want forbidden", err)
		}
	})
}

// An agent long-polling node 2 is woken when a check-out is made through
// node 1 (PostgreSQL NOTIFY names the terminal), and only then.
func TestLongPollAcrossNodes(t *testing.T) {
	b := sqlstoretest.Postgres()
	w := newWorld(t, b, client.SiteCreate{}, 2)
	ctx := context.Background()
	set, err := w.admin.CreateGroupSet(ctx, latchkey.GroupSet{Name: "tools", Groups: []string{"wheel"}})
	if err != nil {
		t.Fatal(err)
	}
	node2 := w.addNode()
	agent := client.New(node2, client.WithToken(w.tc[0].Token()))
	done := make(chan []latchkey.Instruction, 1)
	go func() {
		ins, _ := agent.PollInstructions(ctx, 20*time.Second)
		done <- ins
	}()
	time.Sleep(200 * time.Millisecond)
	// Another terminal's check-out does not answer this poll.
	if _, err := w.admin.CreateCheckout(ctx, latchkey.CheckoutCreate{GroupSet: set.ID, Terminal: w.terms[1].ID, Principal: w.bob.ID}); err != nil {
		t.Fatal(err)
	}
	select {
	case ins := <-done:
		t.Fatalf("woken by another terminal's check-out: %+v", ins)
	case <-time.After(300 * time.Millisecond):
	}
	start := time.Now()
	if _, err := w.admin.CreateCheckout(ctx, latchkey.CheckoutCreate{GroupSet: set.ID, Terminal: w.terms[0].ID, Principal: w.bob.ID}); err != nil {
		t.Fatal(err)
	}
	select {
	case ins := <-done:
		t.Logf("node 2's long-poll answered %s after the check-out on node 1", time.Since(start))
		if len(ins) != 1 || time.Since(start) > time.Second {
			t.Fatalf("long-poll across nodes: %+v after %s", ins, time.Since(start))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("node 2's long-poll was not woken by node 1's check-out")
	}
}
