package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"latchkey"
	"latchkey/agent"
)

// The terminal's side of the workstation agent: these commands talk to
// the agent's gateway on its unix socket, not to the server.

// gatewayCmd is a command that calls the agent's gateway: it takes
// --socket (default $LATCHKEY_AGENT_SOCKET) and --json.
type gatewayCmd struct {
	*cmd
	socket string
}

func (e *env) gatewayCmd(name string) *gatewayCmd {
	c := &gatewayCmd{cmd: e.newCmd(name, synopsisOf(terminalSynopsis, name), false)}
	c.fs.StringVar(&c.socket, "socket", os.Getenv("LATCHKEY_AGENT_SOCKET"), "the agent's gateway socket (default $LATCHKEY_AGENT_SOCKET)")
	c.fs.BoolVar(&c.json, "json", e.global.json, "print the gateway's JSON")
	return c
}

// gateway returns the gateway client, or (ok false) the usage error status.
func (c *gatewayCmd) gateway() (*agent.GatewayClient, int, bool) {
	if strings.TrimSpace(c.socket) == "" {
		return nil, c.usageError("--socket is required (or set LATCHKEY_AGENT_SOCKET)"), false
	}
	return agent.NewGatewayClient(c.socket), 0, true
}

// terminalGatewayLogin logs a person on at this terminal through the agent.
func terminalGatewayLogin(e *env, args []string) int {
	c := e.gatewayCmd("terminal login")
	identity := c.fs.String("identity", "", "the identity (login ID) logging on")
	force := c.fs.Bool("force", false, "fail the person's unlocked sessions at other terminals")
	pw := c.passwordFlag()
	if _, st, ok := c.parse(args); !ok {
		return st
	}
	if st := c.required("identity"); st != 0 {
		return st
	}
	gw, st, ok := c.gateway()
	if !ok {
		return st
	}
	password, st, ok := pw.get("LATCHKEY_PASSWORD", "Password for "+*identity+": ", false)
	if !ok {
		return st
	}
	s, err := gw.Login(c.ctx, agent.LoginRequest{Identity: *identity, Password: password, Force: *force})
	if err != nil {
		return c.fail(err)
	}
	return c.showGatewayStatus(s)
}

// terminalGatewayLock locks this terminal. When the agent cannot tell the
// server, it asks (at a terminal) whether to lock anyway, retry or
// abandon; --choice answers in advance.
func terminalGatewayLock(e *env, args []string) int {
	c := e.gatewayCmd("terminal lock")
	reason := c.fs.String("reason", agent.LockManual, "manual | inactivity")
	choice := c.fs.String("choice", "", "when the server cannot be told: lock_anyway | retry | abandon")
	if _, st, ok := c.parse(args); !ok {
		return st
	}
	if *reason != agent.LockManual && *reason != agent.LockInactivity {
		return c.usageError("--reason must be manual or inactivity")
	}
	switch *choice {
	case "", agent.ChoiceLockAnyway, agent.ChoiceRetry, agent.ChoiceAbandon:
	default:
		return c.usageError("--choice must be lock_anyway, retry or abandon")
	}
	gw, st, ok := c.gateway()
	if !ok {
		return st
	}
	req := agent.LockRequest{Reason: *reason, Choice: *choice}
	for {
		s, err := gw.Lock(c.ctx, req)
		if err == nil {
			if req.Choice == agent.ChoiceAbandon && !c.json {
				fmt.Fprintln(c.stderr, "lock abandoned: the terminal is not locked")
			}
			return c.showGatewayStatus(s)
		}
		if !offlineLock(err) {
			return c.fail(err)
		}
		ch, asked := c.askLockChoice(err)
		if !asked {
			st := c.fail(err)
			fmt.Fprintln(c.stderr, "hint: rerun with --choice lock_anyway, --choice retry or --choice abandon")
			return st
		}
		req.Choice = ch
	}
}

// offlineLock reports whether err is the gateway's question about an
// offline manual lock.
func offlineLock(err error) bool {
	var le *latchkey.Error
	if !errors.As(err, &le) || le.Code != latchkey.ECONFLICT {
		return false
	}
	off, _ := le.Details["offline"].(bool)
	return off
}

// askLockChoice asks at the terminal what to do about an offline lock;
// asked is false when stdin is not a terminal.
func (c *gatewayCmd) askLockChoice(err error) (choice string, asked bool) {
	if _, ok := terminalFD(c.stdin); !ok {
		return "", false
	}
	fmt.Fprintf(c.stderr, "%s\n", latchkey.ErrorMessage(err))
	for {
		fmt.Fprint(c.stderr, "[l]ock anyway, [r]etry or [a]bandon? ")
		line, rerr := readLine(c.stdin)
		if rerr != nil {
			return agent.ChoiceAbandon, true
		}
		switch strings.ToLower(strings.TrimSpace(line)) {
		case "l", "lock", "lock_anyway", "lock anyway":
			return agent.ChoiceLockAnyway, true
		case "r", "retry":
			return agent.ChoiceRetry, true
		case "a", "abandon":
			return agent.ChoiceAbandon, true
		}
	}
}

