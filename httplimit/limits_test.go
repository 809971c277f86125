package httplimit_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"latchkey/httplimit"
)

// serve runs h with limits on 127.0.0.1 and returns the server and its
// address.
func serve(t *testing.T, l httplimit.Limits, h http.Handler) (*httplimit.Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := l.Server(h, nil)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return srv, ln.Addr().String()
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// trickle writes s one byte at a time, every gap, until the server closes
// the connection (it returns how many bytes went out) or s is sent.
func trickle(c net.Conn, s string, gap time.Duration) (int, error) {
	for i := 0; i < len(s); i++ {
		c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte{s[i]}); err != nil {
			return i, err
		}
		time.Sleep(gap)
	}
	return len(s), nil
}

// closedByServer waits (at most 10 s) until the server closes c; it
// returns what the server sent before.
func closedByServer(t *testing.T, c net.Conn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server kept the connection open (read %q)", b)
	}
	return string(b)
}

var quick = httplimit.Limits{ReadTimeout: 300 * time.Millisecond, IdleTimeout: 300 * time.Millisecond, WriteTimeout: 5 * time.Second}

// TestSlowlorisHeaders: a client sending its headers a byte at a time is
// cut off after ReadTimeout; the handler never runs.
func TestSlowlorisHeaders(t *testing.T) {
	t.Parallel()
	var ran atomic.Bool
	_, addr := serve(t, quick, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { ran.Store(true) }))
	c := dial(t, addr)
	head := "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("a", 200) + "\r\n\r\n"
	done := make(chan struct{})
	var sent int
	go func() {
		defer close(done)
		sent, _ = trickle(c, head, 20*time.Millisecond) // 4+ s if never cut
	}()
	closedByServer(t, c)
	<-done
	if ran.Load() {
		t.Fatal("the handler ran for a request whose headers never finished in time")
	}
	if sent == len(head) {
		t.Fatalf("all %d bytes were accepted", sent)
	}
}

// TestSlowlorisBody: a client sending its body a byte at a time (after
// quick headers) is cut off too: the handler's read fails and the
// connection closes.
func TestSlowlorisBody(t *testing.T) {
	t.Parallel()
	readErr := make(chan error, 1)
	_, addr := serve(t, quick, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		readErr <- err
	}))
	c := dial(t, addr)
	body := strings.Repeat("b", 200)
	if _, err := io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	go trickle(c, body, 20*time.Millisecond)
	select {
	case err := <-readErr:
		if err == nil {
			t.Fatal("the whole slow body was read")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the body read was never cut off")
	}
	closedByServer(t, c)
}

// TestSlowHandlerNotCut: once a request has arrived, a handler may take
// longer than ReadTimeout (a long poll): its context is not ended.
func TestSlowHandlerNotCut(t *testing.T) {
	t.Parallel()
	_, addr := serve(t, quick, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		select {
		case <-r.Context().Done():
			w.WriteHeader(http.StatusServiceUnavailable)
		case <-time.After(3 * quick.ReadTimeout):
			io.WriteString(w, "waited")
		}
	}))
	for _, req := range []func() (*http.Response, error){
		func() (*http.Response, error) { return http.Get("http://" + addr + "/") },
		func() (*http.Response, error) {
			return http.Post("http://"+addr+"/", "application/json", strings.NewReader(`{"a":1}`))
		},
	} {
		resp, err := req()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "waited" {
			t.Fatalf("status %d %q: the slow handler was cut off", resp.StatusCode, b)
		}
	}
}

// TestIdleConnectionClosed: a kept-alive connection with no new request
// is closed after IdleTimeout.
func TestIdleConnectionClosed(t *testing.T) {
	t.Parallel()
	_, addr := serve(t, quick, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	c := dial(t, addr)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	closedByServer(t, c)
}

// TestConnectionCap: beyond MaxConns, a client gets 429 with Retry-After
// at once and its connection is closed; when a place is free, a new
// connection is served again.
func TestConnectionCap(t *testing.T) {
	t.Parallel()
	l := httplimit.Limits{ReadTimeout: 10 * time.Second, MaxConns: 2}
	srv, addr := serve(t, l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	held := []net.Conn{dial(t, addr), dial(t, addr)}
	for i := 0; srv.Open() < 2; i++ { // accepted asynchronously
		if i > 500 {
			t.Fatalf("the server holds %d connections, want 2", srv.Open())
		}
		time.Sleep(10 * time.Millisecond)
	}

	// A raw client: the answer, then the close.
	c := dial(t, addr)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	got := closedByServer(t, c)
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(got)), nil)
	if err != nil {
		t.Fatalf("answer %q: %v", got, err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "1" || !strings.Contains(string(b), `"code":"rate_limited"`) {
		t.Fatalf("answer %d %v %s", resp.StatusCode, resp.Header, b)
	}

	// Go's client sees the 429 too, not a transport error.
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	resp, err = hc.Post("http://"+addr+"/", "application/json", strings.NewReader(`{"x":"`+strings.Repeat("y", 4096)+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 {
		t.Fatalf("Go client: status %d", resp.StatusCode)
	}
	if srv.Refused() != 2 {
		t.Errorf("refused %d, want 2", srv.Refused())
	}

	held[0].Close()
	for i := 0; ; i++ {
		resp, err := hc.Get("http://" + addr + "/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if i > 100 {
			t.Fatalf("no connection served after one closed: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
