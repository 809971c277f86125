package apitest_test

import (
	"context"
	"testing"

	"latchkey"
	"latchkey/client"
	"latchkey/sqlstore/sqlstoretest"
)

// EUM-CE-CL-20 through the API, both stores: a log-on while the person's
// identity is in use (a locked session) at another branch answers 201
// with the notice in_use_other_branch naming that session; at another
// counter of the same branch there is no notice; a forced log-on that
// fails the other branch's unlocked session names nothing.
func TestLoginNoticeInUseAtAnotherBranch(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 2)
		ctx := context.Background()
		other, err := w.admin.CreateSite(ctx, client.SiteCreate{Name: "other branch"})
		if err != nil {
			t.Fatal(err)
		}
		far, err := w.admin.RegisterTerminal(ctx, "far counter", other.ID)
		if err != nil {
			t.Fatal(err)
		}
		farClient := client.New(w.url, client.WithToken(far.Token))
		atFar := func(force bool) (*latchkey.LoginResult, error) {
			return farClient.StartSession(ctx, far.ID, latchkey.LoginRequest{Identity: "alice", Password: pw("alice"), Force: force, TimeSent: w.clock.Now()})
		}

		first := w.mustLogin(0, "alice", false)
		if len(first.Notices) != 0 {
			t.Fatalf("the first log-on has notices: %+v", first.Notices)
		}
		w.mustLock(0, first.Session.ID)
		r, err := atFar(false)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Notices) != 1 || r.Notices[0].Code != latchkey.NoticeInUseOtherBranch || len(r.Notices[0].Sessions) != 1 ||
			r.Notices[0].Sessions[0].ID != first.Session.ID || r.Notices[0].Sessions[0].TerminalID != w.terms[0].ID {
			t.Fatalf("log-on at another branch: %+v", r.Notices)
		}
		if s := w.session(first.Session.ID); s.Status != latchkey.SessionActive || s.LockedAt == nil {
			t.Fatalf("the locked session at the first branch: %+v", s)
		}
		// The same branch: no notice (the far session is unlocked, so lock it first).
		w.mustLock(0, first.Session.ID)
		if _, err := farClient.LockSession(ctx, r.Session.ID, latchkey.LockRequest{TimeSent: w.clock.Now(), Reason: "manual"}); err != nil {
			t.Fatal(err)
		}
		same := w.mustLogin(1, "alice", false)
		if len(same.Notices) != 1 || len(same.Notices[0].Sessions) != 1 || same.Notices[0].Sessions[0].ID != r.Session.ID {
			t.Fatalf("at the first branch again, the far branch's locked session is the notice: %+v", same.Notices)
		}
		// Forced at the far branch: the first branch's unlocked session is
		// failed, and a failed one is not in use.
		if _, err := farClient.EndSession(ctx, r.Session.ID); err != nil {
			t.Fatal(err)
		}
		w.mustLock(0, first.Session.ID)
		forced, err := atFar(true)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range forced.Notices {
			for _, s := range n.Sessions {
				if s.ID == same.Session.ID {
					t.Fatalf("a session the forced log-on failed is named: %+v", forced)
				}
			}
		}
		if len(forced.Notices) != 1 || len(forced.Notices[0].Sessions) != 1 || forced.Notices[0].Sessions[0].ID != first.Session.ID {
			t.Fatalf("forced at the far branch: %+v (failed %v)", forced.Notices, forced.Failed)
		}
	})
}
