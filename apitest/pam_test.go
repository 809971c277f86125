package apitest_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"latchkey"
	"latchkey/agent"
	"latchkey/client"
	"latchkey/sqlstore/sqlstoretest"
)

// The PC's own logon through PAM: pamtester drives a PAM service file the
// test writes into /etc/pam.d, whose pam_exec lines run `latchkey pam`
// against a real agent talking to a real server (docs/counter.md, "The
// PC's own logon").

// pamService writes /etc/pam.d/<name> running `latchkey pam` for auth
// (with the password), account and session, and removes it afterwards.
func pamService(t *testing.T, socket string) string {
	t.Helper()
	name := fmt.Sprintf("latchkey-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	line := "pam_exec.so stdout quiet " + latchkeyBinary(t) + " pam --socket " + socket
	text := "# written by latchkey's PAM test; removed when it ends\n" +
		"auth     required pam_exec.so expose_authtok stdout quiet " + latchkeyBinary(t) + " pam --socket " + socket + "\n" +
		"account  required " + line + "\n" +
		"session  required " + line + "\n"
	path := filepath.Join("/etc/pam.d", name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatalf("writing the PAM service: %v", err)
	}
	t.Cleanup(func() { os.Remove(path) })
	return name
}

// pamtester runs pamtester for user with the password on its standard
// input and returns what it printed and whether every operation passed.
func pamtester(t *testing.T, service, user, password string, ops ...string) (string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "pamtester", append([]string{"-v", service, user}, ops...)...)
	cmd.Stdin = strings.NewReader(password + "\n")
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("pamtester %s %v did not finish: %s", user, ops, out)
	}
	return string(out), err == nil
}

func requirePAMTester(t *testing.T) {
	t.Helper()
	need := os.Getenv("LATCHKEY_REQUIRE_PAMTESTER") == "1"
	miss := func(why string) {
		if need {
			t.Fatalf("LATCHKEY_REQUIRE_PAMTESTER=1 but %s", why)
		}
		t.Skip(why)
	}
	if _, err := exec.LookPath("pamtester"); err != nil {
		miss("pamtester is not installed (Debian package pamtester)")
	}
	if os.Geteuid() != 0 {
		miss("writing a PAM service into /etc/pam.d needs root")
	}
}

