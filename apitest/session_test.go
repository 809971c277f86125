package apitest_test

import (
	"context"
	"testing"
	"time"

	"latchkey"
	"latchkey/client"
	"latchkey/sqlstore/sqlstoretest"
)

// Each scenario of API.md "Terminal sessions" through the HTTP API, on
// both backends. Every refusal is checked to change nothing.

func TestLoginConcurrentSessionAndForce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 3)
		first := w.mustLogin(0, "alice", false)
		if first.Session.Status != latchkey.SessionActive || first.Session.LockedAt != nil || len(first.Failed) != 0 {
			t.Fatalf("first login: %+v", first)
		}
		before := w.snapshot()
		_, err := w.login(1, "alice", false)
		wantCode(t, err, latchkey.ECONCURRENTSESSION)
		if ids := sessionIDs(err); len(ids) != 1 || !ids[first.Session.ID] {
			t.Fatalf("details.sessions = %v, want [%s]", ids, first.Session.ID)
		}
		// The details name the other terminal, so a counter or a logon
		// screen can say where the session is.
		if ss := client.ConflictSessions(err); len(ss) != 1 || ss[0].TerminalName != "counter 0" || ss[0].TerminalID != w.terms[0].ID {
			t.Fatalf("details.sessions = %+v, want the session at counter 0", ss)
		}
		w.assertUnchanged(before, "refused login")

		forced := w.mustLogin(1, "alice", true)
		if len(forced.Failed) != 1 || forced.Failed[0] != first.Session.ID {
			t.Fatalf("forced login failed %v, want [%s]", forced.Failed, first.Session.ID)
		}
		if s := w.session(first.Session.ID); s.Status != latchkey.SessionFailed {
			t.Fatalf("forced-off session is %s, want failed", s.Status)
		}
		// The forced-off terminal is told on every call, and recovers by a
		// new login (whose clean-up needs nothing: the session is failed).
		ctx := context.Background()
		_, err = w.lock(0, first.Session.ID)
		wantCode(t, err, latchkey.ESESSIONFAILED)
		_, err = w.tc[0].TouchSession(ctx, first.Session.ID)
		wantCode(t, err, latchkey.ESESSIONFAILED)
		_, err = w.unlock(0, first.Session.ID, "alice", false)
		wantCode(t, err, latchkey.ESESSIONFAILED)
		_, err = w.tc[0].EndSession(ctx, first.Session.ID)
		wantCode(t, err, latchkey.ESESSIONFAILED)
		recs, _, _ := w.admin.ListAudit(ctx, latchkey.AuditFilter{Action: "session.failed"})
		if len(recs) != 1 || recs[0].Target != first.Session.ID {
			t.Fatalf("session.failed audit: %+v", recs)
		}
	})
}

func TestLockedSessionsDoNotConflict(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 4)
		a := w.mustLogin(0, "alice", false)
		w.mustLock(0, a.Session.ID)
		c := w.mustLogin(1, "alice", false) // A locked: allowed without force
		if len(c.Failed) != 0 {
			t.Fatalf("login next to a locked session failed %v", c.Failed)
		}
		w.mustLock(1, c.Session.ID)
		d := w.mustLogin(2, "alice", false) // two locked, one unlocked
		// Force with a mixture: only the unlocked session is failed.
		before := w.snapshot()
		_, err := w.login(3, "alice", false)
		wantCode(t, err, latchkey.ECONCURRENTSESSION)
		if ids := sessionIDs(err); len(ids) != 1 || !ids[d.Session.ID] {
			t.Fatalf("conflict lists %v, want only the unlocked %s", ids, d.Session.ID)
		}
		w.assertUnchanged(before, "refused login")
		e := w.mustLogin(3, "alice", true)
		if len(e.Failed) != 1 || e.Failed[0] != d.Session.ID {
			t.Fatalf("force failed %v, want [%s]", e.Failed, d.Session.ID)
		}
		for _, id := range []string{a.Session.ID, c.Session.ID} {
			if s := w.session(id); s.Status != latchkey.SessionActive || s.LockedAt == nil {
				t.Fatalf("locked session %s became %s/locked=%v", id, s.Status, s.LockedAt != nil)
			}
		}
	})
}

