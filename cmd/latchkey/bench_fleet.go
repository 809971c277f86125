package main

import (
	"latchkey/bench"
)

const benchFleetSynopsis = "bench fleet [--server URL] [--identity admin] [--password-stdin] [--terminals N] [--per-site N] [--logons R] [--locks R] [--touches R] [--policies R] [--events R] [--poll-wait D] [--speedup X] [--duration D] [--warmup D] [--pg DSN] [--label L] [--json]"

// runBenchFleet runs simulated counters and their agents at given rates
// per terminal and hour, sped up (docs/capacity.md).
func runBenchFleet(e *env, args []string) int {
	c := e.newCmd("bench fleet", synopsisOf(benchSynopsis, "bench fleet"), true)
	identity := c.fs.String("identity", "admin", "admin identity that sets up the run")
	pw := c.passwordFlag()
	terminals := c.fs.Int("terminals", 100, "simulated terminals, each a counter and its agent")
	perSite := c.fs.Int("per-site", 8, "terminals of one site (a branch)")
	var r bench.FleetRates
	c.fs.Float64Var(&r.Logons, "logons", 0, "log-off + log-on pairs per terminal and hour")
	c.fs.Float64Var(&r.Locks, "locks", 0, "lock + unlock pairs per terminal and hour")
	c.fs.Float64Var(&r.Touches, "touches", 0, "touches (activity sent on by the agent) per terminal and hour")
	c.fs.Float64Var(&r.Policies, "policies", 0, "policy fetches per terminal and hour")
	c.fs.Float64Var(&r.Events, "events", 0, "deferred events posted (one a call) per terminal and hour")
	pollWait := c.fs.Duration("poll-wait", 0, "the agents' long-poll length before the speed-up (production: 30s); 0: no polling")
	speedup := c.fs.Float64("speedup", 1, "divide every interval by this (60: an hour's calls in a minute)")
	duration := c.fs.Duration("duration", bench.DefaultDuration, "the measured load")
	warmup := c.fs.Duration("warmup", 0, "unmeasured load first")
	pg := c.fs.String("pg", "", "the store's PostgreSQL (a database of its own): report its transactions, WAL, table growth and CPU")
	label := c.fs.String("label", "", "backend label for the report (e.g. sqlite, postgres)")
	password, st, ok := c.parseBench(args, pw)
	if !ok {
		return st
	}
	res, err := bench.RunFleet(e.ctx, bench.FleetConfig{Server: c.serverURL(), AdminIdentity: *identity, AdminPassword: password,
		Terminals: *terminals, PerSite: *perSite, Rates: r, PollWait: *pollWait, Speedup: *speedup, Duration: *duration,
		Warmup: *warmup, PG: *pg, Backend: *label}, e.stderr)
	return c.benchResult(res, res != nil, err)
}
