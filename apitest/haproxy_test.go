package apitest_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"latchkey/client"
)

// haproxyConfig is the load balancer docs/cluster.md shows, for nodes
// on loopback: health checks on /readyz every 200ms (a draining node is
// out after one failed check: its 503 comes at once), and a request that
// cannot connect to its node sent to another (retry-on conn-failure,
// redispatch). A check may take up to a second (timeout check): with
// the default, the interval, one answer slower than 200ms on a loaded
// machine took the last node up out too, and a call got HAProxy's own
// 503 (CI, TestHAProxyNodesDieAndDrain).
const haproxyConfig = `global
    maxconn 1000
defaults
    mode http
    timeout connect 1s
    timeout client 60s
    timeout server 60s
    timeout check 1s
    retries 3
    retry-on conn-failure
    option redispatch 1
frontend api
    bind 127.0.0.1:%d
    default_backend nodes
backend nodes
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter 200ms fall 1 rise 2
%s`

// startHAProxy runs haproxy in front of the nodes and returns its URL.
// Without the haproxy binary the test is skipped, unless
// LATCHKEY_REQUIRE_HAPROXY is set (CI installs it and sets it).
func startHAProxy(t *testing.T, nodes []*proc) string {
	t.Helper()
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		if os.Getenv("LATCHKEY_REQUIRE_HAPROXY") != "" {
			t.Fatal("haproxy is required (LATCHKEY_REQUIRE_HAPROXY) and not installed")
		}
		t.Skip("haproxy is not installed (apt-get install haproxy)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	var servers strings.Builder
	for i, n := range nodes {
		fmt.Fprintf(&servers, "    server node%d %s check\n", i+1, strings.TrimPrefix(n.URL, "http://"))
	}
	cfg := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(haproxyConfig, port, servers.String())), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-f", cfg, "-db")
	out := newProcOutput()
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	setParentDeathSignal(cmd.SysProcAttr)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("haproxy output:\n%s", out.tail(8<<10))
		}
	})
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := client.New(url).Nodes(context.Background()); err != nil && !isTransportError(err) {
			return url // it answers (401: no token)
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy did not start:\n%s", out.tail(4<<10))
		}
	}
}

// Three nodes behind a real HAProxy, a client that knows only HAProxy: a
// node SIGKILLed between two calls (scenario 7: the next call cannot
// connect to it and HAProxy sends it on), then a node SIGTERMed (it
// drains: /readyz 503, HAProxy takes it out, then it stops). Not one call
// fails.
func TestHAProxyNodesDieAndDrain(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 0, "--drain-wait", "1500ms") // HAProxy checks every 200ms
	lb := startHAProxy(t, c.nodes)
	admin := client.New(lb, client.WithToken(c.admin.Token()))
	ctx := context.Background()
	calls := 0
	call := func(phase string) {
		t.Helper()
		calls++
		if _, err := admin.CreateSite(ctx, client.SiteCreate{Name: fmt.Sprintf("%s %d", phase, calls)}); err != nil {
			t.Fatalf("call %d (%s) through haproxy: %v", calls, phase, err)
		}
	}
	for range 20 {
		call("all up")
	}
	c.nodes[0].kill()
	for range 40 {
		call("node 1 killed")
	}
	if err := c.nodes[1].cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	drained := time.Now().Add(5 * time.Second)
	for time.Now().Before(drained) {
		call("node 2 draining")
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case <-c.nodes[1].done:
	case <-time.After(10 * time.Second):
		t.Fatal("the SIGTERMed node did not stop")
	}
	for range 20 {
		call("one node left")
	}
}
