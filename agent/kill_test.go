package agent

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"latchkey"
	"latchkey/client"
)

const killHelperEnv = "LATCHKEY_AGENT_KILL_HELPER_DIR"

// openSystemGateway opens a gateway on dir with the machine's clock.
func openSystemGateway(t *testing.T, cl *client.Client, dir string) (*Gateway, *Journal) {
	t.Helper()
	j, err := OpenJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	g, err := OpenGateway(context.Background(), GatewayOptions{Client: cl, Journal: j, Clock: SystemClock{},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), CallTimeout: 5 * time.Second})
	t.Cleanup(func() { j.Close() })
	if err != nil {
		t.Fatal(err)
	}
	return g, j
}

// TestKillHelper is the agent process that TestSurvivesSIGKILL kills: it
// logs alice on offline, says so, and waits.
func TestKillHelper(t *testing.T) {
	dir := os.Getenv(killHelperEnv)
	if dir == "" {
		t.Skip("run by TestSurvivesSIGKILL")
	}
	g, _ := openSystemGateway(t, client.New("http://127.0.0.1:1"), dir) // nothing listens there
	st, err := g.Login(context.Background(), LoginRequest{Identity: "alice", Password: "pw-a"})
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	fmt.Println("SESSION", st.Session.ID, st.Mode)
	time.Sleep(time.Hour) // until killed
}

func TestSurvivesSIGKILL(t *testing.T) {
	fc := newFakeClock()
	f := newFakeServer(t, fc)
	f.addPerson("alice", "pri_a", "pw-a", latchkey.RoleUser, true)
	dir := t.TempDir()
	g, j := openSystemGateway(t, f.client(), dir)
	if err := g.Sync(bg); err != nil { // the policy is cached
		t.Fatal(err)
	}
	j.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^TestKillHelper$")
	cmd.Env = append(os.Environ(), killHelperEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var id string
	for id == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("the helper ended without logging on")
			}
			if f := strings.Fields(l); len(f) == 3 && f[0] == "SESSION" {
				if f[2] != ModeStandalone {
					t.Fatalf("helper: %s", l)
				}
				id = f[1]
			} else if strings.HasPrefix(l, "ERROR") {
				t.Fatalf("helper: %s", l)
			}
		case <-time.After(60 * time.Second):
			t.Fatal("timed out waiting for the helper")
		}
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	killed = true
	for range lines {
	}

	// Restarted, still offline: the session is there and goes on.
	f.setDown(true)
	g, _ = openSystemGateway(t, f.client(), dir)
	st := g.Status(bg)
	if st.Mode != ModeStandalone || st.Session == nil || st.Session.ID != id || st.PendingUploads != 1 {
		t.Fatalf("after SIGKILL: %+v", st)
	}
	mustStatus(t)(g.Logout(bg))
	f.setDown(false)
	if err := g.Sync(bg); err != nil {
		t.Fatal(err)
	}
	ups := f.uploads(id)
	if len(ups) != 1 || ups[0].EndedAt == nil {
		t.Fatalf("uploads %+v, want the one entry with its end", ups)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.sessions) != 1 {
		t.Fatalf("the server holds %d sessions, want 1", len(f.sessions))
	}
}
