package apitest_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"latchkey"
	"latchkey/agent"
	"latchkey/client"
	"latchkey/screenlock"
	"latchkey/sqlstore/sqlstoretest"
)

// privateBus is a dbus-daemon of the test's own, listening on a unix
// socket in a temp dir, allowing everything.
type privateBus struct {
	t       *testing.T
	conf    string
	socket  string
	Address string
	cmd     *exec.Cmd
	done    chan struct{}
	stderr  *procOutput // every run's, shown if the test fails
}

// startPrivateBus starts dbus-daemon (Debian package dbus-daemon); it
// skips the test when the binary is missing, unless
// LATCHKEY_REQUIRE_DBUS is set.
func startPrivateBus(t *testing.T) *privateBus {
	t.Helper()
	if _, err := exec.LookPath("dbus-daemon"); err != nil {
		if os.Getenv("LATCHKEY_REQUIRE_DBUS") != "" {
			t.Fatal("dbus-daemon is required (LATCHKEY_REQUIRE_DBUS) and not installed (apt-get install dbus-daemon)")
		}
		t.Skip("dbus-daemon is not installed (apt-get install dbus-daemon)")
	}
	dir := t.TempDir()
	b := &privateBus{t: t, conf: filepath.Join(dir, "bus.conf"), socket: filepath.Join(dir, "bus")}
	conf := `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>custom</type>
  <listen>unix:path=` + b.socket + `</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
  </policy>
</busconfig>
`
	if err := os.WriteFile(b.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	b.stderr = newProcOutput()
	b.start()
	t.Cleanup(func() {
		b.kill()
		if t.Failed() {
			t.Logf("dbus-daemon's stderr:\n%s", b.stderr.tail(4<<10))
		}
	})
	return b
}

// start runs the daemon and waits (bounded) for the address it prints.
func (b *privateBus) start() {
	b.t.Helper()
	os.Remove(b.socket)
	b.cmd = exec.Command("dbus-daemon", "--config-file="+b.conf, "--print-address", "--nofork")
	out, err := b.cmd.StdoutPipe()
	if err != nil {
		b.t.Fatal(err)
	}
	b.cmd.Stderr = b.stderr
	b.cmd.SysProcAttr = &syscall.SysProcAttr{}
	setParentDeathSignal(b.cmd.SysProcAttr)
	if err := b.cmd.Start(); err != nil {
		b.t.Fatalf("dbus-daemon: %v", err)
	}
	b.done = make(chan struct{})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			addr <- strings.TrimSpace(sc.Text())
		}
		for sc.Scan() {
		}
	}()
	go func(cmd *exec.Cmd, done chan struct{}) { cmd.Wait(); close(done) }(b.cmd, b.done)
	select {
	case a := <-addr:
		if !strings.HasPrefix(a, "unix:path="+b.socket) {
			b.t.Fatalf("dbus-daemon printed %q, want unix:path=%s", a, b.socket)
		}
		b.Address = a
	case <-b.done:
		b.t.Fatal("dbus-daemon exited before printing its address")
	case <-time.After(10 * time.Second):
		b.t.Fatal("dbus-daemon printed no address within 10s")
	}
}

// kill ends the daemon: every connection to it drops.
func (b *privateBus) kill() {
	select {
	case <-b.done:
		return
	default:
	}
	b.cmd.Process.Signal(syscall.SIGKILL)
	<-b.done
}

// fakeLogind owns org.freedesktop.login1 on a private bus: a Manager
// whose GetSession and GetSessionByPID answer session 1, and that
// session, whose Lock method records the call and emits the Lock signal as
// logind does.
type fakeLogind struct {
	t          *testing.T
	conn       *dbus.Conn
	locks      atomic.Int32 // calls of Session.Lock
	terminates atomic.Int32 // calls of Session.Terminate
}

const fakeSessionPath = dbus.ObjectPath("/org/freedesktop/login1/session/_31")

type fakeManager struct{}

func (fakeManager) GetSession(id string) (dbus.ObjectPath, *dbus.Error) {
	if id != "1" {
		return "", dbus.NewError("org.freedesktop.login1.NoSuchSession", []any{"No session '" + id + "' known"})
	}
	return fakeSessionPath, nil
}

func (fakeManager) GetSessionByPID(uint32) (dbus.ObjectPath, *dbus.Error) {
	return fakeSessionPath, nil
}

type fakeSession struct{ f *fakeLogind }

func (s fakeSession) Lock() *dbus.Error {
	s.f.locks.Add(1)
	if err := s.f.conn.Emit(fakeSessionPath, screenlock.Login1Session+".Lock"); err != nil {
		return dbus.MakeFailedError(err)
	}
	return nil
}

