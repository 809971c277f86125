package apitest_test

// Tests that run real `latchkey serve` processes: the binary is built once
// per test run, each server listens on 127.0.0.1 with a port the kernel
// picks, and every process a test starts is killed when that test ends,
// pass or fail. crash_test.go and nodes_test.go hold the scenarios.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
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
	"testing"
	"time"

	"latchkey"
	"latchkey/client"
	"latchkey/sqlstore/sqlstoretest"
)

// procAdminPassword is the bootstrap admin's password on every server
// process (LATCHKEY_ADMIN_PASSWORD).
const procAdminPassword = "proc-admin-password"

// readyTimeout bounds how long a server may take to say it listens.
const readyTimeout = 20 * time.Second

var procBin struct {
	once sync.Once
	path string
	err  error
}

// latchkeyBinary builds cmd/latchkey once per test run and returns its
// path. It skips the test in -short mode. The binary lives in one
// directory per user and module root under the system temp dir and is
// replaced (by rename, so a running copy is never overwritten) on every
// run.
func latchkeyBinary(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping: runs real latchkey serve processes")
	}
	procBin.once.Do(func() { procBin.path, procBin.err = buildLatchkey() })
	if procBin.err != nil {
		t.Fatalf("build latchkey: %v", procBin.err)
	}
	return procBin.path
}

func buildLatchkey() (string, error) {
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	if _, err := os.Stat(filepath.Join(root, "cmd", "latchkey")); err != nil {
		return "", fmt.Errorf("module root %s: %w", root, err)
	}
	// One directory per user and module root: test runs of other
	// checkouts on the machine never replace this run's binary.
	sum := sha256.Sum256([]byte(root))
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("latchkey-apitest-%d-%x", os.Getuid(), sum[:6]))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(dir, "latchkey-*.tmp")
	if err != nil {
		return "", err
	}
	tmp.Close()
	cmd := exec.Command("go", "build", "-o", tmp.Name(), "./cmd/latchkey")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("go build ./cmd/latchkey: %v\n%s", err, out)
	}
	path := filepath.Join(dir, "latchkey")
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return "", err
	}
	return path, nil
}

// proc is one running `latchkey serve` process.
type proc struct {
	t    testing.TB
	name string
	cmd  *exec.Cmd
	URL  string       // http://127.0.0.1:PORT
	hc   *http.Client // this process's own connections
	out  *procOutput  // its stdout and stderr
	done chan struct{}
	err  error // of Wait, once done is closed
}

var procSeq struct {
	mu sync.Mutex
	n  int
}

// startServer runs `latchkey serve` on storeURL and dataDir, listening on
// 127.0.0.1 with a kernel-picked port, and returns once it says where it
// listens, with extra flags added. The process is killed when t ends.
func startServer(t testing.TB, storeURL, dataDir string, extra ...string) *proc {
	t.Helper()
	bin := latchkeyBinary(t)
	procSeq.mu.Lock()
	procSeq.n++
	name := fmt.Sprintf("serve#%d", procSeq.n)
	procSeq.mu.Unlock()

	p := &proc{t: t, name: name, out: newProcOutput(), done: make(chan struct{})}
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir, "--store", storeURL,
		"--argon2-time", "1", "--argon2-memory", "64", "--argon2-threads", "1"}, extra...)
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(os.Environ(),
		"LATCHKEY_ADMIN_PASSWORD="+procAdminPassword,
		"LOG_LEVEL=info", "LOG_FORMAT=text")
	p.cmd.Stdout = p.out
	p.cmd.Stderr = p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{}
	setParentDeathSignal(p.cmd.SysProcAttr)
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("%s: start: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 32
	p.hc = &http.Client{Transport: tr, Timeout: 30 * time.Second}
	t.Cleanup(func() {
		p.kill()
		tr.CloseIdleConnections()
		if t.Failed() {
			t.Logf("%s output (%s):\n%s", p.name, p.URL, p.out.tail(16<<10))
		}
	})

	select {
	case addr := <-p.out.ready:
		host, _, err := net.SplitHostPort(addr)
		if err != nil || host != "127.0.0.1" {
			t.Fatalf("%s listens on %q, want 127.0.0.1:PORT\n%s", name, addr, p.out.tail(8<<10))
		}
		p.URL = "http://" + addr
	case <-p.done:
		t.Fatalf("%s exited before listening (%v):\n%s", name, p.err, p.out.tail(8<<10))
	case <-time.After(readyTimeout):
		p.kill()
		t.Fatalf("%s did not say `listening on http://ADDR` within %v:\n%s", name, readyTimeout, p.out.tail(8<<10))
	}
	assertLoopbackOnly(t, p)
	return p
}

