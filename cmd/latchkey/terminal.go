package main

import (
	"fmt"
	"strconv"
	"strings"

	"latchkey"
	"latchkey/client"
)

var terminalSynopsis = []string{
	"terminal register --name N --site ID",
	"terminal list [--limit N] [--after CURSOR]",
	"terminal show ID",
	"terminal events ID [--limit N] [--after CURSOR]",
	"terminal rotate-token ID",
	"terminal login --identity L [--force] [--password-stdin] [--socket PATH]",
	"terminal lock [--reason manual|inactivity] [--choice lock_anyway|retry|abandon] [--socket PATH]",
	"terminal unlock [--identity L] [--force] [--password-stdin] [--socket PATH]",
	"terminal logout [--socket PATH]",
	"terminal touch [--socket PATH]",
	"terminal status [--socket PATH]",
	"terminal screenlock [--session ID] [--system-bus-address ADDR] [--socket PATH]",
}

func runTerminal(e *env, args []string) int {
	return e.dispatch("terminal", terminalSynopsis, map[string]func(*env, []string) int{
		"register":     terminalRegister,
		"list":         terminalList,
		"show":         terminalShow,
		"events":       terminalEvents,
		"rotate-token": terminalRotateToken,
		"login":        terminalGatewayLogin,
		"lock":         terminalGatewayLock,
		"unlock":       terminalGatewayUnlock,
		"logout":       terminalGatewayLogout,
		"touch":        terminalGatewayTouch,
		"status":       terminalGatewayStatus,
		"screenlock":   terminalScreenLock,
	}, args)
}

// terminalRegister registers a terminal and shows its token, once.
func terminalRegister(e *env, args []string) int {
	c := e.newCmd("terminal register", synopsisOf(terminalSynopsis, "terminal register"), true)
	name := c.fs.String("name", "", "the terminal's name")
	site := c.fs.String("site", "", "the ID of the terminal's site")
	if _, st, ok := c.parse(args); !ok {
		return st
	}
	if st := c.required("name", "site"); st != 0 {
		return st
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	t, err := cl.RegisterTerminal(c.ctx, *name, *site)
	if err != nil {
		return c.fail(err)
	}
	if c.json {
		return c.printJSON(t)
	}
	fields(c.stdout, "id", t.ID, "name", t.Name, "site", t.SiteID, "token", t.Token, "server key", t.ServerKey)
	fmt.Fprintln(c.stderr, "note: the token is shown only once; give it to the terminal (e.g. as LATCHKEY_TERMINAL_TOKEN) now,")
	fmt.Fprintln(c.stderr, "      and start its agent with --server-key "+t.ServerKey+" so that it trusts only this server")
	return 0
}

// terminalRotateToken gives a terminal a new token, shown once; the old
// one stops working at once.
func terminalRotateToken(e *env, args []string) int {
	c := e.newCmd("terminal rotate-token", synopsisOf(terminalSynopsis, "terminal rotate-token"), true)
	pos, st, ok := c.parse(args, "ID")
	if !ok {
		return st
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	token, err := cl.RotateTerminalToken(c.ctx, pos[0])
	if err != nil {
		return c.fail(err)
	}
	if c.json {
		return c.printJSON(map[string]string{"id": pos[0], "token": token})
	}
	fields(c.stdout, "id", pos[0], "token", token)
	fmt.Fprintln(c.stderr, "note: the old token has stopped working; the new one is shown only once: give it to the terminal's agent now (docs/security.md, \"Rotating a terminal's token\")")
	return 0
}

func terminalList(e *env, args []string) int {
	return listCommand(e, "terminal list", synopsisOf(terminalSynopsis, "terminal list"), (*client.Client).ListTerminals,
		"ID\tNAME\tSITE\tONLINE\tSTANDALONE", func(t latchkey.Terminal) []string {
			return []string{t.ID, t.Name, t.SiteID, strconv.FormatBool(t.Online), strconv.FormatBool(t.Standalone)}
		}, args)
}

func terminalShow(e *env, args []string) int {
	return showCommand(e, "terminal show", (*client.Client).GetTerminal, (*cmd).showTerminal, args)
}

func (c *cmd) showTerminal(t *latchkey.Terminal) int {
	if c.json {
		return c.printJSON(t)
	}
	groups := "-"
	if len(t.LockedGroups) > 0 {
		groups = strings.Join(t.LockedGroups, ",")
	}
	fields(c.stdout,
		"id", t.ID,
		"name", t.Name,
		"site", t.SiteID,
		"online", strconv.FormatBool(t.Online),
		"standalone", strconv.FormatBool(t.Standalone),
		"locked_groups", groups,
		"created_at", timeText(t.CreatedAt),
	)
	return 0
}

// terminalEvents lists a terminal's deferred events (24, 25, 26).
func terminalEvents(e *env, args []string) int {
	c := e.newCmd("terminal events", synopsisOf(terminalSynopsis, "terminal events"), true)
	page := c.page()
	pos, st, ok := c.parse(args, "ID")
	if !ok {
		return st
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	items, next, err := cl.ListTerminalEvents(c.ctx, pos[0], *page)
	if err != nil {
		return c.fail(err)
	}
	if c.json {
		return c.printJSON(listJSON(items, next))
	}
	rows := make([][]string, len(items))
	for i, ev := range items {
		rows[i] = []string{orDash(ev.ID), strconv.Itoa(ev.Event) + " " + eventName(ev.Event), timeText(ev.OccurredAt),
			timeText(ev.ReceivedAt), orDash(ev.Identity), orDash(ev.Reason)}
	}
	table(c.stdout, "ID\tEVENT\tOCCURRED\tRECEIVED\tIDENTITY\tREASON", rows)
	c.more(next)
	return 0
}

func eventName(n int) string {
	switch n {
	case latchkey.EventPositionLocked:
		return "(locked)"
	case latchkey.EventPositionUnlocked:
		return "(unlocked)"
	case latchkey.EventUnlockFailed:
		return "(unlock failed)"
	}
	return ""
}