func (s fakeSession) Terminate() *dbus.Error {
	s.f.terminates.Add(1)
	return nil
}

func startFakeLogind(t *testing.T, address string) *fakeLogind {
	t.Helper()
	conn, err := dbus.Connect(address)
	if err != nil {
		t.Fatalf("connect to the private bus: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	f := &fakeLogind{t: t, conn: conn}
	if err := conn.Export(fakeManager{}, screenlock.Login1Path, screenlock.Login1Manager); err != nil {
		t.Fatal(err)
	}
	if err := conn.Export(fakeSession{f}, fakeSessionPath, screenlock.Login1Session); err != nil {
		t.Fatal(err)
	}
	if r, err := conn.RequestName(screenlock.Login1Name, dbus.NameFlagDoNotQueue); err != nil || r != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("own %s: %v, %v", screenlock.Login1Name, r, err)
	}
	return f
}

// emit sends logind's signal Lock or Unlock of session 1.
func (f *fakeLogind) emit(member string) {
	f.t.Helper()
	if err := f.conn.Emit(fakeSessionPath, screenlock.Login1Session+"."+member); err != nil {
		f.t.Fatalf("emit %s: %v", member, err)
	}
}

// screenlockProc is a running `latchkey terminal screenlock`.
type screenlockProc struct {
	t    *testing.T
	cmd  *exec.Cmd
	out  *procOutput
	done chan struct{}
}

func startScreenlock(t *testing.T, sock, busAddress string) *screenlockProc {
	t.Helper()
	p := &screenlockProc{t: t, out: newProcOutput(), done: make(chan struct{})}
	p.cmd = exec.Command(latchkeyBinary(t), "terminal", "screenlock", "--socket", sock, "--session", "1", "--system-bus-address", busAddress)
	p.cmd.Env = append(os.Environ(), "LOG_LEVEL=info", "LOG_FORMAT=text")
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{}
	setParentDeathSignal(p.cmd.SysProcAttr)
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
		if t.Failed() {
			t.Logf("screenlock output:\n%s", p.out.tail(8<<10))
		}
	})
	return p
}

// waitLog waits up to d for the n-th line of the output that contains
// text, and returns that line.
func (p *screenlockProc) waitLog(d time.Duration, n int, text string) string {
	p.t.Helper()
	for deadline := time.Now().Add(d); ; time.Sleep(20 * time.Millisecond) {
		var hits []string
		for _, l := range strings.Split(p.out.String(), "\n") {
			if strings.Contains(l, text) {
				hits = append(hits, l)
			}
		}
		if len(hits) >= n {
			return hits[n-1]
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("after %s screenlock has logged %q %d times, want %d:\n%s", d, text, len(hits), n, p.out.tail(8<<10))
		}
	}
}

