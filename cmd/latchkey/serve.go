package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"latchkey"
	lkhttp "latchkey/http"
	"latchkey/passhash"
	"latchkey/private"
	"latchkey/sqlstore"
)

var serveSynopsis = []string{
	"serve [--listen ADDR] [--data-dir DIR] [--store URL] [--sweep-interval D] [--argon2-time N] [--argon2-memory KiB] [--argon2-threads N] [--max-failures N] [--lockout D] [--staff-backoff-max D] [--token-ttl D] [--managed-domain DOMAIN=LOCK]... [--pg-committers N] [--instruction-lock D] [--redelivery D] [--checkout-warning D] [--reservation-grace D] [--offline-days N] [--offline-cap N] [--idempotency-ttl D] [--pprof-listen ADDR] [--seal-every D] [--seal-dir DIR] [--tls-cert FILE --tls-key FILE] " + edgeSynopsis,
}

// shutdownTimeout bounds how long a stopping server waits for requests in
// flight.
const shutdownTimeout = 10 * time.Second

// runServe runs a server node until SIGINT, SIGTERM or the context ends.
func runServe(e *env, args []string) int {
	c := e.newCmd("serve", synopsisOf(serveSynopsis, "serve"), false)
	cfg, err := parseServeFlags(c.fs, args, os.Getenv)
	var refused refusedStart
	if errors.As(err, &refused) {
		fmt.Fprintf(e.stderr, "latchkey: %v\n", refused)
		return 1
	}
	if err != nil {
		return c.parseFailed(err)
	}

	tuneRuntime()
	stderr := &lockedWriter{w: e.stderr}
	logger, err := newLogger(stderr)
	if err != nil {
		return c.usageError("%v", err)
	}
	ctx, stop := signal.NotifyContext(e.ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	var certs *certStore
	if cfg.tls.enabled() {
		if certs, err = loadCertStore(cfg.tls.cert, cfg.tls.key); err != nil {
			fmt.Fprintf(stderr, "latchkey: tls: %v\n", err)
			return 1
		}
	}
	// The data dir 0700 whatever it was (the store makes its files 0600).
	if err := private.Dir(cfg.dataDir); err != nil {
		fmt.Fprintf(stderr, "latchkey: data dir: %v\n", err)
		return 1
	}
	params := cfg.passwordParams()
	store, err := sqlstore.Open(ctx, cfg.store, sqlstore.Options{
		Password: params,
		Clock:    nil,
		Attempts: latchkey.AttemptPolicy{MaxFailures: cfg.maxFailures, LockoutDuration: cfg.lockout,
			StaffBackoffBase: latchkey.DefaultAttemptPolicy.StaffBackoffBase, StaffBackoffMax: cfg.staffBackoffMax},
		TokenTTL:         cfg.tokenTTL,
		Config:           cfg.policy,
		Committers:       cfg.pgCommitters,
		ReservationGrace: cfg.reservationGrace,
		OfflineDays:      cfg.offlineDays,
		OfflineCap:       cfg.offlineCap,
		IdempotencyTTL:   cfg.idempotencyTTL,
		Checkouts:        latchkey.CheckoutTimeouts{InstructionLock: cfg.instructionLock, Redelivery: cfg.redelivery},
		CheckoutWarning: func() time.Duration {
			if cfg.checkoutWarning == 0 {
				return -1 // never
			}
			return cfg.checkoutWarning
		}(),
		Logger: logger,
	})
	if err != nil {
		fmt.Fprintf(stderr, "latchkey: open store: %v\n", latchkey.RedactError(err, cfg.store))
		return 1
	}
	closed := false
	defer func() {
		if !closed {
			store.Close()
		}
	}()

	created, password, err := store.Bootstrap(ctx, cfg.adminPassword)
	if err != nil {
		fmt.Fprintf(stderr, "latchkey: bootstrap: %v\n", err)
		return 1
	}
	if p := passhash.Production; params.MemoryKiB < p.MemoryKiB || params.Time < p.Time {
		logger.Warn("argon2id profile weaker than production: for tests and benchmarks only", "profile", params.String())
	}
	if created {
		if cfg.adminPassword == "" {
			fmt.Fprintf(stderr, "created principal admin with identity admin; password: %s\n", password)
		} else {
			fmt.Fprintln(stderr, "created principal admin with identity admin; password from LATCHKEY_ADMIN_PASSWORD")
		}
	}

	serverKey, err := store.ServerKey(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "latchkey: server key: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "server key: %s (agents pin it: latchkey agent --server-key KEY)\n", serverKey)

	if cfg.pprofListen != "" {
		stopPprof, err := startPprof(cfg.pprofListen, cfg.edge.pprofLimits(), logger)
		if err != nil {
			fmt.Fprintf(stderr, "latchkey: %v\n", err)
			return 1
		}
		defer stopPprof()
	}
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		fmt.Fprintf(stderr, "latchkey: listen: %v\n", err)
		return 1
	}
	srvOpts := lkhttp.Options{Logger: logger}
	cfg.edge.apply(&srvOpts, ln.Addr())
	srv := lkhttp.NewServer(store, srvOpts)
	hs := cfg.edge.limits().Server(srv.Handler(), slog.NewLogLogger(logger.Handler(), slog.LevelWarn))
	hs.RegisterOnShutdown(srv.EndStreams)

	sweepCtx, stopSweep := context.WithCancel(ctx)
	sweepDone := make(chan struct{})
	go func() {
		defer close(sweepDone)
		sealDone := make(chan struct{})
		go func() { defer close(sealDone); srv.RunSealer(sweepCtx, cfg.sealEvery, cfg.sealDir) }()
		srv.RunSweeper(sweepCtx, cfg.sweepInterval)
		<-sealDone
	}()

	serveErr := make(chan error, 1)
	scheme := "http"
	if certs != nil {
		scheme = "https"
		hs.TLSConfig = certs.config()
		certs.reloadOnHangup(ctx, logger)
		// The connection cap sits under TLS, so its 429 goes out encrypted.
		tlsLn := tls.NewListener(ln, hs.TLSConfig)
		go func() { serveErr <- hs.Serve(tlsLn) }()
	} else {
		warnPlainHTTP(logger, ln.Addr())
		go func() { serveErr <- hs.Serve(ln) }()
	}
	fmt.Fprintf(stderr, "listening on %s://%s\n", scheme, ln.Addr())
	logger.Info("serving", "addr", ln.Addr().String(), "tls", certs != nil, "store", latchkey.Redact(cfg.store))

	status := 0
	select {
	case <-ctx.Done():
		logger.Info("shutting down")
	case err := <-serveErr:
		fmt.Fprintf(stderr, "latchkey: serve: %v\n", err)
		status = 1
	}
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(shutCtx); err != nil {
		logger.Warn("shutdown", "err", err)
		hs.Close()
	}
	logger.Debug("http server stopped")
	stopSweep()
	<-sweepDone
	logger.Debug("sweeper stopped")
	closed = true
	if err := store.Close(); err != nil {
		fmt.Fprintf(stderr, "latchkey: close store: %v\n", err)
		status = 1
	}
	logger.Debug("store closed")
	return status
}

// tuneRuntime sets the Go runtime for a server whose CPU goes mostly to
// argon2id (docs/benchmarks.md, "Runtime settings"). The store runs at most
// NumCPU hashes at once; two spare Ps keep request goroutines from waiting
// behind running hashes for a P (PostgreSQL lock p50 under login load:
// 209 ms -> 5 ms). Each hash allocates its whole memory (19 MiB), so with
// spare Ps the GC's idle mark workers ran nearly once per hash and cost
// 10-20% of login throughput; GOGC=400 removes that, and a 1 GiB soft
// memory limit bounds the larger heap target. GOMAXPROCS, GOGC and
// GOMEMLIMIT in the environment win.
func tuneRuntime() {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(runtime.NumCPU() + 2)
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(1 << 30)
	}
}

// newLogger returns the server's logger: text (or JSON with
// LOG_FORMAT=json) on w, at the level in LOG_LEVEL (default info), with
// passwords in store URLs masked (logredact.go).
func newLogger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	switch strings.ToLower(os.Getenv("LOG_LEVEL")) {
	case "", "info":
		level = slog.LevelInfo
	case "debug":
		level = slog.LevelDebug
	case "warn", "warning":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	default:
		return nil, fmt.Errorf("LOG_LEVEL %q: want debug, info, warn or error", os.Getenv("LOG_LEVEL"))
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(os.Getenv("LOG_FORMAT")) {
	case "", "text":
		return slog.New(redactHandler{slog.NewTextHandler(w, opts)}), nil
	case "json":
		return slog.New(redactHandler{slog.NewJSONHandler(w, opts)}), nil
	}
	return nil, fmt.Errorf("LOG_FORMAT %q: want text or json", os.Getenv("LOG_FORMAT"))
}

// lockedWriter serialises writes from the logger and the server's own
// messages.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
