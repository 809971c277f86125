package apitest_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"latchkey"
	"latchkey/client"
	"latchkey/sqlstore/sqlstoretest"
)

// writeTokenFile replaces path with token, mode 0600, atomically.
func writeTokenFile(t *testing.T, path, token string) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// Hole 3: a terminal's token is rotated while its agent runs with
// --token-file. The old token stops at once; the agent, given the new one
// in its file, goes on without a restart and applies the next check-out.
// Real server and agent processes, both stores.
func TestAgentFollowsTokenRotation(t *testing.T) {
	forEachProcessBackend(t, func(t *testing.T, _ sqlstoretest.Backend, storeURL, dataDir string) {
		ctx := context.Background()
		server := startServer(t, storeURL, dataDir, "--sweep-interval", "200ms")
		admin := server.adminLogin(t)
		site, err := admin.CreateSite(ctx, client.SiteCreate{Name: "rotating branch"})
		if err != nil {
			t.Fatal(err)
		}
		term, err := admin.RegisterTerminal(ctx, "workstation", site.ID)
		if err != nil {
			t.Fatal(err)
		}
		ann, err := admin.CreatePrincipal(ctx, latchkey.Principal{Name: "ann", Role: latchkey.RoleUser})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := admin.AddIdentity(ctx, ann.ID, "ann", pw("ann")); err != nil {
			t.Fatal(err)
		}
		sets := map[string]string{}
		for _, g := range []string{"wheel", "docker"} {
			s, err := admin.CreateGroupSet(ctx, latchkey.GroupSet{Name: g, Groups: []string{g}})
			if err != nil {
				t.Fatal(err)
			}
			sets[g] = s.ID
		}
		tokenFile := filepath.Join(t.TempDir(), "terminal-token")
		writeTokenFile(t, tokenFile, term.Token)
		groups := filepath.Join(t.TempDir(), "groups")
		startAgent(t, server.URL, "", filepath.Join(t.TempDir(), "state"), groups, "--token-file", tokenFile)

		checkedOut := func(set string) {
			t.Helper()
			co, err := admin.CreateCheckout(ctx, latchkey.CheckoutCreate{GroupSet: set, Terminal: term.ID, Principal: ann.ID, Minutes: 30})
			if err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				got, err := admin.GetCheckout(ctx, co.ID)
				if err == nil && got.Status == latchkey.CheckedOut {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("check-out of %s: %+v, %v; want checked_out", set, got, err)
				}
			}
		}
		checkedOut(sets["wheel"])

		fresh, err := admin.RotateTerminalToken(ctx, term.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := server.client(term.Token).GetTerminal(ctx, term.ID); latchkey.ErrorCode(err) != latchkey.EUNAUTHENTICATED {
			t.Fatalf("the old token after rotation: %v, want unauthenticated", err)
		}
		writeTokenFile(t, tokenFile, fresh)
		checkedOut(sets["docker"])
		if b, _ := os.ReadFile(groups); string(b) != "docker ann\nwheel ann\n" {
			t.Fatalf("the workstation's groups: %q", b)
		}
	})
}