// forEachProcessBackend runs fn in a parallel subtest per store backend,
// with the data dir and store URL a real server process uses there:
// SQLite in the data dir, or a fresh PostgreSQL schema. It skips in -short
// mode before any set-up.
func forEachProcessBackend(t *testing.T, fn func(t *testing.T, b sqlstoretest.Backend, storeURL, dataDir string)) {
	for _, b := range sqlstoretest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			latchkeyBinary(t)
			dataDir := t.TempDir()
			storeURL := "sqlite://" + filepath.Join(dataDir, "latchkey.db")
			if b.Name != "sqlite" {
				storeURL = b.URL(t)
			}
			fn(t, b, storeURL, dataDir)
		})
	}
}

// kill sends SIGKILL and waits for the process to be gone. It is
// idempotent.
func (p *proc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.t.Errorf("%s (pid %d) still running 10s after SIGKILL", p.name, p.cmd.Process.Pid)
	}
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// client returns an API client for this process acting with token.
func (p *proc) client(token string) *client.Client {
	return client.New(p.URL, client.WithToken(token), client.WithHTTPClient(p.hc))
}

// adminLogin logs the bootstrap admin in on p.
func (p *proc) adminLogin(t testing.TB) *client.Client {
	t.Helper()
	tok, err := p.client("").Login(context.Background(), "admin", procAdminPassword)
	if err != nil {
		t.Fatalf("%s: admin login: %v", p.name, err)
	}
	return p.client(tok.Token)
}

// procOutput collects a process's output and announces the address of
// its `listening on http://ADDR` line.
type procOutput struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	scanned int // bytes of buf already searched for lines
	seen    bool
	ready   chan string
}

func newProcOutput() *procOutput { return &procOutput{ready: make(chan string, 1)} }

const listeningPrefix = "listening on http://"

func (o *procOutput) Write(b []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.Write(b)
	for !o.seen {
		rest := o.buf.Bytes()[o.scanned:]
		nl := bytes.IndexByte(rest, '\n')
		if nl < 0 {
			break
		}
		line := strings.TrimSpace(string(rest[:nl]))
		o.scanned += nl + 1
		if addr, ok := strings.CutPrefix(line, listeningPrefix); ok {
			o.seen = true
			o.ready <- strings.TrimRight(addr, "/")
		}
	}
	return len(b), nil
}

func (o *procOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// tail returns the last n bytes of the output.
func (o *procOutput) tail(n int) string {
	s := o.String()
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// setParentDeathSignal asks Linux to SIGKILL the server if the test binary
// dies without running its cleanups (a panic, a -timeout). The field only
// exists on Linux, hence reflection rather than a build-tagged file.
func setParentDeathSignal(a *syscall.SysProcAttr) {
	if f := reflect.ValueOf(a).Elem().FieldByName("Pdeathsig"); f.IsValid() && f.CanSet() {
		f.Set(reflect.ValueOf(syscall.SIGKILL).Convert(f.Type()))
	}
}

// assertLoopbackOnly checks, where /proc shows it (Linux), that every TCP
// socket the process listens on is bound to a loopback address.
func assertLoopbackOnly(t testing.TB, p *proc) {
	t.Helper()
	addrs, err := listeningAddrs(p.cmd.Process.Pid)
	if err != nil {
		t.Logf("%s: cannot list listening sockets (%v); relying on the announced address", p.name, err)
		return
	}
	if len(addrs) == 0 {
		t.Fatalf("%s announced %s but /proc shows no listening socket", p.name, p.URL)
	}
	for _, a := range addrs {
		host, _, _ := net.SplitHostPort(a)
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			t.Fatalf("%s listens on %s: only 127.0.0.1 is allowed (all: %v)", p.name, a, addrs)
		}
	}
}

// listeningAddrs returns the local addresses of the TCP sockets in LISTEN
// state that process pid holds, from /proc/PID/fd and /proc/PID/net/tcp{,6}.
func listeningAddrs(pid int) ([]string, error) {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return nil, err
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(l, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	var out []string
	for _, f := range []string{"tcp", "tcp6"} {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, f))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) && f == "tcp6" {
				continue
			}
			return nil, err
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			fields := strings.Fields(line)
			if len(fields) < 10 || fields[3] != "0A" || !inodes[fields[9]] {
				continue
			}
			addr, err := procNetAddr(fields[1])
			if err != nil {
				return nil, fmt.Errorf("%s: %q: %w", f, fields[1], err)
			}
			out = append(out, addr)
		}
	}
	return out, nil
}

