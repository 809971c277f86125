package main

import (
	"fmt"
	"strconv"

	"latchkey"
)

var auditSynopsis = []string{
	"audit list [--after SEQ] [--limit N] [--actor A] [--action noun.verb]",
	"audit verify",
}

func runAudit(e *env, args []string) int {
	return e.dispatch("audit", auditSynopsis, map[string]func(*env, []string) int{
		"list":   auditList,
		"verify": auditVerify,
	}, args)
}

func auditList(e *env, args []string) int {
	c := e.newCmd("audit list", synopsisOf(auditSynopsis, "audit list"), true)
	var f latchkey.AuditFilter
	c.fs.Int64Var(&f.After, "after", 0, "list records after this seq")
	c.fs.IntVar(&f.Limit, "limit", 0, "at most this many records (default: the server's)")
	c.fs.StringVar(&f.Actor, "actor", "", "only records of this actor (a principal or terminal ID)")
	c.fs.StringVar(&f.Action, "action", "", "only records of this action, e.g. session.login")
	if _, st, ok := c.parse(args); !ok {
		return st
	}
	if f.After < 0 || f.Limit < 0 {
		return c.usageError("--after and --limit must not be negative")
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	items, next, err := cl.ListAudit(c.ctx, f)
	if err != nil {
		return c.fail(err)
	}
	if c.json {
		return c.printJSON(listJSON(items, next))
	}
	rows := make([][]string, len(items))
	for i, r := range items {
		rows[i] = []string{strconv.FormatInt(r.Seq, 10), timeText(r.At), r.Actor, orDash(r.Terminal), r.Action, orDash(r.Target), detailsText(r.Details)}
	}
	table(c.stdout, "SEQ\tAT\tACTOR\tTERMINAL\tACTION\tTARGET\tDETAILS", rows)
	c.more(next)
	return 0
}

func detailsText(b []byte) string {
	if len(b) == 0 || string(b) == "null" || string(b) == "{}" {
		return "-"
	}
	return string(b)
}

// auditVerify checks the audit log's hash chain: exit 0 when it holds, 1
// when it is broken.
func auditVerify(e *env, args []string) int {
	c := e.newCmd("audit verify", "", true)
	if _, st, ok := c.parse(args); !ok {
		return st
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	v, err := cl.VerifyAudit(c.ctx)
	if err != nil {
		return c.fail(err)
	}
	if c.json {
		c.printJSON(v)
		if !v.OK {
			fmt.Fprintf(c.stderr, "latchkey: audit chain broken at seq %d\n", v.FirstBadSeq)
		}
	} else if v.OK {
		fmt.Fprintf(c.stdout, "audit chain ok: %d records\n", v.Records)
	} else {
		fmt.Fprintf(c.stdout, "audit chain broken at seq %d\n", v.FirstBadSeq)
	}
	if !v.OK {
		return 1
	}
	return 0
}
