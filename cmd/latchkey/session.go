package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"latchkey"
	"latchkey/client"
)

var sessionSynopsis = []string{
	"session login --terminal ID --identity L [--force] [--password-stdin]",
	"session lock ID [--reason manual|inactivity]",
	"session unlock ID --identity L [--force] [--password-stdin]",
	"session touch ID",
	"session logout ID",
	"session show ID",
}

func runSession(e *env, args []string) int {
	return e.dispatch("session", sessionSynopsis, map[string]func(*env, []string) int{
		"login":  sessionLogin,
		"lock":   sessionLock,
		"unlock": sessionUnlock,
		"touch":  sessionTouch,
		"logout": sessionLogout,
		"show":   sessionShow,
	}, args)
}

// sessionCmd is a session command: it acts with a terminal token.
func (e *env) sessionCmd(name string) *cmd {
	return e.newCmd(name, synopsisOf(sessionSynopsis, name), true).withTerminalToken()
}

// sessionLogin logs a person on at a terminal.
func sessionLogin(e *env, args []string) int {
	c := e.sessionCmd("session login")
	terminal := c.fs.String("terminal", "", "the terminal's ID")
	identity := c.fs.String("identity", "", "the identity (login ID) logging on")
	force := c.fs.Bool("force", false, "fail the person's unlocked sessions at other terminals")
	pw := c.passwordFlag()
	if _, st, ok := c.parse(args); !ok {
		return st
	}
	if st := c.required("terminal", "identity"); st != 0 {
		return st
	}
	password, st, ok := pw.get("LATCHKEY_PASSWORD", "Password for "+*identity+": ", false)
	if !ok {
		return st
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	res, err := cl.StartSession(c.ctx, *terminal, latchkey.LoginRequest{
		Identity: *identity, Password: password, Force: *force, TimeSent: time.Now().UTC()})
	if err != nil {
		return c.fail(err)
	}
	if c.json {
		if res.Failed == nil {
			res.Failed = []string{}
		}
		return c.printJSON(res)
	}
	s := res.Session
	fmt.Fprintf(c.stdout, "session %s %s at terminal %s (identity %s, principal %s)\n", s.ID, s.Status, s.TerminalID, s.Identity, s.PrincipalID)
	if len(res.Failed) > 0 {
		fmt.Fprintf(c.stdout, "failed sessions: %s\n", strings.Join(res.Failed, ", "))
	}
	return 0
}

func sessionLock(e *env, args []string) int {
	c := e.sessionCmd("session lock")
	reason := c.fs.String("reason", string(latchkey.LockManual), "manual | inactivity")
	pos, st, ok := c.parse(args, "ID")
	if !ok {
		return st
	}
	if !latchkey.LockReason(*reason).Valid() {
		return c.usageError("--reason must be manual or inactivity")
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	s, err := cl.LockSession(c.ctx, pos[0], latchkey.LockRequest{TimeSent: time.Now().UTC(), Reason: latchkey.LockReason(*reason)})
	if err != nil {
		return c.fail(err)
	}
	return c.showSession(s)
}

func sessionUnlock(e *env, args []string) int {
	c := e.sessionCmd("session unlock")
	identity := c.fs.String("identity", "", "an identity of the session's principal")
	force := c.fs.Bool("force", false, "fail the person's unlocked sessions at other terminals")
	pw := c.passwordFlag()
	pos, st, ok := c.parse(args, "ID")
	if !ok {
		return st
	}
	if st := c.required("identity"); st != 0 {
		return st
	}
	password, st, ok := pw.get("LATCHKEY_PASSWORD", "Password for "+*identity+": ", false)
	if !ok {
		return st
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	s, err := cl.UnlockSession(c.ctx, pos[0], latchkey.UnlockRequest{
		Identity: *identity, Password: password, Force: *force, TimeSent: time.Now().UTC()})
	if err != nil {
		return c.fail(err)
	}
	return c.showSession(s)
}

func sessionTouch(e *env, args []string) int {
	return sessionSimple(e, args, "session touch", (*client.Client).TouchSession)
}

func sessionLogout(e *env, args []string) int {
	return sessionSimple(e, args, "session logout", (*client.Client).EndSession)
}

func sessionShow(e *env, args []string) int {
	return sessionSimple(e, args, "session show", (*client.Client).GetSession)
}

// sessionSimple runs a session command that takes only the session's ID.
func sessionSimple(e *env, args []string, name string, call func(*client.Client, context.Context, string) (*latchkey.Session, error)) int {
	c := e.sessionCmd(name)
	pos, st, ok := c.parse(args, "ID")
	if !ok {
		return st
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	s, err := call(cl, c.ctx, pos[0])
	if err != nil {
		return c.fail(err)
	}
	return c.showSession(s)
}

func (c *cmd) showSession(s *latchkey.Session) int {
	if c.json {
		return c.printJSON(s)
	}
	kv := []string{
		"id", s.ID,
		"status", string(s.Status),
		"principal", s.PrincipalID,
		"identity", s.Identity,
		"terminal", s.TerminalID,
		"started_at", timeText(s.StartedAt),
		"locked_at", timePtrText(s.LockedAt),
		"ended_at", timePtrText(s.EndedAt),
		"standalone", strconv.FormatBool(s.Standalone),
	}
	if !s.LastActivityAt.IsZero() {
		kv = append(kv, "last_activity_at", timeText(s.LastActivityAt))
	}
	if s.EndReason != "" {
		kv = append(kv, "end_reason", s.EndReason)
	}
	fields(c.stdout, kv...)
	return 0
}

// sessionTable lists sessions, one a line.
func (c *cmd) sessionTable(items []latchkey.Session) {
	rows := make([][]string, len(items))
	for i, s := range items {
		rows[i] = []string{s.ID, s.TerminalID, s.Identity, string(s.Status), timeText(s.StartedAt), timePtrText(s.LockedAt), timePtrText(s.EndedAt)}
	}
	table(c.stdout, "ID\tTERMINAL\tIDENTITY\tSTATUS\tSTARTED\tLOCKED\tENDED", rows)
}
