package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"latchkey"
	"latchkey/sqlstore/sqlstoretest"
)

// The node's token cache answers repeated requests without a store read,
// and on the node that revokes, a revocation is refused at once: a
// log-out, a principal disabled, a password changed (the other tokens),
// a terminal's token rotated.
func TestAuthCacheOnOneNode(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		ctx := context.Background()
		e := mustEnv(t, b, latchkey.DefaultSite("branch"), 1)
		tok, err := e.s.Login(ctx, "alice", pw("alice"))
		if err != nil {
			t.Fatal(err)
		}
		authOK := func(token, what string) latchkey.Caller {
			t.Helper()
			c, err := e.s.Authenticate(ctx, token)
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			return c
		}
		refused := func(token, what string) {
			t.Helper()
			if _, err := e.s.Authenticate(ctx, token); latchkey.ErrorCode(err) != latchkey.EUNAUTHENTICATED {
				t.Fatalf("%s: %v, want unauthenticated at once", what, err)
			}
		}
		first := authOK(tok.Token, "first")
		reads := e.s.AuthReads()
		for range 50 {
			if c := authOK(tok.Token, "again"); c != first {
				t.Fatalf("cached caller %+v, want %+v", c, first)
			}
		}
		if n := e.s.AuthReads() - reads; n > 1 {
			t.Fatalf("%d store reads for 50 requests of one token, want at most 1 (the cache)", n)
		}
		if err := e.s.Logout(ctx, tok.Token); err != nil {
			t.Fatal(err)
		}
		refused(tok.Token, "after log-out")

		// Disabled: every token of the person.
		tok, _ = e.s.Login(ctx, "alice", pw("alice"))
		authOK(tok.Token, "logged on again")
		yes := true
		if _, err := e.s.UpdatePrincipal(ctx, admin, e.alice.ID, latchkey.PrincipalUpdate{Disabled: &yes}); err != nil {
			t.Fatal(err)
		}
		refused(tok.Token, "after disabling")
		no := false
		if _, err := e.s.UpdatePrincipal(ctx, admin, e.alice.ID, latchkey.PrincipalUpdate{Disabled: &no}); err != nil {
			t.Fatal(err)
		}

		// A password change revokes the person's other tokens.
		other, _ := e.s.Login(ctx, "alice", pw("alice"))
		authOK(other.Token, "the other token")
		caller := authOK(tok.Token, "enabled again")
		if err := e.s.ChangePassword(ctx, caller, "alice", pw("alice"), "a-new-password-for-alice"); err != nil {
			t.Fatal(err)
		}
		refused(other.Token, "another token after a password change")

		// A terminal's token rotated.
		authOK(e.terms[0].Token, "the terminal")
		if _, err := e.s.RotateTerminalToken(ctx, admin, e.terms[0].ID); err != nil {
			t.Fatal(err)
		}
		refused(e.terms[0].Token, "the terminal's old token")

		// An expired token is refused from the cache too.
		tok, _ = e.s.Login(ctx, "alice", "a-new-password-for-alice")
		authOK(tok.Token, "a fresh token")
		e.clock.Advance(tok.ExpiresAt.Sub(e.clock.Now()) + time.Hour)
		refused(tok.Token, "expired")
	})
}

// Two nodes on one PostgreSQL: a token cached on node A and revoked on
// node B is refused on A within a second (authWindow), for a log-out and
// for a principal disabled.
func TestAuthCacheRevocationReachesOtherNodes(t *testing.T) {
	url := sqlstoretest.PostgresSchemaURL(t)
	ctx := context.Background()
	a := sqlstoretest.Open(t, url, sqlstoretest.Options(nil))
	b := sqlstoretest.Open(t, url, sqlstoretest.Options(nil))
	p, err := a.CreatePrincipal(ctx, admin, latchkey.Principal{Name: "alice", Role: latchkey.RoleUser})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.AddIdentity(ctx, admin, p.ID, "alice", pw("alice")); err != nil {
		t.Fatal(err)
	}
	// refusedWithin revokes with revoke (on B) and measures how long A
	// goes on accepting token.
	refusedWithin := func(what, token string, revoke func()) time.Duration {
		t.Helper()
		for range 3 { // cached on A, the cache fresh
			if _, err := a.Authenticate(ctx, token); err != nil {
				t.Fatalf("%s: before: %v", what, err)
			}
		}
		revoke()
		if _, err := b.Authenticate(ctx, token); latchkey.ErrorCode(err) != latchkey.EUNAUTHENTICATED {
			t.Fatalf("%s: on the node that revoked: %v, want refused at once", what, err)
		}
		start := time.Now()
		for {
			_, err := a.Authenticate(ctx, token)
			if latchkey.ErrorCode(err) == latchkey.EUNAUTHENTICATED {
				return time.Since(start)
			}
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if time.Since(start) > 3*time.Second {
				t.Fatalf("%s: node A still accepts the token after %s", what, time.Since(start))
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	check := func(what string, took time.Duration) {
		t.Helper()
		t.Logf("%s: refused on the other node after %s", what, took)
		if took > time.Second {
			t.Fatalf("%s: refused on the other node after %s, want within a second", what, took)
		}
	}
	tok, err := a.Login(ctx, "alice", pw("alice"))
	if err != nil {
		t.Fatal(err)
	}
	check("log-out", refusedWithin("log-out", tok.Token, func() {
		if err := b.Logout(ctx, tok.Token); err != nil {
			t.Fatal(err)
		}
	}))
	tok, _ = a.Login(ctx, "alice", pw("alice"))
	yes := true
	check("disabled", refusedWithin("disabled", tok.Token, func() {
		if _, err := b.UpdatePrincipal(ctx, admin, p.ID, latchkey.PrincipalUpdate{Disabled: &yes}); err != nil {
			t.Fatal(err)
		}
	}))
}
