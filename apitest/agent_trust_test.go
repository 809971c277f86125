package apitest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"latchkey"
	"latchkey/client"
	"latchkey/sqlstore/sqlstoretest"
)

// What the server tells an agent is signed with its key, the key shown
// when the terminal was registered: the whole policy and every delivered
// instruction (bound to its terminal). A byte changed breaks the
// signature; the same key signs for every terminal.
func TestPolicyAndInstructionsAreSigned(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 2)
		ctx := context.Background()
		key := w.terms[0].ServerKey
		if _, err := latchkey.ParsePublicKey(key); err != nil || w.terms[1].ServerKey != key {
			t.Fatalf("register shows server keys %q and %q: %v", key, w.terms[1].ServerKey, err)
		}
		p, err := w.tc[0].AgentPolicy(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if p.ServerKey != key || p.Signature == "" {
			t.Fatalf("policy key %q signature %q", p.ServerKey, p.Signature)
		}
		if err := p.VerifySignature(key); err != nil {
			t.Fatalf("the policy as received: %v", err)
		}
		p.Raw = bytes.Replace(p.Raw, []byte(`"terminal":"`+w.terms[0].ID), []byte(`"terminal":"`+w.terms[1].ID), 1)
		if err := p.VerifySignature(key); !errors.Is(err, latchkey.ErrBadSignature) {
			t.Fatalf("a policy with its terminal changed: %v", err)
		}

		set, err := w.admin.CreateGroupSet(ctx, latchkey.GroupSet{Name: "tools", Groups: []string{"wheel"}, Eligible: []string{w.bob.ID}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.userClient("bob").CreateCheckout(ctx, latchkey.CheckoutCreate{GroupSet: set.ID, Terminal: w.terms[0].ID}); err != nil {
			t.Fatal(err)
		}
		ins, err := w.tc[0].PollInstructions(ctx, 0)
		if err != nil || len(ins) != 1 {
			t.Fatalf("poll: %+v, %v", ins, err)
		}
		in := ins[0]
		if in.Terminal != w.terms[0].ID || in.Signature == "" {
			t.Fatalf("instruction %+v: want its terminal and a signature", in)
		}
		if err := in.VerifySignature(key); err != nil {
			t.Fatalf("the instruction as received: %v", err)
		}
		in.Raw = bytes.Replace(in.Raw, []byte(`"bob"`), []byte(`"root"`), 1)
		if err := in.VerifySignature(key); !errors.Is(err, latchkey.ErrBadSignature) {
			t.Fatalf("an instruction with its login changed: %v", err)
		}
	})
}

// Identities are portable login names: what an agent would hand to
// gpasswd cannot be an option, a path or two arguments.
func TestIdentityLoginsArePortable(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 0)
		before := w.snapshot()
		for _, login := range []string{"-oroot", "ann/../root", "ann root", ".ann", "1000", strings.Repeat("a", 33), "ann,root", "ann:x"} {
			body := `{"login": ` + string(mustJSON(t, login)) + `, "password": "long-enough-pw"}`
			if st, out := w.adminRaw(http.MethodPost, "/v1/principals/"+w.bob.ID+"/identities", body); st != http.StatusBadRequest || !strings.Contains(out, `"login"`) {
				t.Errorf("identity %q: %d %s, want 400 naming login", login, st, out)
			}
		}
		w.assertUnchanged(before, "identities with bad logins")
		if _, err := w.admin.AddIdentity(context.Background(), w.bob.ID, "Bob.Smith-2", "long-enough-pw"); err != nil {
			t.Fatalf("a portable login with upper case, '.' and '-': %v", err)
		}
	})
}

