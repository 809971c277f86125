package main

import (
	"context"
	"strconv"
	"strings"

	"latchkey"
	"latchkey/client"
)

var checkoutSynopsis = []string{
	"checkout request --groupset ID --terminal ID [--principal ID] [--minutes N]",
	"checkout show ID",
	"checkout checkin ID",
	"checkout extend ID --minutes N",
}

func runCheckout(e *env, args []string) int {
	return e.dispatch("checkout", checkoutSynopsis, map[string]func(*env, []string) int{
		"request": checkoutRequest,
		"show":    checkoutShow,
		"checkin": checkoutCheckin,
		"extend":  checkoutExtend,
	}, args)
}

// checkoutRequest checks a group set out on a workstation: the answer is
// checking_out until the workstation's agent confirms.
func checkoutRequest(e *env, args []string) int {
	c := e.newCmd("checkout request", synopsisOf(checkoutSynopsis, "checkout request"), true)
	var r latchkey.CheckoutCreate
	c.fs.StringVar(&r.GroupSet, "groupset", "", "the group set's ID")
	c.fs.StringVar(&r.Terminal, "terminal", "", "the workstation's terminal ID")
	c.fs.StringVar(&r.Principal, "principal", "", "check out for this person (admins and delegates; default yourself)")
	c.fs.IntVar(&r.Minutes, "minutes", 0, "how long (default: the set's maximum)")
	if _, st, ok := c.parse(args); !ok {
		return st
	}
	if st := c.required("groupset", "terminal"); st != 0 {
		return st
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	co, err := cl.CreateCheckout(c.ctx, r)
	if err != nil {
		return c.fail(err)
	}
	return c.showCheckout(co)
}

func checkoutShow(e *env, args []string) int {
	return showCommand(e, "checkout show", (*client.Client).GetCheckout, (*cmd).showCheckout, args)
}

func checkoutCheckin(e *env, args []string) int {
	return showCommand(e, "checkout checkin", func(cl *client.Client, ctx context.Context, id string) (*client.CheckoutView, error) {
		return cl.CheckinCheckout(ctx, id)
	}, (*cmd).showCheckout, args)
}

func (c *cmd) showCheckout(co *client.CheckoutView) int {
	if c.json {
		return c.printJSON(co)
	}
	fields(c.stdout, "checkout", co.ID, "status", string(co.Status), "groups", strings.Join(co.Groups, " "), "login", co.Login,
		"terminal", co.Terminal, "expires", timeText(co.ExpiresAt), "can check in", strconv.FormatBool(co.CanCheckIn),
		"attempts", strconv.Itoa(co.Attempts), "end reason", orDash(co.EndReason))
	return 0
}

// checkoutExtend lets a running check-out run until now + --minutes.
func checkoutExtend(e *env, args []string) int {
	c := e.newCmd("checkout extend", synopsisOf(checkoutSynopsis, "checkout extend"), true)
	minutes := c.fs.Int("minutes", 0, "run until this many minutes from now")
	pos, st, ok := c.parse(args, "ID")
	if !ok {
		return st
	}
	if st := c.required("minutes"); st != 0 {
		return st
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	co, err := cl.ExtendCheckout(c.ctx, pos[0], *minutes)
	if err != nil {
		return c.fail(err)
	}
	return c.showCheckout(co)
}
