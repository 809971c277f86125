// Package http is latchkey's HTTP server: the public API of API.md over a
// latchkey.Store. It decodes and checks requests strictly, authenticates
// bearer tokens, gates every route by role, answers errors in the API's
// shape through one code-to-status map, replays Idempotency-Key requests,
// and exports Prometheus metrics.
package http

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	nethttp "net/http"
	"net/netip"
	"runtime/debug"
	"sync/atomic"
	"time"

	"latchkey"
)

// Options configures a Server.
type Options struct {
	Logger       *slog.Logger // nil → slog.Default()
	MaxBodyBytes int64        // 0 → 1 MiB
	// StreamHeartbeat is how often an idle event stream sends a comment
	// line and re-checks its token (0 → 15 s).
	StreamHeartbeat time.Duration

	// The login throttle (login_throttle.go): failed password checks
	// allowed per client address and per identity (zero → the defaults,
	// NoThrottle → none), how many keys each remembers (0 → 50,000), the
	// proxies whose X-Forwarded-For names the client, and its clock (nil →
	// time.Now).
	AddressThrottle  Window
	IdentityThrottle Window
	ThrottleKeys     int
	TrustedProxies   []netip.Prefix
	Now              func() time.Time

	// Event streams (GET /v1/events) open at once, per token and in all
	// (0 → 8 and 10,000).
	MaxStreamsPerToken int
	MaxStreams         int

	// WriteTimeout bounds the handling and answer of each request but an
	// event stream, whose writes get streamWriteTimeout each (0 → the
	// longest long poll and a minute).
	WriteTimeout time.Duration

	// CheckoutWarning is how long before a check-out ends the console
	// warns its person, as the store's sweep does (0 → the default,
	// negative → never).
	CheckoutWarning time.Duration

	// MetricsPublic serves GET /metrics to anyone; otherwise it needs an
	// admin or delegate token. Serve sets it for a loopback listener.
	MetricsPublic bool
}

// Server serves the API over a store.
type Server struct {
	store   latchkey.Store
	logger  *slog.Logger
	maxBody int64
	mux     *nethttp.ServeMux
	// patterns are the routes registered on mux, in order (Routes).
	patterns []string
	metrics  *metrics
	// streams ends every event stream when cancelled (EndStreams).
	streams       context.Context
	endStreams    context.CancelFunc
	heartbeat     time.Duration
	guard         *loginThrottle
	streamCaps    *streamLimit
	frames        *frameCache
	metricsPublic bool
	writeTimeout  time.Duration
	// checkoutWarning: Options.CheckoutWarning.
	checkoutWarning time.Duration
	// draining: the node is stopping; /readyz says so (Drain).
	draining atomic.Bool
}

// Drain makes /readyz answer 503 from now on, so that a load balancer
// stops sending this node new work before it stops; the node still serves
// what it is sent meanwhile.
func (s *Server) Drain() { s.draining.Store(true) }

