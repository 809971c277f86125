package apitest_test

import (
	"context"
	"testing"
	"time"

	"latchkey"
	"latchkey/sqlstore/sqlstoretest"
)

// Issue 15's token cache across nodes: two `latchkey serve` processes on
// one PostgreSQL. A user token used on node 2 (so cached there) and
// logged out on node 1 is refused on node 1 at once and on node 2 within
// a second; so is a token of a person disabled on node 1.
func TestRevokedTokenRefusedOnAnotherNodeWithinASecond(t *testing.T) {
	t.Parallel()
	latchkeyBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	storeURL := sqlstoretest.PostgresSchemaURL(t)
	n1 := startServer(t, storeURL, t.TempDir())
	n2 := startServer(t, storeURL, t.TempDir())
	admin := adminOf(t, n1)
	p := admin.user("alice")

	refusedOnNode2Within := func(what, token string, revoke func()) {
		t.Helper()
		on2 := n2.client(token)
		for range 3 {
			if _, _, err := on2.ListSites(ctx, latchkey.Page{}); err != nil {
				t.Fatalf("%s: the token on node 2 before: %v", what, err)
			}
		}
		revoke()
		if _, _, err := n1.client(token).ListSites(ctx, latchkey.Page{}); latchkey.ErrorCode(err) != latchkey.EUNAUTHENTICATED {
			t.Fatalf("%s: on node 1, which revoked it: %v, want refused at once", what, err)
		}
		start := time.Now()
		for {
			_, _, err := on2.ListSites(ctx, latchkey.Page{})
			if latchkey.ErrorCode(err) == latchkey.EUNAUTHENTICATED {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if time.Since(start) > 3*time.Second {
				t.Fatalf("%s: node 2 still accepts the token %s after", what, time.Since(start))
			}
			time.Sleep(10 * time.Millisecond)
		}
		took := time.Since(start)
		t.Logf("%s: refused on node 2 %s after node 1 answered", what, took.Round(time.Millisecond))
		if took > time.Second {
			t.Fatalf("%s: refused on node 2 after %s, want within a second", what, took)
		}
	}

	tok, err := n1.client("").Login(ctx, "alice", pw("alice"))
	if err != nil {
		t.Fatal(err)
	}
	refusedOnNode2Within("log-out", tok.Token, func() {
		if err := n1.client(tok.Token).Logout(ctx); err != nil {
			t.Fatal(err)
		}
	})
	tok, _ = n1.client("").Login(ctx, "alice", pw("alice"))
	yes := true
	refusedOnNode2Within("disabled", tok.Token, func() {
		if _, err := admin.UpdatePrincipal(ctx, p.ID, latchkey.PrincipalUpdate{Disabled: &yes}); err != nil {
			t.Fatal(err)
		}
	})
}
