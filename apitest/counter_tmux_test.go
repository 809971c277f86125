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
	"latchkey/client"
	"latchkey/sqlstore/sqlstoretest"
)

// tmuxScreen is a latchkey counter running in its own tmux server (80×24),
// read the way a person reads it.
type tmuxScreen struct {
	t      *testing.T
	socket string // tmux -L: a server of the test's own
}

func startCounterInTmux(t *testing.T, agentSocket, inactivityLock string) *tmuxScreen {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("LATCHKEY_REQUIRE_TMUX") != "" {
			t.Fatal("tmux is required (LATCHKEY_REQUIRE_TMUX) and not installed")
		}
		t.Skip("tmux is not installed (apt-get install tmux)")
	}
	s := &tmuxScreen{t: t, socket: fmt.Sprintf("lk-counter-%d-%d", os.Getpid(), time.Now().UnixNano())}
	cmd := latchkeyBinary(t) + " counter --socket " + agentSocket + " --inactivity-lock " + inactivityLock
	if out, err := exec.Command("tmux", "-L", s.socket, "new-session", "-d", "-x", "80", "-y", "24", "env", "TERM=xterm-256color", "sh", "-c", cmd).CombinedOutput(); err != nil {
		t.Fatalf("tmux: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("tmux", "-L", s.socket, "kill-server").Run() })
	return s
}

// startGatewayAgent runs a real agent for the terminal of token (file
// executor, quick probes and policy refreshes) and returns its gateway
// socket once it is there.
func startGatewayAgent(t *testing.T, server, token string) string {
	t.Helper()
	stateDir := t.TempDir()
	startAgent(t, server, token, stateDir, filepath.Join(t.TempDir(), "groups"), "--probe-every", "200ms", "--policy-every", "1s")
	sock := filepath.Join(stateDir, "terminal.sock")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(sock); err == nil {
			return sock
		} else if time.Now().After(deadline) {
			t.Fatalf("the agent's socket: %v", err)
		}
	}
}

// screen is what the counter shows now.
func (s *tmuxScreen) screen() string {
	out, err := exec.Command("tmux", "-L", s.socket, "capture-pane", "-p").Output()
	if err != nil {
		s.t.Fatalf("capture-pane: %v", err)
	}
	return string(out)
}

// keys sends keys: tmux key names (Enter, F12) or text.
func (s *tmuxScreen) keys(keys ...string) {
	s.t.Helper()
	for _, k := range keys {
		args := []string{"-L", s.socket, "send-keys"}
		if k != "Enter" && k != "F12" && k != "Escape" {
			args = append(args, "-l")
		}
		if out, err := exec.Command("tmux", append(args, k)...).CombinedOutput(); err != nil {
			s.t.Fatalf("send-keys %q: %v\n%s", k, err, out)
		}
		time.Sleep(30 * time.Millisecond) // one key at a time, as a person types
	}
}

