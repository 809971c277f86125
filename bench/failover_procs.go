package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The processes of the failover soak: three `latchkey serve` nodes, each
// restartable on its own loopback port, and the agents (`latchkey agent`
// with the file executor). Every process gets SIGKILL if the soak itself
// dies (Linux), and is killed when the soak ends.

// soakNode is one `latchkey serve` process, restarted on the same port
// after a SIGKILL so that the clients' URL lists stay valid.
type soakNode struct {
	n       int    // 1, 2, 3
	addr    string // 127.0.0.1:PORT
	dataDir string
	logPath string

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{} // closed when the current process has exited
	stopped bool          // SIGSTOPped and not yet continued
	starts  int
}

func (nd *soakNode) url() string { return "http://" + nd.addr }

// freePorts finds n free loopback ports below the kernel's ephemeral
// range: a killed node is restarted on its port, and a port of that
// range may meanwhile be taken as the local end of an outgoing
// connection (the nodes' own to the database, say). Where the range
// cannot be read, the kernel picks.
func freePorts(n int) ([]string, error) {
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	low := ephemeralLow()
	var out []string
	for tries := 0; len(out) < n; tries++ {
		addr := "127.0.0.1:0"
		if low > 11000 && tries < 1000 {
			addr = fmt.Sprintf("127.0.0.1:%d", 10000+mrand.IntN(low-10000))
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			if addr == "127.0.0.1:0" {
				return nil, err
			}
			continue
		}
		lns = append(lns, l)
		out = append(out, l.Addr().String())
	}
	return out, nil
}

// ephemeralLow is the first port of Linux's ephemeral range, or 0.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0
	}
	low, err := strconv.Atoi(f[0])
	if err != nil {
		return 0
	}
	return low
}

// start runs the node's process and returns once it says it listens (at
// most startTimeout). The store URL goes in the environment, not the
// arguments, so that a password in it is not shown by ps.
func (nd *soakNode) start(bin, storeURL, adminPassword string, extra []string) error {
	const startTimeout = 30 * time.Second
	f, err := os.OpenFile(nd.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	out := newReadyWriter(f)
	args := append([]string{"serve", "--listen", nd.addr, "--data-dir", nd.dataDir}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "LATCHKEY_STORE="+storeURL, "LATCHKEY_ADMIN_PASSWORD="+adminPassword,
		"LOG_LEVEL=info", "LOG_FORMAT=text")
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	setParentDeathSignal(cmd.SysProcAttr)
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("node %d: start %s: %w", nd.n, bin, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); f.Close(); close(done) }()
	nd.mu.Lock()
	nd.cmd, nd.done, nd.stopped = cmd, done, false
	nd.starts++
	nd.mu.Unlock()
	select {
	case <-out.ready:
		return nil
	case <-done:
		return fmt.Errorf("node %d exited before listening: %s", nd.n, lastLine(nd.logPath))
	case <-time.After(startTimeout):
		nd.kill()
		return fmt.Errorf("node %d did not listen within %s (see %s)", nd.n, startTimeout, nd.logPath)
	}
}

