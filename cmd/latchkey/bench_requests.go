package main

import (
	"latchkey/bench"
)

const benchRequestsSynopsis = "bench requests [--server URL] [--identity admin] [--password-stdin] [--agents N] [--requesters N] [--duration D] [--label L] [--json]"

// runBenchRequests measures access requests approved → active per second
// with simulated agents.
func runBenchRequests(e *env, args []string) int {
	c := e.newCmd("bench requests", synopsisOf(benchSynopsis, "bench requests"), true)
	identity := c.fs.String("identity", "admin", "admin identity that sets up the run and approves")
	pw := c.passwordFlag()
	agents := c.fs.Int("agents", 100, "simulated agents, each a terminal with its own connection")
	requesters := c.fs.Int("requesters", 16, "requests under way at once (each: create, approve, wait for active, cancel)")
	duration := c.fs.Duration("duration", bench.DefaultDuration, "how long to make requests")
	label := c.fs.String("label", "", "backend label for the report (e.g. sqlite, postgres)")
	password, st, ok := c.parseBench(args, pw)
	if !ok {
		return st
	}
	res, err := bench.RunRequests(e.ctx, bench.RequestsConfig{Server: c.serverURL(), AdminIdentity: *identity, AdminPassword: password,
		Agents: *agents, Requesters: *requesters, Duration: *duration, Backend: *label}, e.stderr)
	return c.benchResult(res, res != nil, err)
}