// The screen lock and the latchkey session, with a real server, a real
// agent and a real `latchkey terminal screenlock` process on a private
// bus where the test plays logind (issue 14), both stores: logind's Lock
// locks the latchkey session, at the agent and on the server; Unlock
// while it is locked makes screenlock call Session.Lock again; after the
// person unlocks with the password, Unlock is left alone; the bus goes
// away and comes back and screenlock follows it again; with the server
// killed, Lock still locks (offline, to be reported later); SIGTERM ends
// it with status 0.
func TestScreenLockFollowsLogind(t *testing.T) {
	forEachProcessBackend(t, func(t *testing.T, _ sqlstoretest.Backend, storeURL, dataDir string) {
		ctx := context.Background()
		bus := startPrivateBus(t) // first: a missing dbus-daemon skips before the server starts
		srv := startServer(t, storeURL, dataDir)
		admin := adminOf(t, srv)
		site := admin.site(client.SiteCreate{Name: "screen lock branch"})
		term := admin.terminal(site.ID, "desktop 1")
		admin.user("alice")

		sock := startGatewayAgent(t, srv.URL, term.Token)
		gw := agent.NewGatewayClient(sock)
		st, err := gw.Login(ctx, agent.LoginRequest{Identity: "alice", Password: pw("alice")})
		if err != nil || st.Session == nil {
			t.Fatalf("log alice on through the gateway: %+v, %v", st, err)
		}
		sessionID := st.Session.ID

		logind := startFakeLogind(t, bus.Address)
		sl := startScreenlock(t, sock, bus.Address)
		sl.waitLog(10*time.Second, 1, "watching the login session's screen lock")

		// waitStatus polls the agent until ok holds of its status.
		waitStatus := func(what string, ok func(*agent.Status) bool) *agent.Status {
			t.Helper()
			return waitGatewayStatus(t, gw, 15*time.Second, what, ok)
		}
		lockedOnServer := func(s *agent.Status) bool {
			return s.Session != nil && s.Session.LockedAt != nil && !s.Session.LockedOffline
		}

		// logind locks the screen: the latchkey session is locked, and the
		// server knows.
		logind.emit("Lock")
		waitStatus("locked (server told)", lockedOnServer)
		line := sl.waitLog(10*time.Second, 1, "locking alice's latchkey session")
		if !strings.Contains(line, "the server was told") {
			t.Errorf("the lock's log line: %s", line)
		}
		if s, err := admin.GetSession(ctx, sessionID); err != nil || s.LockedAt == nil || s.Status != latchkey.SessionActive {
			t.Fatalf("the server's view of the session: %+v, %v", s, err)
		}

		// logind unlocks the screen (loginctl unlock-session) while the
		// latchkey session is locked: screenlock locks the screen again,
		// and the Lock signal that follows finds it already locked.
		logind.emit("Unlock")
		sl.waitLog(10*time.Second, 1, "locking the screen again")
		if n := logind.locks.Load(); n != 1 {
			t.Fatalf("Session.Lock called %d times after Unlock, want 1", n)
		}
		sl.waitLog(10*time.Second, 1, "is already locked")

		// The person unlocks with the password (as latchkey pam does at the
		// screen locker's prompt); logind's Unlock is then left alone.
		if st, err := gw.Unlock(ctx, agent.UnlockRequest{Password: pw("alice")}); err != nil || st.Session == nil || st.Session.LockedAt != nil {
			t.Fatalf("unlock through the gateway: %+v, %v", st, err)
		}
		logind.emit("Unlock")
		sl.waitLog(10*time.Second, 1, "latchkey session is unlocked (the password was given)")
		if n := logind.locks.Load(); n != 1 {
			t.Fatalf("Session.Lock called %d times in all, want 1 (no relock after the password)", n)
		}
		if s, err := admin.GetSession(ctx, sessionID); err != nil || s.LockedAt != nil {
			t.Fatalf("the server's view after the unlock: %+v, %v", s, err)
		}

		// The system bus goes away and comes back: screenlock says so,
		// reconnects and follows the session again.
		bus.kill()
		sl.waitLog(10*time.Second, 1, "system bus: reconnecting")
		bus.start()
		logind = startFakeLogind(t, bus.Address)
		sl.waitLog(30*time.Second, 2, "watching the login session's screen lock")

		// Alice logs on at another terminal, ending this session (force):
		// the agent hears of it, and screenlock logs the desktop off.
		other := admin.terminal(site.ID, "desktop 2")
		otherClient := client.New(srv.URL, client.WithToken(other.Token))
		forced, err := otherClient.StartSession(ctx, other.ID, latchkey.LoginRequest{Identity: "alice", Password: pw("alice"),
			Force: true, TimeSent: time.Now()})
		if err != nil {
			t.Fatalf("alice forces a log-on at desktop 2: %v", err)
		}
		sl.waitLog(20*time.Second, 1, "Your session was ended from another counter.): logging the desktop session off")
		if n := logind.terminates.Load(); n != 1 {
			t.Fatalf("Session.Terminate called %d times, want 1", n)
		}
		if _, err := otherClient.EndSession(ctx, forced.Session.ID); err != nil {
			t.Fatal(err)
		}
		if st, err := gw.Login(ctx, agent.LoginRequest{Identity: "alice", Password: pw("alice")}); err != nil || st.Session == nil {
			t.Fatalf("alice back at desktop 1: %+v, %v", st, err)
		}
		// Her own log-off does not end the desktop session (it is ending).
		if _, err := gw.Logout(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Second) // more than a look of screenlock's
		if n := logind.terminates.Load(); n != 1 {
			t.Fatalf("Session.Terminate called %d times after a log-off, want still 1", n)
		}
		if st, err := gw.Login(ctx, agent.LoginRequest{Identity: "alice", Password: pw("alice")}); err != nil || st.Session == nil {
			t.Fatalf("alice back at desktop 1: %+v, %v", st, err)
		}

		// The server is killed: logind's Lock still locks, at the terminal
		// only, and the agent reports it later.
		srv.kill()
		logind.emit("Lock")
		waitStatus("locked offline", func(s *agent.Status) bool {
			return s.Session != nil && s.Session.LockedAt != nil && s.Session.LockedOffline
		})
		sl.waitLog(20*time.Second, 1, "locked at this terminal only")

		// SIGTERM ends it cleanly.
		sl.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-sl.done:
		case <-time.After(10 * time.Second):
			t.Fatal("screenlock still running 10s after SIGTERM")
		}
		if code := sl.cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("screenlock exited %d after SIGTERM, want 0", code)
		}
		t.Logf("screenlock's log:\n%s", sl.out.String())
	})
}