// NewServer returns a server over store. Its routes are ready: serve
// Handler().
func NewServer(store latchkey.Store, opts Options) *Server {
	s := &Server{
		store:           store,
		logger:          opts.Logger,
		maxBody:         opts.MaxBodyBytes,
		mux:             nethttp.NewServeMux(),
		metrics:         newMetrics(store),
		heartbeat:       opts.StreamHeartbeat,
		guard:           newLoginThrottle(opts),
		streamCaps:      newStreamLimit(opts.MaxStreamsPerToken, opts.MaxStreams),
		frames:          &frameCache{},
		metricsPublic:   opts.MetricsPublic,
		writeTimeout:    opts.WriteTimeout,
		checkoutWarning: opts.CheckoutWarning,
	}
	if s.checkoutWarning == 0 {
		s.checkoutWarning = latchkey.DefaultCheckoutWarning
	}
	if s.writeTimeout <= 0 {
		s.writeTimeout = requestWriteTimeout
	}
	s.streams, s.endStreams = context.WithCancel(context.Background())
	if s.heartbeat <= 0 {
		s.heartbeat = streamHeartbeat
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	s.routes()
	s.consoleRoutes()
	return s
}

// Handler returns the full API: the router with its middleware (request
// ID, panic recovery, metrics, access log).
func (s *Server) Handler() nethttp.Handler { return nethttp.HandlerFunc(s.serveHTTP) }

// EndStreams ends every open event stream (GET /v1/events), now and
// later: call it when shutting down, since a stream never ends by itself.
// Clients reconnect elsewhere and resume with Last-Event-ID.
func (s *Server) EndStreams() { s.endStreams() }

// requestWriteTimeout is the default WriteTimeout.
const requestWriteTimeout = maxInstructionWait + time.Minute

type requestIDKey struct{}

// requestID returns the ID given to r by the middleware.
func requestID(r *nethttp.Request) string {
	id, _ := r.Context().Value(requestIDKey{}).(string)
	return id
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// requestAttrs are the log attributes of a request: never its body, its
// query or its headers (they may hold passwords and tokens).
func requestAttrs(r *nethttp.Request) []slog.Attr {
	return []slog.Attr{
		slog.String("request_id", requestID(r)),
		slog.String("method", r.Method),
		slog.String("route", routeLabel(r)),
	}
}

func routeLabel(r *nethttp.Request) string {
	if r.Pattern == "" {
		return "unmatched"
	}
	return r.Pattern
}

// serveHTTP is the outermost middleware.
func (s *Server) serveHTTP(w nethttp.ResponseWriter, r *nethttp.Request) {
	start := time.Now()
	// Each answer must be written in time (the longest long poll and a
	// minute), so that a client that stops reading cannot hold the
	// handler; this also replaces a deadline an earlier request on the
	// connection left. Event streams set their own, per write.
	_ = nethttp.NewResponseController(w).SetWriteDeadline(start.Add(s.writeTimeout))
	id := newRequestID()
	w.Header().Set("X-Request-Id", id)
	r = r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id))
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		p := recover()
		if p != nil && p != nethttp.ErrAbortHandler {
			attrs := []slog.Attr{slog.String("panic", fmt.Sprint(p)), slog.String("stack", string(debug.Stack()))}
			if sw.status == 0 {
				s.internal(sw, r, "handler panic", attrs...)
			} else {
				s.logger.LogAttrs(r.Context(), slog.LevelError, "handler panic after response started",
					append(requestAttrs(r), attrs...)...)
			}
		}
		status := sw.status
		if status == 0 {
			status = nethttp.StatusOK
		}
		elapsed := time.Since(start)
		s.metrics.observe(routeLabel(r), status, elapsed)
		if s.logger.Enabled(r.Context(), slog.LevelDebug) {
			s.logger.LogAttrs(r.Context(), slog.LevelDebug, "request", append(requestAttrs(r),
				slog.Int("status", status), slog.Duration("elapsed", elapsed))...)
		}
		if p == nethttp.ErrAbortHandler {
			panic(p)
		}
	}()
	s.dispatch(sw, r)
}

// dispatch routes r. A request no route matches gets the mux's answer (404,
// or 405 with Allow) in the API's error shape.
func (s *Server) dispatch(w nethttp.ResponseWriter, r *nethttp.Request) {
	if _, pattern := s.mux.Handler(r); pattern != "" {
		s.mux.ServeHTTP(w, r)
		return
	}
	rec := &headerRecorder{header: nethttp.Header{}}
	s.mux.ServeHTTP(rec, r)
	switch rec.status {
	case nethttp.StatusMethodNotAllowed:
		if allow := rec.header.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		writeErrorStatus(w, nethttp.StatusMethodNotAllowed,
			latchkey.Errorf(latchkey.EBADREQUEST, "method %s is not allowed on %s", r.Method, r.URL.Path).
				With("field", "method").With("allow", rec.header.Get("Allow")))
	default:
		s.writeError(w, r, latchkey.Errorf(latchkey.ENOTFOUND, "no such endpoint: %s %s", r.Method, r.URL.Path))
	}
}

// statusWriter remembers the status written through it.
type statusWriter struct {
	nethttp.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = nethttp.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (flushing for
// streams, deadlines).
func (w *statusWriter) Unwrap() nethttp.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = nethttp.StatusOK
	}
	_ = nethttp.NewResponseController(w.ResponseWriter).Flush()
}

// headerRecorder captures the status and headers of the mux's own answer
// to an unmatched request, discarding its text body.
type headerRecorder struct {
	header nethttp.Header
	status int
}

func (h *headerRecorder) Header() nethttp.Header { return h.header }
func (h *headerRecorder) WriteHeader(code int) {
	if h.status == 0 {
		h.status = code
	}
}

func (h *headerRecorder) Write(b []byte) (int, error) {
	if h.status == 0 {
		h.status = nethttp.StatusOK
	}
	return len(b), nil
}
