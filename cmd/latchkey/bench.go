package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	"latchkey"
	"latchkey/bench"
	"latchkey/passhash"
	"latchkey/sqlstore"
	"latchkey/sqlstore/benchseed"
)

var benchSynopsis = []string{
	"bench sessions [--server URL] [--identity admin] [--password-stdin] [--terminals N] [--duration D] [--cycles N] [--mode cycle|login] [--rounds N] [--warmup D] [--server-pprof URL --profile-dir DIR] [--label L] [--raw-hash-duration D] [--argon2-time N --argon2-memory KiB --argon2-threads N] [--json]",
	"bench seed --store URL [--principals N] [--sessions N] [--argon2-time N --argon2-memory KiB --argon2-threads N]",
	benchLocksSynopsis,
	benchAgentsSynopsis,
	benchJournalSynopsis,
	benchFleetSynopsis,
	benchFailoverSynopsis,
	benchRequestsSynopsis,
	benchFanoutSynopsis,
}

func init() { register("bench", command{runBench, benchSynopsis}) }

func runBench(e *env, args []string) int {
	if len(args) == 0 {
		fmt.Fprintf(e.stderr, "usage:\n  latchkey %s\n", strings.Join(benchSynopsis, "\n  latchkey "))
		return 2
	}
	switch args[0] {
	case "sessions":
		return runBenchSessions(e, args[1:])
	case "seed":
		return runBenchSeed(e, args[1:])
	case "locks":
		return runBenchLocks(e, args[1:])
	case "agents":
		return runBenchAgents(e, args[1:])
	case "journal":
		return runBenchJournal(e, args[1:])
	case "fleet":
		return runBenchFleet(e, args[1:])
	case "failover":
		return runBenchFailover(e, args[1:])
	case "requests":
		return runBenchRequests(e, args[1:])
	case "fanout":
		return runBenchFanout(e, args[1:])
	}
	fmt.Fprintf(e.stderr, "latchkey bench: unknown benchmark %q (sessions, seed, locks, agents, journal, fleet, failover, requests, fanout)\n", args[0])
	return 2
}

// argon2Flags adds the argon2id profile flags (defaults: production).
func argon2Flags(c *cmd) func() (passhash.Params, error) {
	t := c.fs.Uint("argon2-time", uint(passhash.Production.Time), "argon2id passes (the server's)")
	m := c.fs.Uint("argon2-memory", uint(passhash.Production.MemoryKiB), "argon2id memory in KiB (the server's)")
	p := c.fs.Uint("argon2-threads", uint(passhash.Production.Threads), "argon2id lanes (the server's)")
	return func() (passhash.Params, error) {
		if *t > math.MaxUint32 || *m > math.MaxUint32 || *p > math.MaxUint8 {
			return passhash.Params{}, fmt.Errorf("argon2 parameters out of range")
		}
		q := passhash.Production
		q.Time, q.MemoryKiB, q.Threads = uint32(*t), uint32(*m), uint8(*p)
		return q, q.Validate()
	}
}

// runBenchSessions drives a running server with simulated terminals.
func runBenchSessions(e *env, args []string) int {
	c := e.newCmd("bench sessions", synopsisOf(benchSynopsis, "bench sessions"), true)
	identity := c.fs.String("identity", "admin", "admin identity that sets up the run")
	pw := c.passwordFlag()
	terminals := c.fs.Int("terminals", bench.DefaultTerminals, "concurrent simulated terminals")
	duration := c.fs.Duration("duration", bench.DefaultDuration, "how long to start new cycles")
	cycles := c.fs.Int("cycles", 0, "cycles per terminal (0 = as many as --duration allows)")
	mode := c.fs.String("mode", bench.ModeCycle, "cycle (login, lock, unlock, touch x3, logout) or login (login and logout)")
	rounds := c.fs.Int("rounds", 1, "split the load into N windows, measuring the raw argon2id rate around each")
	warmup := c.fs.Duration("warmup", 0, "run the load unmeasured this long first")
	pprofURL := c.fs.String("server-pprof", "", "the server's pprof address (serve --pprof-listen): take a CPU profile of each round")
	profileDir := c.fs.String("profile-dir", "", "where to write the round-N.pprof files of --server-pprof")
	label := c.fs.String("label", "", "backend label for the report (e.g. sqlite, postgres)")
	raw := c.fs.Duration("raw-hash-duration", bench.DefaultRawHashDuration, "how long to measure the raw argon2id rate")
	params := argon2Flags(c)
	if _, st, ok := c.parse(args); !ok {
		return st
	}
	if st := c.benchTransport(); st != 0 {
		return st
	}
	p, err := params()
	if err != nil {
		return c.usageError("%v", err)
	}
	password, err := pw.read("LATCHKEY_PASSWORD", "admin password: ", false)
	if err != nil {
		return c.fail(err)
	}
	progress := e.stderr
	res, err := bench.RunSessions(e.ctx, bench.SessionsConfig{Server: c.serverURL(), AdminIdentity: *identity,
		AdminPassword: password, Terminals: *terminals, Duration: *duration, Cycles: *cycles, Mode: *mode,
		Rounds: *rounds, Warmup: *warmup, ProfileURL: *pprofURL, ProfileDir: *profileDir, Argon2: p, RawHashDuration: *raw, Backend: *label}, progress)
	return c.benchResult(res, res != nil, err)
}

// benchResult prints a benchmark's result (JSON with --json, else text)
// when there is one, even a partial one, then reports err.
func (c *cmd) benchResult(res interface{ WriteText(io.Writer) }, ok bool, err error) int {
	if !ok {
		return c.fail(err)
	}
	if c.json {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		enc.Encode(res)
	} else {
		res.WriteText(c.stdout)
	}
	if err != nil {
		return c.fail(err)
	}
	return 0
}

// runBenchSeed bulk-loads benchmark data straight into a store (not
// through a server), so that a server started on it afterwards does not
// count the load in its own memory.
func runBenchSeed(e *env, args []string) int {
	c := e.newCmd("bench seed", synopsisOf(benchSynopsis, "bench seed"), false)
	storeURL := c.fs.String("store", "", "sqlite://PATH or postgres://... (required; default $LATCHKEY_STORE)")
	principals := c.fs.Int("principals", 100000, "principals to create, one identity each")
	sessions := c.fs.Int("sessions", 1000000, "past (ended) sessions to create")
	params := argon2Flags(c)
	if _, st, ok := c.parse(args); !ok {
		return st
	}
	if *storeURL == "" {
		*storeURL = os.Getenv("LATCHKEY_STORE")
	}
	if *storeURL == "" {
		return c.usageError("--store (or $LATCHKEY_STORE) is required")
	}
	p, err := params()
	if err != nil {
		return c.usageError("%v", err)
	}
	s, err := sqlstore.Open(e.ctx, *storeURL, sqlstore.Options{Password: p})
	if err != nil {
		return c.fail(latchkey.RedactError(err, *storeURL))
	}
	defer s.Close()
	start := time.Now()
	if err := benchseed.Seed(e.ctx, s, *principals, *sessions, e.stderr); err != nil {
		return c.fail(err)
	}
	fmt.Fprintf(e.stdout, "seeded %d principals and %d past sessions in %s (identities seed-N, password %q)\n",
		*principals, *sessions, time.Since(start).Round(time.Millisecond), benchseed.Password)
	return 0
}
