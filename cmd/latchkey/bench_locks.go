package main

import (
	"fmt"
	"strconv"

	"latchkey/bench"
)

const benchLocksSynopsis = "bench locks [--server URL[,URL...]] [--identity admin] [--password-stdin] [--clients N] [--duration D] [--mode uncontended|contended] [--locks N] [--handover events|poll] [--poll D] [--warmup D] [--server-pprof URL --profile-dir DIR] [--label L] [--watch-pid PID]... [--json]"

// runBenchLocks drives a running server with clients that acquire and
// release exclusive edit locks, each with a user token of its own. With
// several servers (--server URL,URL,...: the nodes of a cluster on one
// store) client i talks to node i mod n; they are not failed over.
func runBenchLocks(e *env, args []string) int {
	c := e.newCmd("bench locks", synopsisOf(benchSynopsis, "bench locks"), true)
	identity := c.fs.String("identity", "admin", "admin identity that sets up the run")
	pw := c.passwordFlag()
	clients := c.fs.Int("clients", bench.DefaultLockClients, "concurrent clients, each a delegate with its own user token")
	duration := c.fs.Duration("duration", bench.DefaultDuration, "how long to start new cycles")
	mode := c.fs.String("mode", bench.LockUncontended, "uncontended (a lock per client: acquire, release) or contended (clients share --locks locks: acquire with wait, wait for the grant, release)")
	locks := c.fs.Int("locks", bench.DefaultContendedLocks, "contended: how many locks the clients share")
	handover := c.fs.String("handover", bench.HandoverEvents, "contended: how a queued client learns of its grant: events (GET /v1/events) or poll (asking again)")
	poll := c.fs.Duration("poll", bench.DefaultLockPoll, "contended, --handover poll: a queued client asks again every D × its place in the queue")
	warmup := c.fs.Duration("warmup", 0, "run the load unmeasured this long first")
	pprofURL := c.fs.String("server-pprof", "", "the server's pprof address (serve --pprof-listen): take a CPU profile of the run")
	profileDir := c.fs.String("profile-dir", "", "where to write the profile of --server-pprof (round-1.pprof)")
	label := c.fs.String("label", "", "backend label for the report (e.g. sqlite, postgres)")
	var watch []int
	c.fs.Func("watch-pid", "measure the CPU time of process `PID` and its children over the measured window, e.g. the PostgreSQL postmaster (Linux; repeatable)", func(v string) error {
		pid, err := strconv.Atoi(v)
		if err != nil || pid <= 0 {
			return fmt.Errorf("want a process ID")
		}
		watch = append(watch, pid)
		return nil
	})
	password, st, ok := c.parseBench(args, pw)
	if !ok {
		return st
	}
	cfg := bench.LocksConfig{Server: c.serverURL(), AdminIdentity: *identity, AdminPassword: password,
		Clients: *clients, Duration: *duration, Mode: *mode, Poll: *poll, Warmup: *warmup,
		ProfileURL: *pprofURL, ProfileDir: *profileDir, Backend: *label, WatchPIDs: watch}
	if cfg.Mode == bench.LockContended {
		cfg.Locks, cfg.Handover = *locks, *handover
	}
	res, err := bench.RunLocks(e.ctx, cfg, e.stderr)
	return c.benchResult(res, res != nil, err)
}