func TestTerminalCleanupOnLogin(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 1)
		bob := w.mustLogin(0, "bob", false)
		w.mustLock(0, bob.Session.ID) // locked or not, it is cleaned up
		a := w.mustLogin(0, "alice", false)
		if len(a.Failed) != 1 || a.Failed[0] != bob.Session.ID {
			t.Fatalf("clean-up failed %v, want [%s]", a.Failed, bob.Session.ID)
		}
		if s := w.session(bob.Session.ID); s.Status != latchkey.SessionFailed || s.EndReason != latchkey.EndTerminalCleanup {
			t.Fatalf("previous session: %s/%s", s.Status, s.EndReason)
		}
		// Logging on again at the same terminal cleans up one's own session.
		again := w.mustLogin(0, "alice", false)
		if len(again.Failed) != 1 || again.Failed[0] != a.Session.ID {
			t.Fatalf("own clean-up failed %v", again.Failed)
		}
	})
}

func TestOneIdentityPerPrincipal(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 3)
		a := w.mustLogin(0, "alice", false)
		w.mustLock(0, a.Session.ID)
		before := w.snapshot()
		for _, force := range []bool{false, true} {
			_, err := w.login(1, "alice2", force)
			wantCode(t, err, latchkey.EIDENTITYINUSE)
			if ids := sessionIDs(err); !ids[a.Session.ID] {
				t.Fatalf("identity_in_use lists %v", ids)
			}
		}
		w.assertUnchanged(before, "identity_in_use")
		w.mustLogin(1, "alice", false) // the same identity is fine
		// Once every session of the first identity is gone, the other works.
		ctx := context.Background()
		items, _, _ := w.admin.ListPrincipalSessions(ctx, w.alice.ID, latchkey.SessionActive, latchkey.Page{})
		for _, s := range items {
			term := 0
			if s.TerminalID == w.terms[1].ID {
				term = 1
			}
			if _, err := w.tc[term].EndSession(ctx, s.ID); err != nil {
				t.Fatal(err)
			}
		}
		w.mustLogin(2, "alice2", false)
	})
}

func TestLegacySiteLockedSessionsConflict(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{SiteSettings: latchkey.SiteSettings{ConcurrencyControls: client.Ptr(false)}}, 2)
		a := w.mustLogin(0, "alice", false)
		w.mustLock(0, a.Session.ID)
		before := w.snapshot()
		_, err := w.login(1, "alice", false)
		wantCode(t, err, latchkey.ECONCURRENTSESSION)
		w.assertUnchanged(before, "legacy refusal")
		r := w.mustLogin(1, "alice", true)
		if len(r.Failed) != 1 || r.Failed[0] != a.Session.ID {
			t.Fatalf("legacy force failed %v", r.Failed)
		}
	})
}

func TestGlobalPrincipalIsExempt(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 3)
		w.person("gina", true, "gina")
		for i := 0; i < 3; i++ {
			if r := w.mustLogin(i, "gina", false); len(r.Failed) != 0 {
				t.Fatalf("global login failed %v", r.Failed)
			}
		}
	})
}

