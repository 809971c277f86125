package apitest_test

import (
	"context"
	"testing"
	"time"

	"latchkey"
	"latchkey/client"
	"latchkey/sqlstore/sqlstoretest"
)

// TestScenario1NodesAreStateless (failover-scenarios.txt scenario 1: a form
// being edited when its node dies) runs two `latchkey serve` processes on one
// PostgreSQL schema. A session's life is split across them (created and
// touched on node 1, unlocked and ended on node 2, each change visible on
// the other node at once); user tokens from either node work on the
// other; node 2 refuses a concurrent login because of a session node 1
// made. Then node 1 is killed with SIGKILL and node 2 alone still serves
// every session and terminal, with the rules carrying on from the shared
// state.
func TestScenario1NodesAreStateless(t *testing.T) {
	t.Parallel()
	latchkeyBinary(t) // skips in -short mode before any set-up
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	storeURL := sqlstoretest.PostgresSchemaURL(t)
	n1 := startServer(t, storeURL, t.TempDir())
	n2 := startServer(t, storeURL, t.TempDir())
	if n1.URL == n2.URL {
		t.Fatalf("both nodes on %s", n1.URL)
	}

	// User tokens are store state: one from node 1 works on node 2 and
	// the other way round.
	a1 := n1.adminLogin(t)
	a2 := n2.client(a1.Token())
	if _, _, err := n1.client(n2.adminLogin(t).Token()).ListSites(ctx, latchkey.Page{}); err != nil {
		t.Fatalf("node 2's token on node 1: %v", err)
	}
	site, err := a2.CreateSite(ctx, client.SiteCreate{Name: "two nodes"})
	if err != nil {
		t.Fatalf("node 1's token on node 2: %v", err)
	}
	termA, err := a1.RegisterTerminal(ctx, "counter A", site.ID)
	if err != nil {
		t.Fatal(err)
	}
	termB, err := a2.RegisterTerminal(ctx, "counter B", site.ID)
	if err != nil {
		t.Fatal(err)
	}
	alice, err := a1.CreatePrincipal(ctx, latchkey.Principal{Name: "alice", Role: latchkey.RoleUser})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a2.AddIdentity(ctx, alice.ID, "alice", pw("alice")); err != nil {
		t.Fatal(err)
	}
	// Each terminal token, on each node.
	tA1, tA2 := n1.client(termA.Token), n2.client(termA.Token)
	tB2 := n2.client(termB.Token)
	now := func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }
	creds := func(force bool) latchkey.LoginRequest {
		return latchkey.LoginRequest{Identity: "alice", Password: pw("alice"), Force: force, TimeSent: now()}
	}
	// seen reads a session on node c and checks the state another node
	// answered is what this one sees.
	seen := func(c *client.Client, node string, want latchkey.Session) {
		t.Helper()
		got, err := c.GetSession(ctx, want.ID)
		if err != nil {
			t.Fatalf("%s: get session %s: %v", node, want.ID, err)
		}
		if d := sessionDiff(*got, want); d != "" {
			t.Fatalf("%s sees %s: %s\n got  %s\n want %s", node, want.ID, d, fmtSession(*got), fmtSession(want))
		}
	}

	// One session, its calls spread over both nodes.
	r, err := tA1.StartSession(ctx, termA.ID, creds(false))
	if err != nil {
		t.Fatalf("login on node 1: %v", err)
	}
	s1 := r.Session
	seen(a2, "node 2", s1)
	sent := now()
	locked, err := tA1.LockSession(ctx, s1.ID, latchkey.LockRequest{TimeSent: sent, Reason: "manual"})
	if err != nil {
		t.Fatalf("lock on node 1: %v", err)
	}
	if locked.LockedAt == nil || !sameTime(*locked.LockedAt, sent) {
		t.Fatalf("lock answered locked_at %s, want %s", fmtTimePtr(locked.LockedAt), sent)
	}
	seen(a2, "node 2", *locked)
	unlocked, err := tA2.UnlockSession(ctx, s1.ID, latchkey.UnlockRequest{Identity: "alice", Password: pw("alice"), TimeSent: now()})
	if err != nil {
		t.Fatalf("unlock on node 2 of a session locked on node 1: %v", err)
	}
	if unlocked.Status != latchkey.SessionActive || unlocked.LockedAt != nil {
		t.Fatalf("unlock answered %s", fmtSession(*unlocked))
	}
	seen(a1, "node 1", *unlocked)
	touched, err := tA1.TouchSession(ctx, s1.ID)
	if err != nil {
		t.Fatalf("touch on node 1: %v", err)
	}
	if touched.LastActivityAt.Before(unlocked.LastActivityAt) {
		t.Fatalf("touch moved last_activity_at back: %s → %s", unlocked.LastActivityAt, touched.LastActivityAt)
	}
	seen(a2, "node 2", *touched)
	ended, err := tA2.EndSession(ctx, s1.ID)
	if err != nil {
		t.Fatalf("logout on node 2: %v", err)
	}
	if ended.Status != latchkey.SessionEnded || ended.EndedAt == nil {
		t.Fatalf("logout answered %s", fmtSession(*ended))
	}
	seen(a1, "node 1", *ended)

	// Node 2 refuses alice at B because of her unlocked session node 1
	// made at A, names it, and changes nothing.
	r, err = tA1.StartSession(ctx, termA.ID, creds(false))
	if err != nil {
		t.Fatalf("second login on node 1: %v", err)
	}
	s2 := r.Session
	_, err = tB2.StartSession(ctx, termB.ID, creds(false))
	if latchkey.ErrorCode(err) != latchkey.ECONCURRENTSESSION {
		t.Fatalf("login at B on node 2 = %v, want concurrent_session", err)
	}
	if refs := client.ConflictSessions(err); len(refs) != 1 || refs[0].ID != s2.ID || refs[0].TerminalID != termA.ID {
		t.Fatalf("concurrent_session lists %+v, want only %s at %s", refs, s2.ID, termA.ID)
	}
	seen(a2, "node 2", s2)
	all, _, err := a2.ListPrincipalSessions(ctx, alice.ID, "", latchkey.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 {
		t.Fatalf("alice has %d sessions after the refusal, want 2: %+v", len(all), all)
	}

	// Node 1 dies. Node 2 serves everything, with the old tokens.
	n1.kill()
	if _, err := a1.GetSession(ctx, s2.ID); !isTransportError(err) {
		t.Fatalf("node 1 still answers after SIGKILL: %v", err)
	}
	if err := n2.client("").Ready(ctx); err != nil {
		t.Fatalf("node 2 readyz after node 1 died: %v", err)
	}
	seen(a2, "node 2", *ended)
	seen(a2, "node 2", s2)
	seen(tA2, "node 2 (terminal A's token)", s2)
	terms, _, err := a2.ListTerminals(ctx, latchkey.Page{})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, tm := range terms {
		ids[tm.ID] = true
	}
	for _, tm := range []*latchkey.Terminal{termA, termB} {
		if !ids[tm.ID] {
			t.Errorf("node 2 lists terminals %v, missing %s", ids, tm.ID)
		}
		if got, err := n2.client(tm.Token).GetTerminal(ctx, tm.ID); err != nil || got.SiteID != site.ID {
			t.Errorf("node 2, terminal %s with its own token: %+v, %v", tm.Name, got, err)
		}
	}
	// The rules carry on from the shared state: locking A's session (made
	// on the dead node) lets alice log on at B without force.
	if _, err := tA2.LockSession(ctx, s2.ID, latchkey.LockRequest{TimeSent: now(), Reason: "manual"}); err != nil {
		t.Fatalf("lock on node 2 of node 1's session: %v", err)
	}
	r, err = tB2.StartSession(ctx, termB.ID, creds(false))
	if err != nil {
		t.Fatalf("login at B on node 2 next to the locked session: %v", err)
	}
	if len(r.Failed) != 0 {
		t.Fatalf("login at B failed %v", r.Failed)
	}
	active, _, err := a2.ListPrincipalSessions(ctx, alice.ID, latchkey.SessionActive, latchkey.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if len(active) != 2 || procCountUnlocked(active) != 1 {
		t.Fatalf("alice's active sessions: %+v, want A locked and B unlocked", active)
	}
	if v, err := a2.VerifyAudit(ctx); err != nil || !v.OK {
		t.Fatalf("audit verify on node 2: %+v, %v", v, err)
	}
}
