package main

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"latchkey/agent"
)

var agentSynopsis = []string{
	"agent --server URL (--token T | --token-file FILE) [--ca FILE] [--insecure-http] --state-dir DIR [--executor linux|file:PATH] [--create-groups] [--wait D] " +
		"[--socket PATH|none] [--policy-every D] [--probe-every D]",
}

// runAgent runs the workstation agent until interrupted: the instruction
// loop and the terminal's gateway on a unix socket.
func runAgent(e *env, args []string) int {
	c := e.newCmd("agent", agentSynopsis[0][len("agent "):], true).withTerminalToken()
	stateDir := c.fs.String("state-dir", "", "directory for the agent's journal")
	executor := c.fs.String("executor", "linux", "linux (real local groups; needs root) or file:PATH (memberships in a file)")
	createGroups := c.fs.Bool("create-groups", false, "linux: create a missing group with groupadd")
	wait := c.fs.Duration("wait", 30*time.Second, "long-poll length")
	socket := c.fs.String("socket", "", "the terminal gateway's unix socket (default STATE-DIR/terminal.sock; none: no gateway)")
	policyEvery := c.fs.Duration("policy-every", time.Minute, "how often the gateway refreshes the policy while online")
	probeEvery := c.fs.Duration("probe-every", 5*time.Second, "how often the gateway tries the server while standalone")
	if _, st, ok := c.parse(args); !ok {
		return st
	}
	if st := c.required("state-dir"); st != 0 {
		return st
	}
	var ex agent.Executor
	switch {
	case *executor == "linux":
		ex = agent.LinuxExecutor{CreateGroups: *createGroups}
	case strings.HasPrefix(*executor, "file:") && len(*executor) > len("file:"):
		ex = &agent.FileExecutor{Path: strings.TrimPrefix(*executor, "file:")}
	default:
		return c.usageError("--executor must be linux or file:PATH")
	}
	if *wait <= 0 || *wait > 60*time.Second {
		return c.usageError("--wait must be more than 0 and at most 60s")
	}
	if *policyEvery <= 0 || *probeEvery <= 0 {
		return c.usageError("--policy-every and --probe-every must be more than 0")
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	j, err := agent.OpenJournal(*stateDir)
	if err != nil {
		return c.fail(err)
	}
	defer j.Close()
	logger, err := newLogger(&lockedWriter{w: e.stderr})
	if err != nil {
		return c.usageError("%v", err)
	}
	ctx, stop := signal.NotifyContext(e.ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	a := &agent.Agent{Client: cl, Journal: j, Executor: ex, Log: logger, Wait: *wait}
	serveDone := make(chan error, 1)
	if *socket != "none" {
		if *socket == "" {
			*socket = filepath.Join(*stateDir, "terminal.sock")
		}
		g, err := agent.OpenGateway(ctx, agent.GatewayOptions{Client: cl, Journal: j, Log: logger,
			PolicyEvery: *policyEvery, ProbeEvery: *probeEvery})
		if err != nil {
			return c.fail(err)
		}
		ln, err := agent.ListenSocket(*socket)
		if err != nil {
			return c.fail(err)
		}
		a.Gateway = g
		go func() { serveDone <- g.Serve(ctx, ln) }()
		fmt.Fprintf(e.stderr, "terminal gateway on %s\n", *socket)
	} else {
		serveDone <- nil
	}
	fmt.Fprintf(e.stderr, "agent for %s running\n", cl.BaseURL())
	a.Run(ctx)
	if err := <-serveDone; err != nil {
		return c.fail(err)
	}
	return 0
}