// A real server and a real agent process with the server's key pinned
// (--server-key, as serve printed it): a check-out is granted. An agent
// pinned to another key executes nothing: its policy and the instruction
// are refused, the check-out fails with the agent's reason, and its log
// says why. Both store backends.
func TestProcessAgentPinnedKey(t *testing.T) {
	forEachProcessBackend(t, func(t *testing.T, _ sqlstoretest.Backend, storeURL, dataDir string) {
		ctx := context.Background()
		server := startServer(t, storeURL, dataDir, "--sweep-interval", "200ms")
		m := regexp.MustCompile(`server key: (\S+)`).FindStringSubmatch(server.out.String())
		if m == nil {
			t.Fatalf("serve did not print its key:\n%s", server.out.tail(4<<10))
		}
		key := m[1]
		admin := server.adminLogin(t)
		site, err := admin.CreateSite(ctx, client.SiteCreate{Name: "pinned branch"})
		if err != nil {
			t.Fatal(err)
		}
		good, err := admin.RegisterTerminal(ctx, "good", site.ID)
		if err != nil {
			t.Fatal(err)
		}
		bad, err := admin.RegisterTerminal(ctx, "misconfigured", site.ID)
		if err != nil {
			t.Fatal(err)
		}
		if good.ServerKey != key {
			t.Fatalf("register shows %q, serve printed %q", good.ServerKey, key)
		}
		ann, err := admin.CreatePrincipal(ctx, latchkey.Principal{Name: "ann", Role: latchkey.RoleUser})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := admin.AddIdentity(ctx, ann.ID, "ann", "pw-ann-long"); err != nil {
			t.Fatal(err)
		}
		set, err := admin.CreateGroupSet(ctx, latchkey.GroupSet{Name: "tools", Groups: []string{"wheel"}})
		if err != nil {
			t.Fatal(err)
		}

		goodGroups, badGroups := filepath.Join(t.TempDir(), "groups"), filepath.Join(t.TempDir(), "groups")
		startAgent(t, server.URL, good.Token, filepath.Join(t.TempDir(), "state"), goodGroups, "--server-key", key)
		// The key of another server: an agent registered elsewhere, or a
		// server in the middle.
		wrong := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
		badAgent := startAgent(t, server.URL, bad.Token, filepath.Join(t.TempDir(), "state"), badGroups, "--server-key", wrong)

		waitStatus := func(id string, want latchkey.CheckoutStatus) *client.CheckoutView {
			t.Helper()
			deadline := time.Now().Add(20 * time.Second)
			for {
				co, err := admin.GetCheckout(ctx, id)
				if err == nil && co.Status == want {
					return co
				}
				if time.Now().After(deadline) {
					t.Fatalf("check-out %s: %+v, %v; want %s", id, co, err, want)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		co, err := admin.CreateCheckout(ctx, latchkey.CheckoutCreate{GroupSet: set.ID, Terminal: good.ID, Principal: ann.ID, Minutes: 30})
		if err != nil {
			t.Fatal(err)
		}
		waitStatus(co.ID, latchkey.CheckedOut)
		if got := readFile(t, goodGroups); got != "wheel ann\n" {
			t.Fatalf("the pinned agent's groups: %q", got)
		}

		co, err = admin.CreateCheckout(ctx, latchkey.CheckoutCreate{GroupSet: set.ID, Terminal: bad.ID, Principal: ann.ID, Minutes: 30})
		if err != nil {
			t.Fatal(err)
		}
		failed := waitStatus(co.ID, latchkey.CheckoutFailed)
		if !strings.Contains(failed.EndReason, "refused by the agent") {
			t.Fatalf("the failed check-out says %q", failed.EndReason)
		}
		if got := readFile(t, badGroups); got != "" {
			t.Fatalf("the agent pinned to another key changed groups: %q", got)
		}
		out := badAgent.out.String()
		if !strings.Contains(out, "instruction refused") || !strings.Contains(out, "policy") {
			t.Fatalf("the agent's log does not say what it refused:\n%s", badAgent.out.tail(4<<10))
		}
	})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readFile returns a file's content, "" when it does not exist.
func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}