// TestPAMLogon: a PC's logon through PAM becomes a latchkey session with
// every rule, logging out ends it, a screen locker's prompt unlocks it,
// and each refusal reaches the person in the counter's words. On both
// stores, with a real server and a real agent:
//   - auth + account + open_session log alice on (the server holds the
//     session, unlocked); close_session logs her off;
//   - a wrong password is refused in words, and nothing is logged on;
//   - alice unlocked at PC 2: her log-on at PC 1 is refused with the
//     concurrent-session words naming PC 2; bob at PC 1 while alice is on
//     is refused;
//   - locked (the screen locked it), auth unlocks it with the password;
//     with PC 2 unlocked, the unlock is refused in the seed's words;
//   - the link to the server cut: alice (cached at this terminal) logs on
//     standalone through PAM; bob (never here) is refused in words.
func TestPAMLogon(t *testing.T) {
	requirePAMTester(t)
	forEachProcessBackend(t, func(t *testing.T, _ sqlstoretest.Backend, storeURL, dataDir string) {
		ctx := context.Background()
		srv := startServer(t, storeURL, dataDir)
		admin := adminOf(t, srv)
		site := admin.site(client.SiteCreate{Name: "library"})
		pc1, pc2 := admin.terminal(site.ID, "PC 1"), admin.terminal(site.ID, "PC 2")
		admin.user("alice")
		admin.user("bob")
		g := newGatewayAgent(t, srv.URL, pc1.Token)
		svc := pamService(t, g.socket)
		serverSession := func(id string) *latchkey.Session {
			t.Helper()
			s, err := admin.GetSession(ctx, id)
			if err != nil {
				t.Fatalf("session %s: %v", id, err)
			}
			return s
		}

		// Log on and off.
		out, ok := pamtester(t, svc, "alice", pw("alice"), "authenticate", "acct_mgmt", "open_session")
		st, _ := g.gw.Status(ctx)
		if !ok || st.Session == nil || st.Session.Identity != "alice" || st.Session.LockedAt != nil {
			t.Fatalf("alice logs on through PAM: %v\n%s\nstatus %+v", ok, out, st)
		}
		first := st.Session.ID
		if s := serverSession(first); s.Status != latchkey.SessionActive || s.LockedAt != nil || s.TerminalID != pc1.ID {
			t.Fatalf("the server's session: %+v", s)
		}
		if out, ok := pamtester(t, svc, "alice", "", "close_session"); !ok {
			t.Fatalf("close_session: %s", out)
		}
		if s := serverSession(first); s.Status != latchkey.SessionEnded || s.EndReason != latchkey.EndLogout {
			t.Fatalf("after close_session the server's session is %+v, want ended by log-out", s)
		}

		// A wrong password.
		out, ok = pamtester(t, svc, "alice", "not-her-password", "authenticate")
		if ok || !strings.Contains(out, "Not logged on: Wrong login ID or password.") {
			t.Fatalf("a wrong password: %v\n%s", ok, out)
		}
		t.Logf("a wrong password, as pamtester shows it:\n%s", out)
		if st, _ := g.gw.Status(ctx); st.Session != nil {
			t.Fatalf("a refused log-on left a session: %+v", st.Session)
		}
		// A session without its auth step (e.g. a key-based logon) is
		// refused at account.
		if out, ok := pamtester(t, svc, "alice", "", "acct_mgmt"); ok || !strings.Contains(out, "You are not logged on at this terminal through latchkey.") {
			t.Fatalf("account without a latchkey session: %v\n%s", ok, out)
		}

		// Alice is on, unlocked, at PC 2.
		r := admin.logOnAt(pc2, "alice")
		out, ok = pamtester(t, svc, "alice", pw("alice"), "authenticate")
		want := "You are logged on at PC 2 (since " + r.Session.StartedAt.In(time.Local).Format("15:04") +
			"), not locked. Please return and lock the previous session or remotely terminate it, then log on here again."
		if ok || !strings.Contains(out, want) {
			t.Fatalf("alice unlocked at PC 2: %v\n%s\nwant %q", ok, out, want)
		}
		t.Logf("alice unlocked at PC 2, as pamtester shows it:\n%s", out)
		pc2Client := client.New(srv.URL, client.WithToken(pc2.Token))
		if _, err := pc2Client.LockSession(ctx, r.Session.ID, latchkey.LockRequest{Reason: latchkey.LockManual, TimeSent: time.Now()}); err != nil {
			t.Fatal(err)
		}
		if out, ok := pamtester(t, svc, "alice", pw("alice"), "authenticate", "acct_mgmt", "open_session"); !ok {
			t.Fatalf("alice, PC 2 locked: %s", out)
		}
		// Bob cannot log on over her.
		if out, ok := pamtester(t, svc, "bob", pw("bob"), "authenticate"); ok || !strings.Contains(out, "alice is logged on at this terminal: they must log off first.") {
			t.Fatalf("bob over alice: %v\n%s", ok, out)
		}

		// The screen locks; the locker's prompt unlocks through PAM.
		if _, err := g.gw.Lock(ctx, agent.LockRequest{Reason: agent.LockManual}); err != nil {
			t.Fatal(err)
		}
		if out, ok := pamtester(t, svc, "alice", "wrong-again-and-again", "authenticate"); ok || !strings.Contains(out, "Wrong login ID or password.") {
			t.Fatalf("unlock with a wrong password: %v\n%s", ok, out)
		}
		if out, ok := pamtester(t, svc, "alice", pw("alice"), "authenticate", "acct_mgmt"); !ok {
			t.Fatalf("unlock through PAM: %s", out)
		}
		st, _ = g.gw.Status(ctx)
		if st.Session == nil || st.Session.LockedAt != nil || serverSession(st.Session.ID).LockedAt != nil {
			t.Fatalf("after the PAM unlock: %+v", st.Session)
		}
		// Locked again, with PC 2 unlocked meanwhile: the seed's words.
		if _, err := g.gw.Lock(ctx, agent.LockRequest{Reason: agent.LockManual}); err != nil {
			t.Fatal(err)
		}
		if _, err := pc2Client.UnlockSession(ctx, r.Session.ID, latchkey.UnlockRequest{Identity: "alice", Password: pw("alice"), TimeSent: time.Now()}); err != nil {
			t.Fatal(err)
		}
		out, ok = pamtester(t, svc, "alice", pw("alice"), "authenticate")
		if ok || !strings.Contains(out, "You are also logged on at PC 2") || !strings.Contains(out, "then unlock here.") {
			t.Fatalf("unlock with PC 2 unlocked: %v\n%s", ok, out)
		}
		t.Logf("the unlock with PC 2 unlocked, as pamtester shows it:\n%s", out)
		if _, err := pc2Client.EndSession(ctx, r.Session.ID); err != nil {
			t.Fatal(err)
		}
		if out, ok := pamtester(t, svc, "alice", pw("alice"), "authenticate", "close_session"); !ok {
			t.Fatalf("unlock and log off: %s", out)
		}

		// Standalone: the link is cut once the agent holds a policy that
		// knows alice has been here.
		visited := time.Now()
		g.waitFor("a policy after alice's visit", func(s *agent.Status) bool { return s.PolicyIssuedAt.After(visited) })
		g.cut()
		out, ok = pamtester(t, svc, "alice", pw("alice"), "authenticate", "acct_mgmt", "open_session")
		st, _ = g.gw.Status(ctx)
		if !ok || st.Session == nil || !st.Session.Standalone {
			t.Fatalf("alice standalone through PAM: %v\n%s\n%+v", ok, out, st.Session)
		}
		if out, ok := pamtester(t, svc, "alice", "", "close_session"); !ok {
			t.Fatalf("close_session standalone: %s", out)
		}
		out, ok = pamtester(t, svc, "bob", pw("bob"), "authenticate")
		if ok || !strings.Contains(out, "Not logged on") {
			t.Fatalf("bob, never here, standalone: %v\n%s", ok, out)
		}
		t.Logf("bob standalone, as pamtester shows it:\n%s", out)
		g.restore()
	})
}
