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
	"runtime"
	"runtime/debug"
	"time"

	"latchkey"
	lkhttp "latchkey/http"
	"latchkey/passhash"
	"latchkey/private"
	"latchkey/sqlstore"
	"latchkey/worker"
)

// shutdownTimeout bounds how long a stopping server waits for requests in
// flight.
const shutdownTimeout = 10 * time.Second

// reportedError is a failure runServer met while serving and printed on
// stderr as it happened; its caller need not print it again.
type reportedError struct{ error }

// runServer runs a server node with cfg until ctx ends, logging to logger
// and printing what its operator needs (the bootstrap admin's password,
// the server key, the address it listens on) to stderr. An error before
// it serves stops it at once, and is returned for the caller to print; a
// failure while serving is printed as it happens, the server shuts down,
// and a reportedError is returned.
func runServer(ctx context.Context, cfg serveConfig, logger *slog.Logger, stderr io.Writer) error {
	var certs *certStore
	if cfg.tls.enabled() {
		var err error
		if certs, err = loadCertStore(cfg.tls.cert, cfg.tls.key); err != nil {
			return fmt.Errorf("tls: %w", err)
		}
	}
	// The data dir 0700 whatever it was (the store makes its files 0600).
	if err := private.Dir(cfg.dataDir); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	self := latchkey.Node{ID: latchkey.NewNodeID(), Addr: cfg.advertise}
	storeOpts := cfg.storeOptions(logger)
	storeOpts.Node = self.ID
	store, err := sqlstore.Open(ctx, cfg.store, storeOpts)
	if err != nil {
		return fmt.Errorf("open store: %w", latchkey.RedactError(err, cfg.store))
	}
	closed := false
	defer func() {
		if !closed {
			store.Close()
		}
	}()

	created, password, err := store.Bootstrap(ctx, cfg.adminPassword)
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	if params, p := cfg.passwordParams(), passhash.Production; params.MemoryKiB < p.MemoryKiB || params.Time < p.Time {
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
		return fmt.Errorf("server key: %w", err)
	}
	fmt.Fprintf(stderr, "server key: %s (agents pin it: latchkey agent --server-key KEY)\n", serverKey)

	if cfg.pprofListen != "" {
		stopPprof, err := startPprof(cfg.pprofListen, cfg.edge.pprofLimits(), logger)
		if err != nil {
			return err
		}
		defer stopPprof()
	}
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srvOpts := lkhttp.Options{Logger: logger, CheckoutWarning: cfg.warning()}
	cfg.edge.apply(&srvOpts, ln.Addr())
	srv := lkhttp.NewServer(store, srvOpts)
	hs := cfg.edge.limits().Server(srv.Handler(), slog.NewLogLogger(logger.Handler(), slog.LevelWarn))
	hs.RegisterOnShutdown(srv.EndStreams)

	self.StartedAt = time.Now().UTC()
	if self.Addr == "" {
		self.Addr = ln.Addr().String()
	}
	runner := newRunner(store, self.ID, cfg.sweepInterval, logger)
	sweepCtx, stopSweep := context.WithCancel(ctx)
	sweepDone := make(chan struct{})
	go func() {
		defer close(sweepDone)
		sealDone, beatDone := make(chan struct{}), make(chan struct{})
		go func() { defer close(sealDone); srv.RunSealer(sweepCtx, cfg.sealEvery, cfg.sealDir) }()
		go func() { defer close(beatDone); heartbeat(sweepCtx, store, self, cfg.heartbeat, logger) }()
		runner.Run(sweepCtx)
		<-sealDone
		<-beatDone
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
		ignoreHangup(ctx, logger)
		go func() { serveErr <- hs.Serve(ln) }()
	}
	fmt.Fprintf(stderr, "listening on %s://%s\n", scheme, ln.Addr())
	logger.Info("serving", "addr", ln.Addr().String(), "tls", certs != nil, "store", latchkey.Redact(cfg.store))

	var failed []error
	report := func(err error) {
		fmt.Fprintf(stderr, "latchkey: %v\n", err)
		failed = append(failed, err)
	}
	select {
	case <-ctx.Done():
		// Drain: /readyz says 503 while the node still serves, so that a
		// load balancer's health check takes it out before it stops.
		srv.Drain()
		logger.Info("draining", "for", cfg.drainWait)
		if cfg.drainWait > 0 {
			select {
			case <-time.After(cfg.drainWait):
			case err := <-serveErr:
				report(fmt.Errorf("serve: %w", err))
			}
		}
		logger.Info("shutting down")
	case err := <-serveErr:
		report(fmt.Errorf("serve: %w", err))
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
	logger.Debug("job runner stopped")
	leaveCtx, cancelLeave := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	if err := store.Leave(leaveCtx, self.ID); err != nil {
		logger.Warn("leave the cluster", "err", err)
	}
	cancelLeave()
	closed = true
	if err := store.Close(); err != nil {
		report(fmt.Errorf("close store: %w", err))
	}
	logger.Debug("store closed")
	if len(failed) > 0 {
		return reportedError{errors.Join(failed...)}
	}
	return nil
}

// warning is how long before a check-out ends its person is warned, as
// the store and the console take it (0 in the configuration: never).
func (c *serveConfig) warning() time.Duration {
	if c.checkoutWarning == 0 {
		return -1
	}
	return c.checkoutWarning
}

// storeOptions are the store's options of cfg.
func (c *serveConfig) storeOptions(logger *slog.Logger) sqlstore.Options {
	return sqlstore.Options{
		Password: c.passwordParams(),
		Clock:    nil,
		Attempts: latchkey.AttemptPolicy{MaxFailures: c.maxFailures, LockoutDuration: c.lockout,
			StaffBackoffBase: latchkey.DefaultAttemptPolicy.StaffBackoffBase, StaffBackoffMax: c.staffBackoffMax},
		TokenTTL:         c.tokenTTL,
		Config:           c.policy,
		Committers:       c.pgCommitters,
		BatchWait:        batchWait(c.pgBatchWait),
		MaxConns:         c.pgConns,
		ReservationGrace: c.reservationGrace,
		OfflineDays:      c.offlineDays,
		OfflineCap:       c.offlineCap,
		IdempotencyTTL:   c.idempotencyTTL,
		NodeDeadAfter:    c.nodeDeadAfter,
		OutageGrace:      true,
		ApprovalTimeout:  c.approvalExpiry,
		Checkouts:        latchkey.CheckoutTimeouts{InstructionLock: c.instructionLock},
		CheckoutWarning:  c.warning(),
		Logger:           logger,
	}
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

// newRunner is the node's job runner: the store's jobs (check-out expiry,
// workflows) and the sweeps, one of each sweep in the cluster.
func newRunner(store *sqlstore.Store, node string, sweepEvery time.Duration, logger *slog.Logger) *worker.Runner {
	handlers := map[latchkey.JobKind]worker.Handler{}
	for k, h := range store.JobHandlers() {
		handlers[k] = h
	}
	sweeps, perpetual := worker.Sweeps(store, sweepEvery, logger)
	for k, h := range sweeps {
		handlers[k] = h
	}
	return worker.New(store, handlers, worker.Options{Node: node, Perpetual: perpetual, Logger: logger.With("node", node)})
}

// heartbeat beats for node every interval until ctx ends. A failed beat
// is logged and the next one tried: the node keeps serving, and other
// nodes take its jobs over if it stays silent.
func heartbeat(ctx context.Context, store *sqlstore.Store, node latchkey.Node, every time.Duration, logger *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		bctx, cancel := context.WithTimeout(ctx, every)
		if err := store.Heartbeat(bctx, node); err != nil && ctx.Err() == nil {
			logger.Warn("heartbeat", "err", err)
		}
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// batchWait is --pg-batch-wait as sqlstore.Options says it: 0 there
// means the default, so "never" is negative.
func batchWait(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}
