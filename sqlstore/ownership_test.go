package sqlstore_test

import (
	"context"
	"reflect"
	"testing"

	"latchkey"
	"latchkey/sqlstore/sqlstoretest"
)

// Every call a terminal makes on a session, its events or an instruction
// is refused, at the store, when the thing belongs to another terminal,
// and changes nothing: the store checks ownership itself, not only the
// HTTP routes in front of it.
func TestTerminalOwnershipAtTheStore(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		ctx := context.Background()
		e := mustEnv(t, b, latchkey.DefaultSite("branch"), 2)
		mine, other := e.term(0), e.term(1)
		res, err := e.login(0, "alice", pw("alice"), false)
		if err != nil {
			t.Fatal(err)
		}
		s := res.Session
		before, err := e.s.GetSession(ctx, mine, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		now := e.clock.Now()

		_, err = e.s.StartSession(ctx, other, e.terms[0].ID, latchkey.LoginRequest{Identity: "alice", Password: pw("alice"), TimeSent: now})
		wantCode(t, err, latchkey.EFORBIDDEN)
		_, err = e.s.GetSession(ctx, other, s.ID)
		wantCode(t, err, latchkey.EFORBIDDEN)
		_, err = e.s.LockSession(ctx, other, s.ID, latchkey.LockRequest{TimeSent: now, Reason: latchkey.LockManual})
		wantCode(t, err, latchkey.EFORBIDDEN)
		_, err = e.s.UnlockSession(ctx, other, s.ID, latchkey.UnlockRequest{Identity: "alice", Password: pw("alice"), TimeSent: now})
		wantCode(t, err, latchkey.EFORBIDDEN)
		_, err = e.s.TouchSession(ctx, other, s.ID)
		wantCode(t, err, latchkey.EFORBIDDEN)
		_, err = e.s.EndSession(ctx, other, s.ID)
		wantCode(t, err, latchkey.EFORBIDDEN)
		_, err = e.s.RecordTerminalEvents(ctx, other, e.terms[0].ID, []latchkey.TerminalEvent{{ID: "ev-1", Event: latchkey.EventPositionLocked, OccurredAt: now}})
		wantCode(t, err, latchkey.EFORBIDDEN)
		_, _, err = e.s.ListTerminalEvents(ctx, other, e.terms[0].ID, latchkey.Page{})
		wantCode(t, err, latchkey.EFORBIDDEN)

		after, err := e.s.GetSession(ctx, mine, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(before, after) {
			t.Fatalf("refused calls changed the session:\n before %+v\n after  %+v", before, after)
		}
		if evs, _, err := e.s.ListTerminalEvents(ctx, mine, e.terms[0].ID, latchkey.Page{}); err != nil || len(evs) != 0 {
			t.Fatalf("terminal events after a refused upload: %v, %v", evs, err)
		}

		// An instruction for terminal 0: terminal 1 neither gets it nor
		// can answer it.
		set, err := e.s.CreateGroupSet(ctx, admin, latchkey.GroupSet{Name: "tools", Groups: []string{"wheel"}, Eligible: []string{e.alice.ID}})
		if err != nil {
			t.Fatal(err)
		}
		co, err := e.s.CreateCheckout(ctx, admin, latchkey.CheckoutCreate{GroupSet: set.ID, Terminal: e.terms[0].ID, Principal: e.alice.ID})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := e.s.PollInstructions(ctx, other, 10); err != nil || len(got) != 0 {
			t.Fatalf("another terminal polled %v, %v; want nothing", got, err)
		}
		got, err := e.s.PollInstructions(ctx, mine, 10)
		if err != nil || len(got) != 1 {
			t.Fatalf("the terminal polled %v, %v; want its instruction", got, err)
		}
		err = e.s.ReplyInstruction(ctx, other, got[0].ID, latchkey.Reply{Result: latchkey.ReplyOK})
		wantCode(t, err, latchkey.ENOTFOUND)
		if c, err := e.s.GetCheckout(ctx, admin, co.ID); err != nil || c.Status != latchkey.CheckingOut {
			t.Fatalf("after another terminal's reply: %+v, %v; want still checking_out", c, err)
		}
		if err := e.s.ReplyInstruction(ctx, mine, got[0].ID, latchkey.Reply{Result: latchkey.ReplyOK}); err != nil {
			t.Fatal(err)
		}
		if c, err := e.s.GetCheckout(ctx, admin, co.ID); err != nil || c.Status != latchkey.CheckedOut {
			t.Fatalf("after its own reply: %+v, %v; want checked_out", c, err)
		}
	})
}
