package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	lkhttp "latchkey/http"
)

func TestServeEdgeFlags(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--read-timeout", "0s"},
		{"serve", "--idle-timeout", "0s"},
		{"serve", "--max-conns", "0"},
		{"serve", "--max-streams", "4", "--max-streams-per-token", "8"},
		{"serve", "--max-streams-per-token", "0"},
		{"serve", "--login-throttle-address", "10"},
		{"serve", "--login-throttle-identity", "0/1m"},
		{"serve", "--trusted-proxy", "proxy.example"},
		{"serve", "--login-inflight", "0"},
	} {
		var stdout, stderr bytes.Buffer
		if code := Run(context.Background(), args, strings.NewReader(""), &stdout, &stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s", args, code, stderr.String())
		}
	}
}

// TestEdgeOptions: the flags reach the server's options, and /metrics is
// public on a loopback listener or with --metrics-public only.
func TestEdgeOptions(t *testing.T) {
	parse := func(args ...string) *edgeFlags {
		t.Helper()
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		f := defaultEdgeFlags()
		f.addFlags(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		if err := f.check(); err != nil {
			t.Fatal(err)
		}
		return &f
	}
	public := &net.TCPAddr{IP: net.ParseIP("192.0.2.10"), Port: 7420}
	loop := &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 7420}
	var o lkhttp.Options
	parse().apply(&o, public)
	wantAddr, wantIdent := lkhttp.DefaultAddressWindow, lkhttp.DefaultIdentityWindow
	wantAddr.InFlight, wantIdent.InFlight = lkhttp.DefaultInFlight, lkhttp.DefaultInFlight
	if o.MetricsPublic || o.AddressThrottle != wantAddr || o.IdentityThrottle != wantIdent ||
		o.MaxStreams != 10000 || o.MaxStreamsPerToken != 8 || len(o.TrustedProxies) != 0 {
		t.Errorf("defaults: %+v", o)
	}
	parse().apply(&o, loop)
	if !o.MetricsPublic {
		t.Error("loopback listener: metrics not public")
	}
	parse("--metrics-public", "--login-throttle-address", "5/30s", "--login-throttle-identity", "off",
		"--trusted-proxy", "10.0.0.0/8", "--trusted-proxy", "192.0.2.1", "--max-streams-per-token", "2", "--login-inflight", "7").apply(&o, public)
	if !o.MetricsPublic || o.AddressThrottle != (lkhttp.Window{Limit: 5, Per: 30 * time.Second, InFlight: 7}) || !o.IdentityThrottle.Off() ||
		len(o.TrustedProxies) != 2 || o.MaxStreamsPerToken != 2 {
		t.Errorf("set: %+v", o)
	}
	if l := parse("--read-timeout", "3s", "--idle-timeout", "30s", "--max-conns", "100").limits(); l.ReadTimeout != 3*time.Second || l.IdleTimeout != 30*time.Second || l.MaxConns != 100 {
		t.Errorf("limits %+v", l)
	}
}

// startServe runs the real serve with extra flags on 127.0.0.1:0 and
// returns its address.
func startServe(t *testing.T, extra ...string) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("LATCHKEY_ADMIN_PASSWORD", "edge-admin-pw")
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"),
		"--argon2-time", "1", "--argon2-memory", "64"}, extra...)
	go func() {
		done <- Run(ctx, args, strings.NewReader(""), io.Discard, pw)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("serve did not stop")
		}
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "listening on http://"); ok {
				addr <- a
			}
		}
	}()
	select {
	case a := <-addr:
		return a
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not start")
	}
	panic("unreachable")
}

// TestServeBoundsClients runs the real serve: a slowloris client is cut
// off after --read-timeout, a connection beyond --max-conns gets 429 at
// once, and /metrics on this loopback listener needs no token.
func TestServeBoundsClients(t *testing.T) {
	// The read timeout also closes the idle connections the cap test
	// holds open: it is long enough for that test to run on a busy machine.
	// Nothing else is connected before the cap test: a connection the
	// client closed may still count on the server for a moment, and would
	// take one of the two places.
	addr := startServe(t, "--read-timeout", "8s", "--max-conns", "2")

	slow, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	io.WriteString(slow, "POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 300\r\n\r\n{")
	cut := make(chan bool, 1)
	go func() {
		for i := 0; i < 1000; i++ { // 20 s if never cut
			if _, err := slow.Write([]byte(" ")); err != nil {
				cut <- true
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		cut <- false
	}()
	other, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	// Two connections are open (the slow one and other): a third is refused.
	deadline := time.Now().Add(5 * time.Second) // well inside the read timeout
	for {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == 429 {
			break
		}
		if time.Now().After(deadline) { // the server may not have seen both yet
			t.Fatalf("third connection: %d, want 429", resp.StatusCode)
		}
		time.Sleep(10 * time.Millisecond)
	}

	slow.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, rerr := io.ReadAll(slow)
	var ne net.Error
	if errors.As(rerr, &ne) && ne.Timeout() {
		t.Fatal("the slowloris client was never cut off")
	}
	if !<-cut {
		t.Fatal("every byte of the slow body was accepted")
	}

	// The places are free again once the server has seen both closes.
	other.Close()
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for deadline := time.Now().Add(5 * time.Second); ; {
		resp, err := hc.Get("http://" + addr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == 200 {
			break
		}
		if resp.StatusCode != 429 || time.Now().After(deadline) {
			t.Fatalf("/metrics on loopback: %d, want 200", resp.StatusCode)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
