package main

import (
	"latchkey/bench"
)

const benchAgentsSynopsis = "bench agents [--server URL] [--identity admin] [--password-stdin] [--agents N] [--mode idle|delivery] [--duration D] [--requesters N] [--label L] [--json]"

// runBenchAgents simulates workstation agents long-polling one server.
func runBenchAgents(e *env, args []string) int {
	c := e.newCmd("bench agents", synopsisOf(benchSynopsis, "bench agents"), true)
	identity := c.fs.String("identity", "admin", "admin identity that sets up the run")
	pw := c.passwordFlag()
	agents := c.fs.Int("agents", 1000, "simulated agents, each a terminal with its own connection")
	mode := c.fs.String("mode", bench.AgentsDelivery, "delivery (check-outs for random agents; delivery latency) or idle (agents only wait; server memory)")
	duration := c.fs.Duration("duration", bench.DefaultDuration, "how long to make check-outs (delivery) or wait (idle)")
	requesters := c.fs.Int("requesters", 16, "delivery: concurrent check-out requests")
	label := c.fs.String("label", "", "backend label for the report (e.g. sqlite, postgres)")
	password, st, ok := c.parseBench(args, pw)
	if !ok {
		return st
	}
	res, err := bench.RunAgents(e.ctx, bench.AgentsConfig{Server: c.serverURL(), AdminIdentity: *identity, AdminPassword: password,
		Agents: *agents, Mode: *mode, Duration: *duration, Requesters: *requesters, Backend: *label}, e.stderr)
	return c.benchResult(res, res != nil, err)
}
