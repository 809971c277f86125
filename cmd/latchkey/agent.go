package main

import (
	"fmt"
	"strings"
	"time"

	"latchkey/agent"
)

var agentSynopsis = []string{
	"agent --server URL --token T --state-dir DIR [--executor linux|file:PATH] [--create-groups] [--wait D]",
}

// runAgent runs the workstation agent until interrupted.
func runAgent(e *env, args []string) int {
	c := e.newCmd("agent", agentSynopsis[0][len("agent "):], true).withTerminalToken()
	stateDir := c.fs.String("state-dir", "", "directory for the agent's journal")
	executor := c.fs.String("executor", "linux", "linux (real local groups; needs root) or file:PATH (memberships in a file)")
	createGroups := c.fs.Bool("create-groups", false, "linux: create a missing group with groupadd")
	wait := c.fs.Duration("wait", 30*time.Second, "long-poll length")
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
	fmt.Fprintf(e.stderr, "agent for %s running\n", cl.BaseURL())
	a := &agent.Agent{Client: cl, Journal: j, Executor: ex, Log: logger, Wait: *wait}
	a.Run(e.ctx)
	return 0
}
