package agent

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"latchkey/httplimit"
)

// TestSocketCutsSlowClients: the local socket cuts off a client that sends
// its request a byte at a time, and answers a connection beyond its cap
// with 429 instead of leaving it waiting.
func TestSocketCutsSlowClients(t *testing.T) {
	t.Parallel()
	fc := newFakeClock()
	f := newFakeServer(t, fc)
	j, err := OpenJournal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	g, err := OpenGateway(context.Background(), GatewayOptions{Client: f.client(), Journal: j, Clock: f.clock,
		Log:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		Socket: httplimit.Limits{ReadTimeout: 300 * time.Millisecond, MaxConns: 1}})
	if err != nil {
		t.Fatal(err)
	}
	sock := serveGateway(t, g)
	dial := func() net.Conn {
		c, err := net.DialTimeout("unix", sock, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}

	slow := dial()
	io.WriteString(slow, "POST /login HTTP/1.1\r\nHost: agent\r\nContent-Length: 100\r\n\r\n{")
	cut := make(chan error, 1)
	go func() {
		for i := 0; i < 200; i++ { // 4 s if never cut
			if _, err := slow.Write([]byte(" ")); err != nil {
				cut <- err
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		cut <- nil
	}()

	// While the slow client holds the only place, another gets 429.
	second := dial()
	io.WriteString(second, "GET /status HTTP/1.1\r\nHost: agent\r\n\r\n")
	second.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(second), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 429 || !strings.Contains(string(b), "rate_limited") {
		t.Fatalf("beyond the cap: %d %s", resp.StatusCode, b)
	}

	slow.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, rerr := io.ReadAll(slow)
	var ne net.Error
	if errors.As(rerr, &ne) && ne.Timeout() {
		t.Fatal("the slow client was never cut off")
	}
	if err := <-cut; err == nil {
		t.Fatal("every byte of the slow body was accepted")
	}
}
