package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// serveSynopsis is made from serve's flags (flagSynopsis).
var serveSynopsis = []string{"serve " + flagSynopsis(serveFlags())}

// serveFlags returns a flag set with serve's flags and their defaults.
func serveFlags() *flag.FlagSet {
	fs := flag.NewFlagSet("latchkey serve", flag.ContinueOnError)
	c := defaultServeConfig()
	c.addFlags(fs)
	return fs
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
