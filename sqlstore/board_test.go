package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"latchkey"
	"latchkey/sqlstore/sqlstoretest"
)

// The sessions board's store calls on both stores: each state filter
// returns exactly the terminals TerminalState puts in that state; the
// pages of the board, of a person's sessions (ACTIVE first, then newest
// first) and of their events (newest first) hold every row once; the
// access rules are the store's own.
func TestSessionBoardStore(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		e := mustEnv(t, b, latchkey.DefaultSite("s"), 4)
		ctx := context.Background()
		bob, err := e.s.CreatePrincipal(ctx, admin, latchkey.Principal{Name: "bob", Role: latchkey.RoleUser})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.AddIdentity(ctx, admin, bob.ID, "bob", pw("bob")); err != nil {
			t.Fatal(err)
		}
		// alice: three sessions ended at counter D, then one at A failed by
		// her forced log-on at B; bob locked at C.
		for i := 0; i < 3; i++ {
			r, err := e.login(3, "alice", pw("alice"), false)
			if err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(time.Minute)
			if _, err := e.s.EndSession(ctx, e.term(3), r.Session.ID); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := e.login(0, "alice", pw("alice"), false); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Minute)
		active, err := e.login(1, "alice", pw("alice"), true)
		if err != nil || len(active.Failed) != 1 {
			t.Fatalf("forced log-on: %+v %v", active, err)
		}
		rb, err := e.login(2, "bob", pw("bob"), false)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.LockSession(ctx, e.term(2), rb.Session.ID, latchkey.LockRequest{TimeSent: e.clock.Now(), Reason: "manual"}); err != nil {
			t.Fatal(err)
		}

		want := map[string]latchkey.BoardState{"counter A": latchkey.BoardFailed, "counter B": latchkey.BoardUnlocked,
			"counter C": latchkey.BoardLocked, "counter D": latchkey.BoardFree}
		var all []latchkey.BoardRow
		for after := ""; ; {
			rows, next, err := e.s.SessionBoard(ctx, admin, latchkey.BoardFilter{}, latchkey.Page{Limit: 1, After: after})
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, rows...)
			if after = next; after == "" {
				break
			}
		}
		if len(all) != 4 {
			t.Fatalf("%d terminals over the pages, want 4", len(all))
		}
		for i, r := range all {
			st, _ := r.State()
			if st != want[r.Terminal.Name] || i > 0 && all[i-1].Terminal.Name >= r.Terminal.Name {
				t.Fatalf("row %d: %s %s, want %s, in name order", i, r.Terminal.Name, st, want[r.Terminal.Name])
			}
		}
		if d := all[3]; d.Latest == nil || d.Latest.Status != latchkey.SessionEnded || d.LatestName != "alice" {
			t.Fatalf("counter D's latest session: %+v", d.Latest)
		}
		if a := all[0]; a.Latest == nil || a.LatestName != "alice" || a.Latest.EndReason != latchkey.EndForced {
			t.Fatalf("counter A's failed session: %+v", a.Latest)
		}
		for _, st := range []latchkey.BoardState{latchkey.BoardUnlocked, latchkey.BoardLocked, latchkey.BoardFailed, latchkey.BoardFree} {
			rows, _, err := e.s.SessionBoard(ctx, admin, latchkey.BoardFilter{State: string(st)}, latchkey.Page{})
			if err != nil || len(rows) != 1 {
				t.Fatalf("state %s: %d rows, %v", st, len(rows), err)
			}
			if got, _ := rows[0].State(); got != st {
				t.Fatalf("the %s filter returned %s in state %s", st, rows[0].Terminal.Name, got)
			}
		}
		user := latchkey.Caller{Role: latchkey.RoleUser, PrincipalID: e.alice.ID}
		if _, _, err := e.s.SessionBoard(ctx, user, latchkey.BoardFilter{}, latchkey.Page{}); latchkey.ErrorCode(err) != latchkey.EFORBIDDEN {
			t.Fatalf("a user's board: %v", err)
		}

		// alice's sessions, two a page: the ACTIVE one, then newest first.
		var ses []latchkey.PersonSession
		for after := ""; ; {
			rows, next, err := e.s.PersonSessions(ctx, user, e.alice.ID, latchkey.Page{Limit: 2, After: after})
			if err != nil {
				t.Fatal(err)
			}
			ses = append(ses, rows...)
			if after = next; after == "" {
				break
			}
		}
		if len(ses) != 5 || ses[0].ID != active.Session.ID || ses[0].TerminalName != "counter B" || ses[1].Status != latchkey.SessionFailed {
			t.Fatalf("alice's sessions: %+v", ses)
		}
		for i := 2; i < len(ses); i++ {
			if !ses[i].StartedAt.Before(ses[i-1].StartedAt) || ses[i].TerminalName != "counter D" {
				t.Fatalf("alice's past sessions not newest first: %+v", ses)
			}
		}
		if _, _, err := e.s.PersonSessions(ctx, user, bob.ID, latchkey.Page{}); latchkey.ErrorCode(err) != latchkey.EFORBIDDEN {
			t.Fatalf("alice reads bob's sessions: %v", err)
		}

		// Events under both of alice's login IDs, and bob's: hers only, newest first.
		at := e.clock.Now().Add(-time.Hour)
		if _, err := e.s.RecordTerminalEvents(ctx, e.term(2), e.terms[2].ID, []latchkey.TerminalEvent{
			{Event: 24, OccurredAt: at, Identity: "alice"}, {Event: 24, OccurredAt: at, Identity: "bob"},
			{Event: 26, OccurredAt: at.Add(time.Minute), Identity: "alice2", Reason: latchkey.ReasonInvalidCredentials},
			{Event: 25, OccurredAt: at.Add(2 * time.Minute), Identity: "alice"}, {Event: 24, OccurredAt: at},
		}); err != nil {
			t.Fatal(err)
		}
		var evs []latchkey.PersonEvent
		for after := ""; ; {
			rows, next, err := e.s.PersonEvents(ctx, admin, e.alice.ID, latchkey.Page{Limit: 2, After: after})
			if err != nil {
				t.Fatal(err)
			}
			evs = append(evs, rows...)
			if after = next; after == "" {
				break
			}
		}
		if len(evs) != 3 || evs[0].Event != 25 || evs[1].Identity != "alice2" || evs[2].Event != 24 || evs[0].TerminalName != "counter C" {
			t.Fatalf("alice's events: %+v", evs)
		}
		if _, _, err := e.s.PersonEvents(ctx, latchkey.Caller{Role: latchkey.RoleUser, PrincipalID: bob.ID}, e.alice.ID, latchkey.Page{}); latchkey.ErrorCode(err) != latchkey.EFORBIDDEN {
			t.Fatalf("bob reads alice's events: %v", err)
		}
		if _, _, err := e.s.PersonEvents(ctx, admin, "prn_nobody", latchkey.Page{}); latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
			t.Fatalf("an unknown person's events: %v", err)
		}
	})
}
