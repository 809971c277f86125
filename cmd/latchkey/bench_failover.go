package main

import (
	"errors"
	"os"

	"latchkey/bench"
)

const benchFailoverSynopsis = "bench failover --store postgres://... [--binary PATH] [--duration D] [--max-faults N] [--agents N] [--persons N] [--settle D] [--work-dir DIR] [--keep] [--keep-schema] [--json]"

// runBenchFailover runs the failover soak: three serve nodes of this
// binary on one PostgreSQL database, real agents and steady load, a node
// killed or stopped every few seconds; it exits 1 when an invariant
// failed.
func runBenchFailover(e *env, args []string) int {
	c := e.newCmd("bench failover", synopsisOf(benchSynopsis, "bench failover"), false)
	storeURL := c.fs.String("store", "", "postgres://... (required; default $LATCHKEY_STORE): the run makes a schema of its own there and drops it after")
	binary := c.fs.String("binary", "", "the latchkey executable the nodes and agents run (default: this one)")
	duration := c.fs.Duration("duration", bench.DefaultFailoverDuration, "how long the load and the faults go on")
	maxFaults := c.fs.Int("max-faults", 0, "stop the faults after N (0: as many as --duration allows)")
	agents := c.fs.Int("agents", bench.DefaultFailoverAgents, "terminals with a real agent (file executor)")
	persons := c.fs.Int("persons", bench.DefaultFailoverPersons, "people logging on and off, each at two terminals")
	settle := c.fs.Duration("settle", bench.DefaultFailoverSettle, "after the load, how long the work under way may take to end")
	workDir := c.fs.String("work-dir", "", "where the nodes' and agents' files go (default: a temporary directory, removed unless an invariant failed)")
	keep := c.fs.Bool("keep", false, "keep the work dir")
	keepSchema := c.fs.Bool("keep-schema", false, "keep the run's schema")
	c.fs.BoolVar(&c.json, "json", false, "print the result as JSON")
	if _, st, ok := c.parse(args); !ok {
		return st
	}
	if *storeURL == "" {
		*storeURL = os.Getenv("LATCHKEY_STORE")
	}
	if *storeURL == "" {
		return c.usageError("--store (or $LATCHKEY_STORE) is required: a postgres:// URL")
	}
	if *binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return c.fail(err)
		}
		*binary = exe
	}
	res, err := bench.RunFailover(e.ctx, bench.FailoverConfig{Binary: *binary, Store: *storeURL, Duration: *duration, MaxFaults: *maxFaults,
		Agents: *agents, Persons: *persons, Settle: *settle, WorkDir: *workDir, Keep: *keep, KeepSchema: *keepSchema}, e.stderr)
	if err != nil && !errors.Is(err, bench.ErrInvariant) && res != nil && len(res.Invariants) == 0 {
		res = nil // it did not get as far as the checks
	}
	return c.benchResult(res, res != nil, err)
}