// terminalGatewayUnlock unlocks this terminal through the agent (which
// needs the server).
func terminalGatewayUnlock(e *env, args []string) int {
	c := e.gatewayCmd("terminal unlock")
	identity := c.fs.String("identity", "", "an identity of the session's principal (default: the session's)")
	force := c.fs.Bool("force", false, "fail the person's unlocked sessions at other terminals")
	pw := c.passwordFlag()
	if _, st, ok := c.parse(args); !ok {
		return st
	}
	gw, st, ok := c.gateway()
	if !ok {
		return st
	}
	prompt := "Password: "
	if *identity != "" {
		prompt = "Password for " + *identity + ": "
	}
	password, st, ok := pw.get("LATCHKEY_PASSWORD", prompt, false)
	if !ok {
		return st
	}
	s, err := gw.Unlock(c.ctx, agent.UnlockRequest{Identity: *identity, Password: password, Force: *force})
	if err != nil {
		return c.fail(err)
	}
	return c.showGatewayStatus(s)
}

// terminalGatewayTouch reports that the person at this terminal is
// active (the agent passes it on to the server, batched).
func terminalGatewayTouch(e *env, args []string) int {
	return gatewayCall(e, "terminal touch", (*agent.GatewayClient).Touch, args)
}

// terminalGatewayLogout logs the person at this terminal out.
func terminalGatewayLogout(e *env, args []string) int {
	return gatewayCall(e, "terminal logout", (*agent.GatewayClient).Logout, args)
}

// terminalGatewayStatus shows the agent's mode, the session, the minutes
// left and a pending warning.
func terminalGatewayStatus(e *env, args []string) int {
	return gatewayCall(e, "terminal status", (*agent.GatewayClient).Status, args)
}

// gatewayCall runs a gateway command with no flags of its own: one call,
// whose status it shows.
func gatewayCall(e *env, name string, call func(*agent.GatewayClient, context.Context) (*agent.Status, error), args []string) int {
	c := e.gatewayCmd(name)
	if _, st, ok := c.parse(args); !ok {
		return st
	}
	gw, st, ok := c.gateway()
	if !ok {
		return st
	}
	s, err := call(gw, c.ctx)
	if err != nil {
		return c.fail(err)
	}
	return c.showGatewayStatus(s)
}

// showGatewayStatus prints a gateway status as JSON or text.
func (c *gatewayCmd) showGatewayStatus(st *agent.Status) int {
	if c.json {
		return c.printJSON(st)
	}
	mode := st.Mode
	if !st.ModeSince.IsZero() {
		mode += " (since " + timeText(st.ModeSince) + ")"
	}
	kv := []string{"mode", mode}
	if s := st.Session; s == nil {
		kv = append(kv, "session", "-")
	} else {
		locked := "no"
		if s.LockedAt != nil {
			locked = "since " + timeText(*s.LockedAt)
			if s.LockedOffline {
				locked += " (offline: the server was not told; other terminals see the session as unlocked)"
			}
		}
		ends := timePtrText(s.EndsAt)
		if s.Limit != "" {
			ends += " (" + s.Limit + ")"
		}
		left := "-"
		if st.MinutesLeft != nil {
			left = strconv.Itoa(*st.MinutesLeft)
		}
		kv = append(kv, "session", s.ID, "identity", s.Identity, "principal", orDash(s.Principal),
			"started_at", timeText(s.StartedAt), "standalone", strconv.FormatBool(s.Standalone),
			"locked", locked, "ends_at", ends, "minutes_left", left)
	}
	warning := "-"
	if w := st.Warning; w != nil {
		warning = fmt.Sprintf("%s: logged off in %d s", w.Reason, w.SecondsLeft)
	}
	kv = append(kv, "warning", warning)
	policy := "none yet (nobody can log on offline until the server is reached)"
	if !st.PolicyIssuedAt.IsZero() {
		policy = "issued " + timeText(st.PolicyIssuedAt)
	}
	kv = append(kv, "policy", policy)
	if st.PendingUploads > 0 {
		kv = append(kv, "pending_uploads", strconv.Itoa(st.PendingUploads))
	}
	if l := st.LastEnded; l != nil && st.Session == nil {
		kv = append(kv, "last_ended", fmt.Sprintf("%s (%s) at %s: %s", l.ID, l.Identity, timeText(l.At), l.Reason))
	}
	fields(c.stdout, kv...)
	return 0
}
