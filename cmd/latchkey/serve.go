package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"os/signal"
	"path/filepath"
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
	listen := c.fs.String("listen", "127.0.0.1:7420", "address to listen on (port 0 picks a free port)")
	dataDir := c.fs.String("data-dir", "./latchkey-data", "directory for the server's files (made 0700 at every start)")
	storeURL := c.fs.String("store", "", "sqlite://PATH or postgres://... (default $LATCHKEY_STORE, else sqlite://DATA-DIR/latchkey.db; the environment keeps a password out of ps)")
	sweep := c.fs.Duration("sweep-interval", 5*time.Second, "how often to apply session timeouts")
	a2time := c.fs.Uint("argon2-time", uint(passhash.Production.Time), "argon2id passes over memory")
	a2mem := c.fs.Uint("argon2-memory", uint(passhash.Production.MemoryKiB), "argon2id memory in KiB")
	a2threads := c.fs.Uint("argon2-threads", uint(passhash.Production.Threads), "argon2id lanes")
	maxFailures := c.fs.Int("max-failures", latchkey.DefaultAttemptPolicy.MaxFailures, "failed attempts in a row that lock an identity (0 = never)")
	lockout := c.fs.Duration("lockout", latchkey.DefaultAttemptPolicy.LockoutDuration, "how long a locked identity stays locked")
	staffBackoff := c.fs.Duration("staff-backoff-max", latchkey.DefaultAttemptPolicy.StaffBackoffMax, "admins and delegates are locked for 1 s, doubling per further failure up to this, instead of --lockout (0: --lockout for them too)")
	tokenTTL := c.fs.Duration("token-ttl", 12*time.Hour, "user token lifetime")
	policy := latchkey.DefaultConfigPolicy()
	c.fs.Func("managed-domain", "DOMAIN=LOCK: writes of config domain DOMAIN need lock LOCK's token; DOMAIN= unmanages it (repeatable; defaults users=admin/users, trusts=admin/trusts)", func(v string) error {
		domain, lock, ok := strings.Cut(v, "=")
		if !ok {
			return fmt.Errorf("want DOMAIN=LOCK, got %q", v)
		}
		if err := latchkey.ValidConfigDomain(domain); err != nil {
			return err
		}
		if lock == "" {
			delete(policy.Managed, domain)
			return nil
		}
		if err := latchkey.ValidLockName("lock", lock); err != nil {
			return err
		}
		policy.Managed[domain] = lock
		return nil
	})
	instrLock := c.fs.Duration("instruction-lock", latchkey.DefaultInstructionLock, "how long a delivered instruction's groups stay locked without a reply")
	redelivery := c.fs.Duration("redelivery", latchkey.DefaultRedelivery, "after an instruction's lock lapses, at most this until it is re-sent")
	warning := c.fs.Duration("checkout-warning", latchkey.DefaultCheckoutWarning, "warn a check-out's holder this long before it ends (0: never)")
	grace := c.fs.Duration("reservation-grace", latchkey.DefaultReservationGrace, "a reservation whose person has not logged on this long after its start is released")
	offlineDays := c.fs.Int("offline-days", sqlstore.DefaultOfflineDays, "an offline logon verifier stays in agents' policies this many days after the person's last online logon")
	offlineCap := c.fs.Int("offline-cap", sqlstore.DefaultOfflineCap, "at most this many offline logon verifiers in one terminal's policy")
	committers := c.fs.Int("pg-committers", 4, "PostgreSQL: write transactions (group commits) a node runs at once")
	idemTTL := c.fs.Duration("idempotency-ttl", latchkey.DefaultIdempotencyTTL, "how long the answer to an Idempotency-Key is kept for replay; an older key is new and the sweeper deletes it (1m to 720h)")
	pprofAddr := c.fs.String("pprof-listen", "", "serve Go profiles (net/http/pprof) on this loopback address; off when empty")
	sealEvery := c.fs.Duration("seal-every", latchkey.DefaultSealEvery, "seal the audit chain's head this often (one seal per period for the whole cluster; 0 = off)")
	sealDir := c.fs.String("seal-dir", "", "write each seal this node makes here, one file per seal (default DATA-DIR/seals; copy them off the machine)")
	// Transport security (tls.go).
	tlsf := addTLSFlags(c.fs)
	edge := defaultEdgeFlags()
	edge.addFlags(c.fs)
	if _, st, ok := c.parse(args); !ok {
		return st
	}
	if msg := tlsf.check(); msg != "" {
		return c.usageError("%s", msg)
	}
	switch {
	case *sweep <= 0:
		return c.usageError("--sweep-interval must be positive")
	case *tokenTTL <= 0:
		return c.usageError("--token-ttl must be positive")
	case *instrLock <= 0 || *redelivery <= 0 || *warning < 0:
		return c.usageError("--instruction-lock and --redelivery must be positive, --checkout-warning not negative")
	case *committers < 1:
		return c.usageError("--pg-committers must be at least 1")
	case *grace < time.Minute || *grace > 24*time.Hour:
		return c.usageError("--reservation-grace must be 1m to 24h")
	case *offlineDays < 1 || *offlineDays > 366 || *offlineCap < 1 || *offlineCap > 100000:
		return c.usageError("--offline-days must be 1 to 366 and --offline-cap 1 to 100000")
	case *maxFailures < 0:
		return c.usageError("--max-failures must not be negative")
	case *lockout <= 0:
		return c.usageError("--lockout must be positive")
	case *staffBackoff < 0:
		return c.usageError("--staff-backoff-max must not be negative")
	case *sealEvery < 0:
		return c.usageError("--seal-every must not be negative (0 turns sealing off)")
	case *idemTTL < time.Minute || *idemTTL > 720*time.Hour:
		return c.usageError("--idempotency-ttl must be 1m to 720h")
	case *a2time > math.MaxUint32 || *a2mem > math.MaxUint32 || *a2threads > math.MaxUint8:
		return c.usageError("argon2 parameters out of range")
	}
	if err := edge.check(); err != nil {
		return c.usageError("%v", err)
	}
	params := passhash.Production
	params.Time, params.MemoryKiB, params.Threads = uint32(*a2time), uint32(*a2mem), uint8(*a2threads)
	if err := params.Validate(); err != nil {
		return c.usageError("%v", err)
	}

	// The bootstrap admin's password is held to the rules of every new
	// password: refuse a weak one before anything starts (even when the
	// store already has its admin and the variable would go unused).
	if v := os.Getenv("LATCHKEY_ADMIN_PASSWORD"); v != "" {
		if err := latchkey.CheckNewPassword("LATCHKEY_ADMIN_PASSWORD", v); err != nil {
			fmt.Fprintf(e.stderr, "latchkey: refusing to start: %s\n", latchkey.ErrorMessage(err))
			return 1
		}
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
	if tlsf.enabled() {
		if certs, err = loadCertStore(tlsf.cert, tlsf.key); err != nil {
			fmt.Fprintf(stderr, "latchkey: tls: %v\n", err)
			return 1
		}
	}
	// The data dir 0700 whatever it was (the store makes its files 0600).
	if err := private.Dir(*dataDir); err != nil {
		fmt.Fprintf(stderr, "latchkey: data dir: %v\n", err)
		return 1
	}
	if *storeURL == "" {
		*storeURL = os.Getenv("LATCHKEY_STORE")
	}
	if *storeURL == "" {
		*storeURL = "sqlite://" + filepath.Join(*dataDir, "latchkey.db")
	}
	store, err := sqlstore.Open(ctx, *storeURL, sqlstore.Options{
		Password: params,
		Clock:    nil,
		Attempts: latchkey.AttemptPolicy{MaxFailures: *maxFailures, LockoutDuration: *lockout,
			StaffBackoffBase: latchkey.DefaultAttemptPolicy.StaffBackoffBase, StaffBackoffMax: *staffBackoff},
		TokenTTL:         *tokenTTL,
		Config:           policy,
		Committers:       *committers,
		ReservationGrace: *grace,
		OfflineDays:      *offlineDays,
		OfflineCap:       *offlineCap,
		IdempotencyTTL:   *idemTTL,
		Checkouts:        latchkey.CheckoutTimeouts{InstructionLock: *instrLock, Redelivery: *redelivery},
		CheckoutWarning: func() time.Duration {
			if *warning == 0 {
				return -1 // never
			}
			return *warning
		}(),
		Logger: logger,
	})
	if err != nil {
		fmt.Fprintf(stderr, "latchkey: open store: %v\n", latchkey.RedactError(err, *storeURL))
		return 1
	}
	closed := false
	defer func() {
		if !closed {
			store.Close()
		}
	}()

	envPassword := os.Getenv("LATCHKEY_ADMIN_PASSWORD")
	created, password, err := store.Bootstrap(ctx, envPassword)
	if err != nil {
		fmt.Fprintf(stderr, "latchkey: bootstrap: %v\n", err)
		return 1
	}
	if p := passhash.Production; params.MemoryKiB < p.MemoryKiB || params.Time < p.Time {
		logger.Warn("argon2id profile weaker than production: for tests and benchmarks only", "profile", params.String())
	}
	if created {
		if envPassword == "" {
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

	if *pprofAddr != "" {
		stopPprof, err := startPprof(*pprofAddr, edge.pprofLimits(), logger)
		if err != nil {
			fmt.Fprintf(stderr, "latchkey: %v\n", err)
			return 1
		}
		defer stopPprof()
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "latchkey: listen: %v\n", err)
		return 1
	}
	srvOpts := lkhttp.Options{Logger: logger}
	edge.apply(&srvOpts, ln.Addr())
	srv := lkhttp.NewServer(store, srvOpts)
	hs := edge.limits().Server(srv.Handler(), slog.NewLogLogger(logger.Handler(), slog.LevelWarn))
	hs.RegisterOnShutdown(srv.EndStreams)

	sweepCtx, stopSweep := context.WithCancel(ctx)
	sweepDone := make(chan struct{})
	if *sealDir == "" {
		*sealDir = filepath.Join(*dataDir, "seals")
	}
	go func() {
		defer close(sweepDone)
		sealDone := make(chan struct{})
		go func() { defer close(sealDone); srv.RunSealer(sweepCtx, *sealEvery, *sealDir) }()
		srv.RunSweeper(sweepCtx, *sweep)
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
	logger.Info("serving", "addr", ln.Addr().String(), "tls", certs != nil, "store", latchkey.Redact(*storeURL))

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