// procNetAddr decodes a /proc/net/tcp address: hex IP (each 32-bit word
// in host, i.e. little-endian, order) ":" hex port.
func procNetAddr(s string) (string, error) {
	ipHex, portHex, ok := strings.Cut(s, ":")
	if !ok || (len(ipHex) != 8 && len(ipHex) != 32) {
		return "", errors.New("bad address")
	}
	ip := make(net.IP, len(ipHex)/2)
	for i := 0; i < len(ip); i++ {
		b, err := strconv.ParseUint(ipHex[2*i:2*i+2], 16, 8)
		if err != nil {
			return "", err
		}
		word, off := i/4, i%4
		ip[word*4+3-off] = byte(b)
	}
	port, err := strconv.ParseUint(portHex, 16, 16)
	if err != nil {
		return "", err
	}
	return net.JoinHostPort(ip.String(), strconv.FormatUint(port, 10)), nil
}

// isTransportError reports whether err is a failure to get any answer
// (connection refused or reset, EOF): neither the API's error shape nor
// another HTTP status. Such a call's outcome is unknown.
func isTransportError(err error) bool {
	if err == nil {
		return false
	}
	var ae *latchkey.Error
	var se *client.StatusError
	return !errors.As(err, &ae) && !errors.As(err, &se)
}

func TestProcLoopbackAddrDecoding(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"0100007F:1F90":                         "127.0.0.1:8080",
		"00000000:0050":                         "0.0.0.0:80",
		"00000000000000000000000001000000:1F90": "[::1]:8080",
		"0000000000000000FFFF00000100007F:0016": "127.0.0.1:22",
		"00000000000000000000000000000000:0016": "[::]:22",
	} {
		got, err := procNetAddr(in)
		if err != nil || got != want {
			t.Errorf("procNetAddr(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// TestProcessServeRestart runs `latchkey serve` on a fresh SQLite data
// dir: it listens only on loopback, bootstraps the admin from
// LATCHKEY_ADMIN_PASSWORD, answers health and readiness, dies on SIGKILL,
// and a restart on the same data dir keeps the admin (no second bootstrap)
// and the admin's token.
func TestProcessServeRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dataDir := t.TempDir()
	storeURL := "sqlite://" + filepath.Join(dataDir, "latchkey.db")
	p := startServer(t, storeURL, dataDir)
	c := p.client("")
	if err := c.Health(ctx); err != nil {
		t.Fatalf("healthz: %v", err)
	}
	if err := c.Ready(ctx); err != nil {
		t.Fatalf("readyz: %v", err)
	}
	// One listening socket, the announced one (where /proc shows it).
	if addrs, err := listeningAddrs(p.cmd.Process.Pid); err == nil {
		if len(addrs) != 1 || "http://"+addrs[0] != p.URL {
			t.Errorf("%s listens on %v, want only %s", p.name, addrs, p.URL)
		}
	}
	admin := p.adminLogin(t)
	site, err := admin.CreateSite(ctx, client.SiteCreate{Name: "before the kill"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p.out.String(), "created principal admin") {
		t.Errorf("first start did not report the bootstrap:\n%s", p.out.tail(4<<10))
	}

	p.kill()
	if !p.exited() {
		t.Fatal("process still running after kill")
	}
	var ee *exec.ExitError
	if !errors.As(p.err, &ee) {
		t.Fatalf("wait after SIGKILL: %v", p.err)
	}
	if err := c.Health(ctx); !isTransportError(err) {
		t.Fatalf("healthz on a killed server: %v, want a transport error", err)
	}

	q := startServer(t, storeURL, dataDir)
	if q.URL == p.URL {
		t.Logf("restart got the same address %s", q.URL)
	}
	if strings.Contains(q.out.String(), "created principal admin") {
		t.Errorf("restart bootstrapped a second admin:\n%s", q.out.tail(4<<10))
	}
	// The token issued before the kill is in the store, not in memory.
	got, err := q.client(admin.Token()).GetSite(ctx, site.ID)
	if err != nil {
		t.Fatalf("old admin token after restart: %v", err)
	}
	if got.Name != site.Name {
		t.Fatalf("site after restart = %+v", got)
	}
	q.adminLogin(t)
}

// A SIGHUP (a service manager's reload) to a server without TLS, which
// has nothing to reread, is logged and changes nothing: the server keeps
// answering. (It used to end the process at once, undrained.)
func TestServeWithoutTLSSurvivesSIGHUP(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dataDir := t.TempDir()
	p := startServer(t, "sqlite://"+filepath.Join(dataDir, "latchkey.db"), dataDir)
	for i := range 2 {
		if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(10 * time.Second); strings.Count(p.out.String(), "SIGHUP: nothing to reload") <= i; time.Sleep(20 * time.Millisecond) {
			if p.exited() || time.Now().After(deadline) {
				t.Fatalf("after SIGHUP %d: exited %v\n%s", i+1, p.exited(), p.out.tail(4<<10))
			}
		}
	}
	if err := p.client("").Ready(ctx); err != nil {
		t.Fatalf("readyz after two SIGHUPs: %v", err)
	}
}
