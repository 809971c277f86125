package main

import (
	"fmt"
	"time"

	"latchkey"
)

var eventsSynopsis = []string{
	"events post --terminal ID --event 24|25|26 [--occurred-at RFC3339] [--identity L] [--reason R] [--id ID]",
}

func runEvents(e *env, args []string) int {
	return e.dispatch("events", eventsSynopsis, map[string]func(*env, []string) int{
		"post": eventsPost,
	}, args)
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
