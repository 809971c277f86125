package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"testing"
	"time"

	"latchkey/httplimit"
)

// TestPprofBoundsClients: the profiling listener cuts off a slow client
// and answers a connection beyond its cap with 429.
func TestPprofBoundsClients(t *testing.T) {
	var logs bytes.Buffer
	stop, err := startPprof("127.0.0.1:0", httplimit.Limits{ReadTimeout: 500 * time.Millisecond, MaxConns: 1},
		slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	m := regexp.MustCompile(`addr=(\S+)`).FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("no address logged: %s", logs.String())
	}
	addr := m[1]

	slow, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	io.WriteString(slow, "GET /debug/pprof/ HTTP/1.1\r\n")
	go func() {
		for i := 0; i < 200; i++ { // 4 s if never cut
			if _, err := slow.Write([]byte("X")); err != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()

	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, "GET /debug/pprof/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
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
		if i > 20 {
			t.Fatalf("second connection: %d, want 429", resp.StatusCode)
		}
		time.Sleep(10 * time.Millisecond)
	}

	slow.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, rerr := io.ReadAll(slow)
	var ne net.Error
	if errors.As(rerr, &ne) && ne.Timeout() {
		t.Fatal("the slow client was never cut off")
	}
}