// waitFor waits up to d for the screen to show every text, and returns it.
func (s *tmuxScreen) waitFor(d time.Duration, texts ...string) string {
	s.t.Helper()
	deadline := time.Now().Add(d)
	for {
		sc := s.screen()
		missing := ""
		for _, x := range texts {
			if !strings.Contains(sc, x) {
				missing = x
				break
			}
		}
		if missing == "" {
			return sc
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("after %s the counter does not show %q:\n%s", d, missing, sc)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The counter app in a real terminal (tmux) with real agents and a real
// server, both stores (issue 14): a clerk logs on at counter A, starts a
// transaction, fills its basket and goes to its third page, and locks
// with F12; logs on at counter B; tries to unlock A and is told B is not
// locked; ends B's session from A (after a confirmation); A comes back on
// that exact page, and B says its session was ended from another
// counter. Then the server is killed: a manual lock
// asks, in the design note's words, whether to lock anyway; locked
// anyway, the counter says it is standalone and that the data centre was
// not told. The server comes back and the deferred event 24 arrives with
// the lock's own time.
func TestCounterInTmux(t *testing.T) {
	forEachProcessBackend(t, func(t *testing.T, _ sqlstoretest.Backend, storeURL, dataDir string) {
		srv := startServer(t, storeURL, dataDir)
		admin := adminOf(t, srv)
		site := admin.site(client.SiteCreate{Name: "high street"})
		termA, termB := admin.terminal(site.ID, "counter A"), admin.terminal(site.ID, "counter B")
		admin.user("alice")
		sockets := map[string]string{}
		counterAt := func(term *latchkey.Terminal) *tmuxScreen {
			sock := startGatewayAgent(t, srv.URL, term.Token)
			sockets[term.ID] = sock
			return startCounterInTmux(t, sock, "0")
		}
		c, b := counterAt(termA), counterAt(termB)
		term := termA
		c.waitFor(10*time.Second, "Log on", "Login ID: _", "nobody logged on")
		c.keys("alice", "Enter", pw("alice"), "Enter")
		c.waitFor(10*time.Second, "alice · ONLINE", "Menu: choose a transaction", "[F12] Lock")

		c.keys("2", "a", "a", "n", "n")
		c.waitFor(5*time.Second, "Bill payment — page 3", "Total", "3.00")
		c.keys("F12")
		c.waitFor(5*time.Second, "[l] Lock", "[s] Suspend", "[r] Resume (not available)")
		c.keys("l")
		c.waitFor(10*time.Second, "THIS COUNTER IS LOCKED", "Locked by alice")

		// The clerk logs on at counter B (A is locked, so that is allowed),
		// comes back to A and tries to unlock it: B is not locked.
		b.waitFor(10*time.Second, "Log on")
		b.keys("alice", "Enter", pw("alice"), "Enter")
		b.waitFor(10*time.Second, "alice · ONLINE", "Menu: choose a transaction")
		c.keys(pw("alice"), "Enter")
		msg := c.waitFor(10*time.Second, "Another counter is not locked", "You are also logged on at", "Please return and lock the previous",
			"[e] End them", "[c] Cancel")
		t.Logf("unlocking A while B is unlocked:\n%s", msg)
		c.keys("e")
		c.waitFor(5*time.Second, "End your other sessions?", "[y] Yes, end them")
		c.keys("y")
		back := c.waitFor(10*time.Second, "Bill payment — page 3", "Total", "3.00", "[F12] Lock")
		t.Logf("A after ending B's session:\n%s", back)
		ended := b.waitFor(15*time.Second, "Your session has ended", "Your session was ended from another counter.", "Log on")
		t.Logf("B, its session ended from A:\n%s", ended)
		b.keys("Enter")

		// The server goes away: a manual lock asks.
		addr := strings.TrimPrefix(srv.URL, "http://")
		srv.kill()
		offlineFrom := time.Now()
		c.keys("F12", "l")
		asked := c.waitFor(15*time.Second, "The lock could not be registered", "[l] Lock anyway", "[t] Try again", "[n] Do not lock", "STANDALONE")
		t.Logf("the manual lock with the server away:\n%s", asked)
		c.keys("l")
		c.waitFor(10*time.Second, "THIS COUNTER IS LOCKED", "The data centre was not told of this lock", "STANDALONE")
		lockedAt := time.Now()

		// At counter B, a counter that locks after 3 s without a key: the
		// log-on screen says who can log on standalone; alice (who logged
		// on here before) logs on offline; left alone, it locks without a
		// word.
		b = startCounterInTmux(t, sockets[termB.ID], "3s")
		standalone := b.waitFor(15*time.Second, "nobody logged on · STANDALONE", "The data centre cannot be reached. Only people who",
			"counter before can log on until it is reached.")
		t.Logf("counter B's log-on screen, standalone:\n%s", standalone)
		b.keys("alice", "Enter", pw("alice"), "Enter")
		b.waitFor(10*time.Second, "alice · STANDALONE", "Menu: choose a transaction")
		inactive := b.waitFor(10*time.Second, "THIS COUNTER IS LOCKED", "Locked by alice")
		if strings.Contains(inactive, "could not be registered") || strings.Contains(inactive, "Lock anyway") {
			t.Fatalf("the inactivity lock asked:\n%s", inactive)
		}
		inactiveAt := time.Now()
		t.Logf("counter B after 3 s without a key, standalone:\n%s", inactive)

		// It comes back (same address): the lock is reported with event 24
		// at its own time (the earlier lock and unlock, online, were sent
		// as 24 and 25 already).
		srv2 := startServer(t, storeURL, dataDir, "--listen", addr)
		cameBack := time.Now()
		api := srv2.adminLogin(t)
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			evs, _, err := api.ListTerminalEvents(context.Background(), term.ID, latchkey.Page{Limit: 10})
			var offline []latchkey.TerminalEvent
			seen := map[int]int{}
			for _, e := range evs {
				seen[e.Event]++
				if e.OccurredAt.After(offlineFrom) {
					offline = append(offline, e)
				}
			}
			if err == nil && len(offline) == 1 {
				e := offline[0]
				if e.Event != latchkey.EventPositionLocked || e.Identity != "alice" || e.OccurredAt.After(lockedAt) ||
					!e.ReceivedAt.After(cameBack) || seen[latchkey.EventPositionLocked] != 2 || seen[latchkey.EventPositionUnlocked] != 1 {
					t.Fatalf("the deferred events: %+v (locked offline about %s)", evs, lockedAt.UTC())
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no deferred event 24 after the server came back: %+v, %v", evs, err)
			}
		}
		// And B's inactivity lock, at its own time.
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			evs, _, err := api.ListTerminalEvents(context.Background(), termB.ID, latchkey.Page{Limit: 10})
			var found *latchkey.TerminalEvent
			for i, e := range evs {
				if e.Event == latchkey.EventPositionLocked && e.OccurredAt.After(offlineFrom) {
					found = &evs[i]
				}
			}
			if err == nil && found != nil {
				if found.OccurredAt.After(inactiveAt) || !found.ReceivedAt.After(cameBack) {
					t.Fatalf("B's deferred event 24: %+v (locked about %s)", found, inactiveAt.UTC())
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no deferred event 24 of B's inactivity lock: %+v, %v", evs, err)
			}
		}
		c.waitFor(15*time.Second, "alice · ONLINE", "THIS COUNTER IS LOCKED")
		c.keys(pw("alice"), "Enter")
		c.waitFor(10*time.Second, "Bill payment — page 3")
	})
}
