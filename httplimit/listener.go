package httplimit

import (
	"bytes"
	"io"
	"net"
	"strconv"
	"time"
)

// refusal is the answer to a connection beyond the cap: 429 in the API's
// error shape, then the connection closes.
var refusal = func() []byte {
	body := `{"error":{"code":"rate_limited","message":"too many connections are open to this server; try again later","details":{"scope":"connections","retry_after_seconds":1}}}` + "\n"
	return []byte("HTTP/1.1 429 Too Many Requests\r\n" +
		"Content-Type: application/json\r\n" +
		"Retry-After: 1\r\n" +
		"Connection: close\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
}()

// How a refused connection is answered: its request head is read for at
// most refuseTimeout (so that the client, which is still sending it, reads
// the answer instead of a reset), the 429 written, and the rest drained
// until the client closes, all within refuseTimeout. At most maxRefusing
// connections are answered at once; beyond that, a refused connection is
// closed at once.
const (
	refuseTimeout = 2 * time.Second
	maxRefusing   = 256
	maxRequestLen = 16 << 10
)

// Listener wraps ln so that a connection accepted while the server holds
// its cap of connections is answered "429 Too Many Requests" and closed:
// it never reaches the server, and costs at most a short-lived goroutine.
func (s *Server) Listener(ln net.Listener) net.Listener {
	return &limitListener{Listener: ln, s: s}
}

type limitListener struct {
	net.Listener
	s *Server
}

// Accept runs in the server's accept loop, which reports each connection
// it returns (ConnState new) before it calls Accept again: the count it
// reads is never behind.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.s.open.Load() < l.s.maxConns {
			return c, nil
		}
		l.s.refused.Add(1)
		select {
		case l.s.refusing <- struct{}{}:
			go func() {
				defer func() { <-l.s.refusing }()
				refuse(c)
			}()
		default:
			c.Close()
		}
	}
}

// refuse answers c with the 429 and closes it.
func refuse(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(refuseTimeout))
	buf := make([]byte, 0, 1024)
	chunk := make([]byte, 1024)
	for len(buf) < maxRequestLen && !bytes.Contains(buf, []byte("\r\n\r\n")) {
		n, err := c.Read(chunk)
		buf = append(buf, chunk[:n]...)
		if err != nil {
			break
		}
	}
	if _, err := c.Write(refusal); err != nil {
		return
	}
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(c, 1<<20))
}
