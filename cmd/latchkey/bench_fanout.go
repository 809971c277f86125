package main

import (
	"latchkey/bench"
)

const benchFanoutSynopsis = "bench fanout [--server URL] [--identity admin] [--password-stdin] [--streams N] [--streams-per-caller N] [--events N] [--rate R] [--writers N] [--drain D] [--server-pid PID] [--server-pprof URL --profile-dir DIR] [--label L] [--json]"

// runBenchFanout opens many event streams on a running server, writes lock
// and session events at a steady rate and times their arrival on every
// stream.
func runBenchFanout(e *env, args []string) int {
	c := e.newCmd("bench fanout", synopsisOf(benchSynopsis, "bench fanout"), true)
	identity := c.fs.String("identity", "admin", "admin identity that sets up the run")
	pw := c.passwordFlag()
	streams := c.fs.Int("streams", bench.DefaultFanoutStreams, "event streams (topics locks, sessions) open during the run")
	perCaller := c.fs.Int("streams-per-caller", bench.DefaultStreamsPerCaller, "streams each watching delegate opens on its token (the server caps it: serve --max-streams-per-token)")
	events := c.fs.Int("events", bench.DefaultFanoutEvents, "lock and session calls to make, one event each")
	rate := c.fs.Float64("rate", bench.DefaultFanoutRate, "calls started a second, all writers together")
	writers := c.fs.Int("writers", bench.DefaultFanoutWriters, "writing clients: half delegates cycling locks, half terminals cycling sessions")
	drain := c.fs.Duration("drain", bench.DefaultFanoutDrain, "how long the streams get after the last write to deliver every event")
	pid := c.fs.Int("server-pid", 0, "the server's process on this machine: read its peak RSS from /proc/PID/status")
	pprofURL := c.fs.String("server-pprof", "", "the server's pprof address (serve --pprof-listen): take a CPU profile of the writing")
	profileDir := c.fs.String("profile-dir", "", "where to write the profile of --server-pprof (round-1.pprof)")
	label := c.fs.String("label", "", "backend label for the report (e.g. sqlite, postgres)")
	password, st, ok := c.parseBench(args, pw)
	if !ok {
		return st
	}
	res, err := bench.RunFanout(e.ctx, bench.FanoutConfig{Server: c.serverURL(), AdminIdentity: *identity, AdminPassword: password,
		Streams: *streams, StreamsPerCaller: *perCaller, Events: *events, Rate: *rate, Writers: *writers, Drain: *drain,
		ServerPID: *pid, ProfileURL: *pprofURL, ProfileDir: *profileDir, Backend: *label}, e.stderr)
	return c.benchResult(res, res != nil, err)
}