// lastLine is the last line of a log file, to say why a process ended.
func lastLine(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

// signal sends sig to the current process (nothing when it has exited).
func (nd *soakNode) signal(sig syscall.Signal) {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if nd.cmd == nil || nd.cmd.Process == nil {
		return
	}
	select {
	case <-nd.done:
		return
	default:
	}
	nd.cmd.Process.Signal(sig)
	switch sig {
	case syscall.SIGSTOP:
		nd.stopped = true
	case syscall.SIGCONT:
		nd.stopped = false
	}
}

// stop SIGSTOPs the process and waits (at most 200 ms) until Linux shows
// it stopped: the signal is delivered asynchronously.
func (nd *soakNode) stop() {
	nd.signal(syscall.SIGSTOP)
	nd.mu.Lock()
	pid := 0
	if nd.cmd != nil && nd.cmd.Process != nil {
		pid = nd.cmd.Process.Pid
	}
	nd.mu.Unlock()
	stat := fmt.Sprintf("/proc/%d/stat", pid)
	for until := time.Now().Add(200 * time.Millisecond); time.Now().Before(until); time.Sleep(time.Millisecond) {
		b, err := os.ReadFile(stat)
		if err != nil {
			time.Sleep(10 * time.Millisecond) // no /proc: give it a moment
			return
		}
		// pid (comm) state ...: the state follows the last ')'.
		if i := bytes.LastIndexByte(b, ')'); i > 0 && i+2 < len(b) && (b[i+2] == 'T' || b[i+2] == 't') {
			return
		}
	}
}

// kill SIGKILLs the current process and waits (at most 10 s) until it
// is gone.
func (nd *soakNode) kill() {
	nd.signal(syscall.SIGKILL)
	nd.mu.Lock()
	done := nd.done
	nd.mu.Unlock()
	if done == nil {
		return
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
	}
}

// ready waits (at most within) until the node answers /readyz with 200.
func (nd *soakNode) ready(ctx context.Context, hc *http.Client, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, nd.url()+"/readyz", nil)
		if err != nil {
			return err
		}
		resp, err := hc.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("node %d not ready within %s (last: %v)", nd.n, within, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// soakAgent is one `latchkey agent` process with the file executor: its
// groups file, and groups file + ".log" listing every change it applied.
type soakAgent struct {
	terminal string
	groups   string
	cmd      *exec.Cmd
	done     chan struct{}
}

func startSoakAgent(bin, servers, token, dir string) (*soakAgent, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	a := &soakAgent{groups: filepath.Join(dir, "groups"), done: make(chan struct{})}
	f, err := os.OpenFile(filepath.Join(dir, "agent.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	// The token goes in the environment (what --terminal-token defaults
	// to), not the arguments, so ps does not show it.
	a.cmd = exec.Command(bin, "agent", "--server", servers, "--state-dir", filepath.Join(dir, "state"),
		"--executor", "file:"+a.groups, "--wait", "5s", "--socket", "none")
	a.cmd.Env = append(os.Environ(), "LATCHKEY_TERMINAL_TOKEN="+token, "LATCHKEY_TOKEN_FILE="+filepath.Join(dir, "no-token-file"),
		"LOG_LEVEL=info", "LOG_FORMAT=text")
	a.cmd.Stdout, a.cmd.Stderr = f, f
	a.cmd.SysProcAttr = &syscall.SysProcAttr{}
	setParentDeathSignal(a.cmd.SysProcAttr)
	if err := a.cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start agent: %w", err)
	}
	go func() { a.cmd.Wait(); f.Close(); close(a.done) }()
	return a, nil
}

func (a *soakAgent) exited() bool {
	select {
	case <-a.done:
		return true
	default:
		return false
	}
}

func (a *soakAgent) kill() {
	if a.exited() {
		return
	}
	a.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-a.done:
	case <-time.After(10 * time.Second):
	}
}

// readyWriter passes a process's output to w and announces, once, that a
// line "listening on http://..." went by.
type readyWriter struct {
	w     io.Writer
	mu    sync.Mutex
	line  []byte // the line being written, until its newline
	seen  bool
	ready chan struct{}
}

func newReadyWriter(w io.Writer) *readyWriter { return &readyWriter{w: w, ready: make(chan struct{})} }

func (r *readyWriter) Write(b []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.seen {
		r.line = append(r.line, b...)
		for {
			nl := bytes.IndexByte(r.line, '\n')
			if nl < 0 {
				if len(r.line) > 64<<10 { // a line that long is not the one
					r.line = r.line[:0]
				}
				break
			}
			if strings.HasPrefix(strings.TrimSpace(string(r.line[:nl])), "listening on http://") {
				r.seen = true
				close(r.ready)
				r.line = nil
				break
			}
			r.line = r.line[nl+1:]
		}
	}
	return r.w.Write(b)
}

// setParentDeathSignal asks Linux to SIGKILL the child if the soak dies
// without cleaning up. The field exists only on Linux, hence reflection
// rather than a build-tagged file.
func setParentDeathSignal(a *syscall.SysProcAttr) {
	if f := reflect.ValueOf(a).Elem().FieldByName("Pdeathsig"); f.IsValid() && f.CanSet() {
		f.Set(reflect.ValueOf(syscall.SIGKILL).Convert(f.Type()))
	}
}
