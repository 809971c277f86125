package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

var serveSynopsis = []string{
	"serve [--listen ADDR] [--data-dir DIR] [--store URL] [--sweep-interval D] [--argon2-time N] [--argon2-memory KiB] [--argon2-threads N] [--max-failures N] [--lockout D] [--staff-backoff-max D] [--token-ttl D] [--managed-domain DOMAIN=LOCK]... [--pg-committers N] [--instruction-lock D] [--redelivery D] [--checkout-warning D] [--reservation-grace D] [--offline-days N] [--offline-cap N] [--idempotency-ttl D] [--pprof-listen ADDR] [--seal-every D] [--seal-dir DIR] [--tls-cert FILE --tls-key FILE] " + edgeSynopsis,
}

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
	if err := runServer(ctx, cfg, logger, stderr); err != nil {
		if !errors.As(err, new(reportedError)) {
			fmt.Fprintf(stderr, "latchkey: %v\n", err)
		}
		return 1
	}
	return 0
}
