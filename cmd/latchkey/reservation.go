package main

import (
	"fmt"
	"strconv"
	"time"

	"latchkey"
)

var reservationSynopsis = []string{
	"reservation create --terminal ID --start RFC3339 --minutes N [--principal ID]",
	"reservation list --terminal ID",
	"reservation delete ID",
}

func runReservation(e *env, args []string) int {
	return e.dispatch("reservation", reservationSynopsis, map[string]func(*env, []string) int{
		"create": reservationCreate,
		"list":   reservationList,
		"delete": reservationDelete,
	}, args)
}

// reservationCreate books a terminal for a person (yourself by default).
func reservationCreate(e *env, args []string) int {
	c := e.newCmd("reservation create", synopsisOf(reservationSynopsis, "reservation create"), true)
	terminal := c.fs.String("terminal", "", "the terminal's ID")
	start := c.fs.String("start", "", "when it starts, RFC 3339 (e.g. 2026-11-24T09:00:00Z)")
	minutes := c.fs.Int("minutes", 0, "how long")
	principal := c.fs.String("principal", "", "book for this person (admins and delegates; default yourself)")
	if _, st, ok := c.parse(args); !ok {
		return st
	}
	if st := c.required("terminal", "start", "minutes"); st != 0 {
		return st
	}
	at, err := time.Parse(time.RFC3339, *start)
	if err != nil {
		return c.usageError("--start must be an RFC 3339 time: %v", err)
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	r, err := cl.CreateReservation(c.ctx, latchkey.Reservation{Terminal: *terminal, Principal: *principal, Start: at, Minutes: *minutes})
	if err != nil {
		return c.fail(err)
	}
	if c.json {
		return c.printJSON(r)
	}
	fields(c.stdout, "reservation", r.ID, "terminal", r.Terminal, "principal", r.Principal, "start", timeText(r.Start),
		"end", timeText(r.End()))
	return 0
}

func reservationList(e *env, args []string) int {
	c := e.newCmd("reservation list", synopsisOf(reservationSynopsis, "reservation list"), true).withTerminalToken()
	terminal := c.fs.String("terminal", "", "the terminal's ID")
	if _, st, ok := c.parse(args); !ok {
		return st
	}
	if st := c.required("terminal"); st != 0 {
		return st
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	items, err := cl.ListReservations(c.ctx, *terminal)
	if err != nil {
		return c.fail(err)
	}
	if c.json {
		return c.printJSON(listJSON(items, ""))
	}
	rows := make([][]string, len(items))
	for i, r := range items {
		rows[i] = []string{r.ID, r.Principal, timeText(r.Start), timeText(r.End()), strconv.Itoa(r.Minutes)}
	}
	table(c.stdout, "ID\tPRINCIPAL\tSTART\tEND\tMINUTES", rows)
	return 0
}

func reservationDelete(e *env, args []string) int {
	c := e.newCmd("reservation delete", "ID", true)
	pos, st, ok := c.parse(args, "ID")
	if !ok {
		return st
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	if err := cl.DeleteReservation(c.ctx, pos[0]); err != nil {
		return c.fail(err)
	}
	if !c.json {
		fmt.Fprintf(c.stderr, "cancelled %s\n", pos[0])
	}
	return 0
}
