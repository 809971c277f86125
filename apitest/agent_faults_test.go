package apitest_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"latchkey"
	"latchkey/client"
	"latchkey/sqlstore/sqlstoretest"
)

// faultProxy stands between the agent and the server and injects faults:
// the network down, a reply that reaches the server but whose answer is
// lost, the agent killed as it replies, the server killed right after it
// delivered an instruction.
type faultProxy struct {
	srv    *httptest.Server
	target atomic.Value // string: the live server's URL
	hc     *http.Client

	down           atomic.Bool
	unavailable    atomic.Bool  // every call is answered 503 unavailable, as by a node whose store is down
	loseReplies    atomic.Int32 // answers of this many replies are lost
	killAgentReply atomic.Bool  // the next reply never leaves: the agent dies instead
	killServer     atomic.Bool  // after the next delivery, the server is killed
	answered       atomic.Int32 // replies whose answer reached the agent
	onKillAgent    func()
	onKillServer   func()
}

func newFaultProxy(t testing.TB, target string) *faultProxy {
	p := &faultProxy{hc: &http.Client{Timeout: 90 * time.Second}}
	p.target.Store(target)
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.srv.Close)
	return p
}

// cut drops the client's connection without an answer.
func cut(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

func (p *faultProxy) serve(w http.ResponseWriter, r *http.Request) {
	if p.down.Load() {
		cut(w)
		return
	}
	if p.unavailable.Load() {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"error":{"code":"unavailable","message":"the store is unreachable","details":{}}}`)
		return
	}
	isReply := r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/reply")
	if isReply && p.killAgentReply.CompareAndSwap(true, false) {
		p.onKillAgent()
		cut(w)
		return
	}
	body, _ := io.ReadAll(r.Body)
	out, err := http.NewRequestWithContext(r.Context(), r.Method, p.target.Load().(string)+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		cut(w)
		return
	}
	out.Header = r.Header.Clone()
	resp, err := p.hc.Do(out)
	if err != nil {
		cut(w)
		return
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if p.down.Load() { // the network went down while the call was in flight
		cut(w)
		return
	}
	if isReply && resp.StatusCode == http.StatusOK && p.loseReplies.Add(-1) >= 0 {
		cut(w) // the server has it; the agent never hears
		return
	}
	delivered := r.URL.Path == "/v1/agent/instructions" && bytes.Contains(data, []byte(`"kind"`))
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(data)
	if isReply {
		p.answered.Add(1)
	}
	if delivered && p.killServer.CompareAndSwap(true, false) {
		p.onKillServer()
	}
}

// agentProc is a running `latchkey agent`.
type agentProc struct {
	cmd  *exec.Cmd
	done chan struct{}
	out  *procOutput
}

func startAgent(t *testing.T, server, token, stateDir, groups string, extra ...string) *agentProc {
	t.Helper()
	a := &agentProc{done: make(chan struct{}), out: newProcOutput()}
	args := append([]string{"agent", "--server", server, "--token", token, "--state-dir", stateDir,
		"--executor", "file:" + groups, "--wait", "2s"}, extra...)
	a.cmd = exec.Command(latchkeyBinary(t), args...)
	a.cmd.Env = append(os.Environ(), "LOG_LEVEL=info", "LOG_FORMAT=text", "LATCHKEY_TOKEN_FILE="+filepath.Join(stateDir, "no-token"))
	a.cmd.Stdout, a.cmd.Stderr = a.out, a.out
	a.cmd.SysProcAttr = &syscall.SysProcAttr{}
	setParentDeathSignal(a.cmd.SysProcAttr)
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { a.cmd.Wait(); close(a.done) }()
	t.Cleanup(func() {
		a.kill()
		if t.Failed() {
			t.Logf("agent output:\n%s", a.out.tail(8<<10))
		}
	})
	return a
}

func (a *agentProc) kill() {
	a.cmd.Process.Signal(syscall.SIGKILL)
	<-a.done
}

// A real agent process and a real server, with faults injected between
// them: a lost reply, the agent killed after executing and before its
// reply, the server SIGKILLed right after delivering, and the network down
// for a while. Every check-out ends checked_out, every check-in
// checked_in, every group change is applied exactly once (the file
// executor's log), and no group stays locked. Both store backends.
func TestAgentFaults(t *testing.T) {
	forEachProcessBackend(t, func(t *testing.T, _ sqlstoretest.Backend, storeURL, dataDir string) {
		runAgentFaults(t, storeURL, dataDir)
	})
}

func runAgentFaults(t *testing.T, storeURL, dataDir string) {
	ctx := context.Background()
	flags := []string{"--instruction-lock", "2s", "--sweep-interval", "200ms"}
	server := startServer(t, storeURL, dataDir, flags...)
	token := server.adminLogin(t).Token()
	admin := func() *client.Client { return server.client(token) }
	site, err := admin().CreateSite(ctx, client.SiteCreate{Name: "fault branch"})
	if err != nil {
		t.Fatal(err)
	}
	term, err := admin().RegisterTerminal(ctx, "workstation", site.ID)
	if err != nil {
		t.Fatal(err)
	}
	alice, err := admin().CreatePrincipal(ctx, latchkey.Principal{Name: "alice", Role: latchkey.RoleUser})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin().AddIdentity(ctx, alice.ID, "alice", pw("alice")); err != nil {
		t.Fatal(err)
	}
	set, err := admin().CreateGroupSet(ctx, latchkey.GroupSet{Name: "tools", Groups: []string{"wheel", "docker"}})
	if err != nil {
		t.Fatal(err)
	}

	proxy := newFaultProxy(t, server.URL)
	stateDir, groups := filepath.Join(t.TempDir(), "state"), filepath.Join(t.TempDir(), "groups")
	var agentMu sync.Mutex
	agentP := startAgent(t, proxy.srv.URL, term.Token, stateDir, groups)
	killed := make(chan struct{}, 1)
	proxy.onKillAgent = func() {
		agentMu.Lock()
		a := agentP
		agentMu.Unlock()
		go func() { a.kill(); killed <- struct{}{} }()
	}
	serverDown := make(chan struct{}, 1)
	proxy.onKillServer = func() { serverDown <- struct{}{} }

	waitStatus := func(id string, want latchkey.CheckoutStatus) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			co, err := admin().GetCheckout(ctx, id)
			if err == nil && co.Status == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("check-out %s: %+v, %v; want %s", id, co, err, want)
			}
		}
	}
	members := func() string {
		b, _ := os.ReadFile(groups)
		return strings.TrimSpace(string(b))
	}
	waitMembers := func(want string) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); members() != want; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the workstation's groups: %q, want %q", members(), want)
			}
		}
	}
	// checkout retries a conflict: the groups may still be locked by the
	// previous instruction until its reply is through.
	checkout := func() *client.CheckoutView {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			co, err := admin().CreateCheckout(ctx, latchkey.CheckoutCreate{GroupSet: set.ID, Terminal: term.ID, Principal: alice.ID, Minutes: 30})
			if err == nil {
				return co
			}
			if latchkey.ErrorCode(err) != latchkey.ECONFLICT || time.Now().After(deadline) {
				t.Fatalf("check-out: %v", err)
			}
		}
	}
	both := "docker alice\nwheel alice"

	// 1. The reply reaches the server, its answer is lost.
	proxy.loseReplies.Store(1)
	co1 := checkout()
	waitStatus(co1.ID, latchkey.CheckedOut)
	waitMembers(both)
	for deadline := time.Now().Add(30 * time.Second); proxy.answered.Load() < 1; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the agent's retried reply was never answered")
		}
	}

	// 2. The agent executes the removal and dies before replying; a new
	// agent on the same journal answers the re-delivery from it.
	proxy.killAgentReply.Store(true)
	if _, err := admin().CheckinCheckout(ctx, co1.ID); err != nil {
		t.Fatal(err)
	}
	select {
	case <-killed:
	case <-time.After(30 * time.Second):
		t.Fatal("the agent never replied to the removal")
	}
	waitMembers("") // it executed before it died
	agentMu.Lock()
	agentP = startAgent(t, proxy.srv.URL, term.Token, stateDir, groups)
	agentMu.Unlock()

	// 3. The server is SIGKILLed right after delivering a check-out.
	proxy.killServer.Store(true)
	co2 := checkout()
	select {
	case <-serverDown:
	case <-time.After(30 * time.Second):
		t.Fatal("the check-out was never delivered")
	}
	server.kill()
	server = startServer(t, storeURL, dataDir, flags...)
	proxy.target.Store(server.URL)
	waitStatus(co2.ID, latchkey.CheckedOut)
	waitMembers(both)

	// 4. The network is down while the check-in is made.
	proxy.down.Store(true)
	if _, err := admin().CheckinCheckout(ctx, co2.ID); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	if members() != both {
		t.Fatal("the removal arrived through a network that is down")
	}
	proxy.down.Store(false)
	waitMembers("")

	// 5. Nothing stays locked: a new check-out goes through and ends.
	co3 := checkout()
	waitStatus(co3.ID, latchkey.CheckedOut)
	if _, err := admin().CheckinCheckout(ctx, co3.ID); err != nil {
		t.Fatal(err)
	}
	waitMembers("")

	// The file executor appends a change to its log just after it
	// rewrites the groups file: wait for the last line.
	var log []byte
	for deadline := time.Now().Add(30 * time.Second); strings.Count(string(log), "\n") < 12; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			break // the count below says what is missing
		}
		log, _ = os.ReadFile(groups + ".log")
	}
	perInstr := map[string]int{}
	adds, removes := 0, 0
	for _, line := range strings.Split(strings.TrimSpace(string(log)), "\n") {
		f := strings.Fields(line)
		if len(f) != 4 {
			t.Fatalf("log line %q", line)
		}
		perInstr[f[0]+" "+f[1]+" "+f[3]]++
		if f[0] == "+" {
			adds++
		} else {
			removes++
		}
	}
	for k, n := range perInstr {
		if n != 1 {
			t.Errorf("%s applied %d times, want once", k, n)
		}
	}
	if adds != 6 || removes != 6 {
		t.Fatalf("%d adds and %d removes, want 6 each (3 check-outs of 2 groups):\n%s", adds, removes, log)
	}
	for _, co := range []*client.CheckoutView{co1, co2, co3} {
		waitStatus(co.ID, latchkey.CheckedIn)
	}
}
