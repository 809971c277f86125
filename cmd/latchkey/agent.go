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
	"agent --server URL (--token T | --token-file FILE) [--ca FILE] [--insecure-http] --state-dir DIR [--server-key KEY] [--allow-group G]... [--max-minutes M] " +
		"[--executor linux|file:PATH] [--create-groups] [--wait D] [--socket PATH|none] [--policy-every D] [--probe-every D]",
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
	var trustOpts agent.TrustOptions
	c.fs.StringVar(&trustOpts.ServerKey, "server-key", "", "the server's ed25519 public key (printed by serve and terminal register); "+
		"without it the first key seen is pinned in the state dir")
	c.fs.Func("allow-group", "grant only this group of those the server's group sets allow here (repeatable; default: all of them)",
		func(g string) error { trustOpts.AllowGroups = append(trustOpts.AllowGroups, g); return nil })
	c.fs.IntVar(&trustOpts.MaxMinutes, "max-minutes", agent.DefaultMaxMinutes, "the longest membership the agent grants; a later end is clipped")
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
	if trustOpts.MaxMinutes < 1 {
		return c.usageError("--max-minutes must be at least 1")
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
	trustOpts.Log = logger
	trust, err := agent.OpenTrust(ctx, j, trustOpts)
	if err != nil {
		return c.usageError("%v", err)
	}
	a := &agent.Agent{Client: cl, Journal: j, Executor: ex, Log: logger, Wait: *wait, Trust: trust}
	serveDone := make(chan error, 1)
	if *socket != "none" {
		if *socket == "" {
			*socket = filepath.Join(*stateDir, "terminal.sock")
		}
		g, err := agent.OpenGateway(ctx, agent.GatewayOptions{Client: cl, Journal: j, Log: logger,
			PolicyEvery: *policyEvery, ProbeEvery: *probeEvery, Trust: trust})
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
	if k := trust.Key(); k != "" {
		fmt.Fprintf(e.stderr, "agent for %s running; server key %s\n", cl.BaseURL(), k)
	} else {
		fmt.Fprintf(e.stderr, "agent for %s running; no server key given: the first one seen is pinned\n", cl.BaseURL())
	}
	a.Run(ctx)
	if err := <-serveDone; err != nil {
		return c.fail(err)
	}
	return 0
}
