// Package httplimit bounds what clients may cost latchkey's HTTP servers
// (the API, the agent's local socket, the profiling listener): how long a
// request's headers and body may take to arrive, how long an answer may
// take to leave, how long an idle connection stays open, and how many
// connections are open at once. A slow client (slowloris) is cut off; a
// client beyond the connection cap is answered 429 and disconnected at
// once instead of waiting.
package httplimit

import (
	"log"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// Defaults.
const (
	DefaultReadTimeout  = 10 * time.Second
	DefaultWriteTimeout = 2 * time.Minute
	DefaultIdleTimeout  = 120 * time.Second
	DefaultMaxConns     = 10_000
	DefaultHeaderBytes  = 64 << 10
)

// Limits are the bounds of one server. Zero fields take the defaults.
type Limits struct {
	// ReadTimeout bounds the arrival of a request, headers and body
	// together, from its first byte. Once the body is read the bound is
	// lifted: a handler that then waits (a long poll, an event stream) is
	// not cut off.
	ReadTimeout time.Duration
	// WriteTimeout bounds a request's handling and the writing of its
	// answer; a handler that streams (GET /v1/events) sets its own
	// deadline for each write instead.
	WriteTimeout time.Duration
	// IdleTimeout closes a kept-alive connection with no request for this
	// long.
	IdleTimeout time.Duration
	// MaxConns caps the connections open at once; one more is answered
	// 429 and closed.
	MaxConns int
	// MaxHeaderBytes bounds a request's headers.
	MaxHeaderBytes int
}

func (l Limits) withDefaults() Limits {
	if l.ReadTimeout <= 0 {
		l.ReadTimeout = DefaultReadTimeout
	}
	if l.WriteTimeout <= 0 {
		l.WriteTimeout = DefaultWriteTimeout
	}
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = DefaultIdleTimeout
	}
	if l.MaxConns <= 0 {
		l.MaxConns = DefaultMaxConns
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = DefaultHeaderBytes
	}
	return l
}

// Server is an http.Server with Limits: its Serve caps the connections
// of the listener it is given.
type Server struct {
	*http.Server
	maxConns int64
	open     atomic.Int64 // connections the server holds, by ConnState
	refused  atomic.Int64
	refusing chan struct{}
}

// Server returns a server for h with l's timeouts and connection cap.
func (l Limits) Server(h http.Handler, errorLog *log.Logger) *Server {
	l = l.withDefaults()
	s := &Server{maxConns: int64(l.MaxConns), refusing: make(chan struct{}, maxRefusing)}
	s.Server = &http.Server{
		Handler:           l.Handler(h),
		ReadHeaderTimeout: l.ReadTimeout,
		ReadTimeout:       l.ReadTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    l.MaxHeaderBytes,
		ErrorLog:          errorLog,
		ConnState: func(_ net.Conn, st http.ConnState) {
			switch st {
			case http.StateNew:
				s.open.Add(1)
			case http.StateClosed, http.StateHijacked:
				s.open.Add(-1)
			}
		},
	}
	return s
}

// Serve serves on ln, capped: see Listener. For TLS, pass
// tls.NewListener(ln, config) (and not ServeTLS), so that the cap's
// answer is encrypted too.
func (s *Server) Serve(ln net.Listener) error { return s.Server.Serve(s.Listener(ln)) }

// Open is how many connections the server holds now.
func (s *Server) Open() int { return int(s.open.Load()) }

// Refused is how many connections were refused for the cap.
func (s *Server) Refused() int64 { return s.refused.Load() }

// Handler wraps h to give it l.WriteTimeout to answer. (The read
// deadline needs no such care: net/http lifts it once a request's body
// is read, so a handler that waits, such as a long poll, is not cut off;
// TestSlowHandlerNotCut holds it to that.)
func (l Limits) Handler(h http.Handler) http.Handler {
	l = l.withDefaults()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(l.WriteTimeout))
		h.ServeHTTP(w, r)
	})
}
