package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"latchkey"
	"latchkey/client"
)

var eventsSynopsis = []string{
	"events [tail] [--topics locks,sessions,checkouts,config] [--targets NAME,...] [--after SEQ]",
	"events post --terminal ID --event 24|25|26 [--occurred-at RFC3339] [--identity L] [--reason R] [--id ID]",
}

func runEvents(e *env, args []string) int {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") && !isHelp(args[0]) {
		return eventsTail(e, args)
	}
	return e.dispatch("events", eventsSynopsis, map[string]func(*env, []string) int{
		"tail": eventsTail,
		"post": eventsPost,
	}, args)
}

func isHelp(arg string) bool {
	switch arg {
	case "-h", "-help", "--help":
		return true
	}
	return false
}

// eventsTail follows the event stream (GET /v1/events) until interrupted:
// from now, or after --after to replay what came since. It reconnects by
// itself and resumes where it was.
func eventsTail(e *env, args []string) int {
	c := e.newCmd("events tail", synopsisOf(eventsSynopsis, "events"), true)
	topics := c.fs.String("topics", "", "comma-separated topics (default: all you may see)")
	targets := c.fs.String("targets", "", "comma-separated lock names or session ids: only the events about them (default: any)")
	after := c.fs.Int64("after", client.FromNow, "replay the events after this seq (default: from now)")
	if _, st, ok := c.parse(args); !ok {
		return st
	}
	if *after < client.FromNow {
		return c.usageError("--after must not be negative")
	}
	var list []string
	if *topics != "" {
		var err error
		if list, err = latchkey.ParseTopics(*topics); err != nil {
			return c.fail(err)
		}
	}
	about, err := latchkey.ParseTargets(*targets)
	if err != nil {
		return c.fail(err)
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	stream := cl.Events(c.ctx, list, *after).About(about...)
	defer stream.Close()
	if err := stream.Connect(); err != nil {
		return c.fail(err)
	}
	return tailEvents(c, stream, func(latchkey.Event) bool { return true })
}

// tailEvents prints the events of stream that keep accepts, one a line
// (with --json, one JSON object a line), until the command is
// interrupted.
func tailEvents(c *cmd, stream *client.EventStream, keep func(latchkey.Event) bool) int {
	enc := json.NewEncoder(c.stdout)
	for {
		ev, err := stream.Next()
		if err != nil {
			if c.ctx.Err() != nil {
				return 0
			}
			return c.fail(err)
		}
		if !keep(ev) {
			continue
		}
		if c.json {
			enc.Encode(ev)
			continue
		}
		fmt.Fprintf(c.stdout, "%d\t%s\t%s\t%s\t%s\t%s\n", ev.Seq, timeText(ev.At), ev.Action, orDash(ev.Target), ev.Actor, detailsText(ev.Details))
	}
}

// eventsPost sends one deferred event of a terminal (terminal token): 24
// position locked, 25 position unlocked, 26 unlock failed (with a reason).
func eventsPost(e *env, args []string) int {
	c := e.newCmd("events post", synopsisOf(eventsSynopsis, "events post"), true).withTerminalToken()
	terminal := c.fs.String("terminal", "", "the terminal's ID")
	event := c.fs.Int("event", 0, "24 (position locked) | 25 (position unlocked) | 26 (unlock failed)")
	occurred := c.fs.String("occurred-at", "", "when it happened, RFC 3339 (default now)")
	identity := c.fs.String("identity", "", "the identity involved")
	reason := c.fs.String("reason", "", "event 26's reason: invalid_credentials | attempts_exceeded | account_locked | account_disabled")
	id := c.fs.String("id", "", "the event's ID, made by the terminal (a repeat is ignored)")
	if _, st, ok := c.parse(args); !ok {
		return st
	}
	if st := c.required("terminal"); st != 0 {
		return st
	}
	switch *event {
	case latchkey.EventPositionLocked, latchkey.EventPositionUnlocked, latchkey.EventUnlockFailed:
	default:
		return c.usageError("--event must be 24, 25 or 26")
	}
	at := time.Now().UTC()
	if *occurred != "" {
		t, err := time.Parse(time.RFC3339, *occurred)
		if err != nil {
			return c.usageError("--occurred-at: %v", err)
		}
		at = t.UTC()
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	n, err := cl.PostTerminalEvents(c.ctx, *terminal, []latchkey.TerminalEvent{{
		ID: *id, Event: *event, OccurredAt: at, Identity: *identity, Reason: *reason}})
	if err != nil {
		return c.fail(err)
	}
	if c.json {
		return c.printJSON(map[string]int{"accepted": n})
	}
	fmt.Fprintf(c.stdout, "accepted %d\n", n)
	return 0
}