func TestUnlockRules(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 2)
		a := w.mustLogin(0, "alice", false)
		w.mustLock(0, a.Session.ID)
		c := w.mustLogin(1, "alice", false)

		// Wrong password: refused, event 26 recorded, nothing else changes.
		before := w.snapshot()
		_, err := w.tc[0].UnlockSession(context.Background(), a.Session.ID,
			latchkey.UnlockRequest{Identity: "alice", Password: "nope", TimeSent: w.clock.Now()})
		wantCode(t, err, latchkey.EINVALIDCREDENTIALS)
		// Another person's identity cannot unlock the counter.
		_, err = w.unlock(0, a.Session.ID, "bob", false)
		wantCode(t, err, latchkey.EFORBIDDEN)
		// Another unlocked session of the principal: concurrent_session.
		_, err = w.unlock(0, a.Session.ID, "alice", false)
		wantCode(t, err, latchkey.ECONCURRENTSESSION)
		if ids := sessionIDs(err); len(ids) != 1 || !ids[c.Session.ID] {
			t.Fatalf("unlock conflict lists %v", ids)
		}
		w.assertUnchanged(before, "refused unlocks")
		evs, _, err := w.admin.ListTerminalEvents(context.Background(), w.terms[0].ID, latchkey.Page{})
		if err != nil || len(evs) != 1 || evs[0].Event != 26 || evs[0].Reason != "invalid_credentials" {
			t.Fatalf("event 26 after a wrong password: %+v %v", evs, err)
		}

		// Any identity of the principal may unlock; force fails the other.
		s, err := w.unlock(0, a.Session.ID, "alice2", true)
		if err != nil || s.LockedAt != nil || s.Status != latchkey.SessionActive {
			t.Fatalf("forced unlock: %+v %v", s, err)
		}
		if x := w.session(c.Session.ID); x.Status != latchkey.SessionFailed || x.EndReason != latchkey.EndForced {
			t.Fatalf("other session after forced unlock: %s/%s", x.Status, x.EndReason)
		}
	})
}

func TestLockUsesTimeSentAndOwnTerminal(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 2)
		a := w.mustLogin(0, "alice", false)
		sent := time.Date(2026, 11, 23, 10, 30, 15, 250000000, time.FixedZone("CET", 3600))
		before := w.snapshot()
		_, err := w.tc[1].LockSession(context.Background(), a.Session.ID, latchkey.LockRequest{TimeSent: sent, Reason: "manual"})
		wantCode(t, err, latchkey.EFORBIDDEN)
		w.assertUnchanged(before, "another terminal's lock")
		s, err := w.tc[0].LockSession(context.Background(), a.Session.ID, latchkey.LockRequest{TimeSent: sent, Reason: "inactivity"})
		if err != nil {
			t.Fatal(err)
		}
		if s.LockedAt == nil || !s.LockedAt.Equal(sent) || s.LockedAt.Location() != time.UTC {
			t.Fatalf("locked_at = %v, want %v in UTC", s.LockedAt, sent.UTC())
		}
		// A repeated lock keeps the first lock time.
		s, err = w.tc[0].LockSession(context.Background(), a.Session.ID, latchkey.LockRequest{TimeSent: sent.Add(time.Hour), Reason: "manual"})
		if err != nil || !s.LockedAt.Equal(sent) {
			t.Fatalf("relock: %v %v", s.LockedAt, err)
		}
		// Logout, then lock: conflict (not active).
		if _, err := w.tc[0].EndSession(context.Background(), a.Session.ID); err != nil {
			t.Fatal(err)
		}
		_, err = w.lock(0, a.Session.ID)
		wantCode(t, err, latchkey.ECONFLICT)
		if s, err := w.tc[0].EndSession(context.Background(), a.Session.ID); err != nil || s.Status != latchkey.SessionEnded {
			t.Fatalf("second logout: %+v %v", s, err)
		}
	})
}

func TestIdleTimeoutsThroughAPI(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{SiteSettings: latchkey.SiteSettings{InactivityLockMinutes: client.Ptr(5), ForcedTimeoutMinutes: client.Ptr(30)}}, 2)
		a := w.mustLogin(0, "alice", false)
		w.clock.Advance(4 * time.Minute)
		if _, err := w.tc[0].TouchSession(context.Background(), a.Session.ID); err != nil {
			t.Fatal(err)
		}
		w.clock.Advance(4 * time.Minute) // 8 since login, 4 since the touch
		_, err := w.login(1, "alice", false)
		wantCode(t, err, latchkey.ECONCURRENTSESSION)
		w.clock.Advance(time.Minute) // 5 since the touch: inactivity lock
		w.mustLogin(1, "alice", false)
		if s := w.session(a.Session.ID); s.Status != latchkey.SessionActive || s.LockedAt == nil {
			t.Fatalf("after inactivity: %s locked=%v", s.Status, s.LockedAt != nil)
		}
		w.clock.Advance(30 * time.Minute)
		_, err = w.tc[0].TouchSession(context.Background(), a.Session.ID)
		wantCode(t, err, latchkey.ECONFLICT)
		if s := w.session(a.Session.ID); s.Status != latchkey.SessionExpired {
			t.Fatalf("after forced timeout: %s", s.Status)
		}
	})
}

func TestLockoutThroughAPI(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 1)
		ctx := context.Background()
		bad := latchkey.LoginRequest{Identity: "bob", Password: "wrong", TimeSent: w.clock.Now()}
		for i := 0; i < 4; i++ {
			_, err := w.tc[0].StartSession(ctx, w.terms[0].ID, bad)
			wantCode(t, err, latchkey.EINVALIDCREDENTIALS)
		}
		_, err := w.tc[0].StartSession(ctx, w.terms[0].ID, bad)
		wantCode(t, err, latchkey.EACCOUNTLOCKED)
		_, err = w.login(0, "bob", false)
		wantCode(t, err, latchkey.EACCOUNTLOCKED)
		if _, ok := latchkey.ErrorDetails(err)["until"]; !ok {
			t.Fatal("account_locked has no details.until")
		}
		// Disabled principal: account_disabled, after a right password.
		if _, err := w.admin.UpdatePrincipal(ctx, w.alice.ID, latchkey.PrincipalUpdate{Disabled: client.Ptr(true)}); err != nil {
			t.Fatal(err)
		}
		_, err = w.login(0, "alice", false)
		wantCode(t, err, latchkey.EACCOUNTDISABLED)
		w.clock.Advance(15 * time.Minute)
		w.mustLogin(0, "bob", false)
		refused, _, _ := w.admin.ListAudit(ctx, latchkey.AuditFilter{Action: "session.login_refused", Limit: 100})
		if len(refused) != 7 {
			t.Fatalf("%d session.login_refused records, want 7", len(refused))
		}
	})
}

func TestDeferredEventsAndAuditVerify(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 2)
		ctx := context.Background()
		occ := w.clock.Now().Add(-20 * time.Minute)
		n, err := w.tc[0].PostTerminalEvents(ctx, w.terms[0].ID, []latchkey.TerminalEvent{
			{ID: "t0-1", Event: 24, OccurredAt: occ},
			{ID: "t0-2", Event: 25, OccurredAt: occ.Add(time.Minute), Identity: "alice"},
			{ID: "t0-3", Event: 26, OccurredAt: occ.Add(2 * time.Minute), Identity: "alice", Reason: "account_locked"},
		})
		if err != nil || n != 3 {
			t.Fatalf("post events: %d %v", n, err)
		}
		_, err = w.tc[1].PostTerminalEvents(ctx, w.terms[0].ID, []latchkey.TerminalEvent{{Event: 24, OccurredAt: occ}})
		wantCode(t, err, latchkey.EFORBIDDEN)
		evs, _, err := w.admin.ListTerminalEvents(ctx, w.terms[0].ID, latchkey.Page{})
		if err != nil || len(evs) != 3 || !evs[0].OccurredAt.Equal(occ) || !evs[0].ReceivedAt.Equal(w.clock.Now()) {
			t.Fatalf("stored events: %+v %v", evs, err)
		}
		v, err := w.admin.VerifyAudit(ctx)
		if err != nil || !v.OK || v.Records == 0 {
			t.Fatalf("verify: %+v %v", v, err)
		}
	})
}
