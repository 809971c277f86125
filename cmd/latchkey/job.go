package main

import (
	"context"
	"strconv"

	"latchkey"
	"latchkey/client"
)

var jobSynopsis = []string{
	"job list [--state S] [--kind K] [--limit N] [--after CURSOR]",
	"job show ID",
	"job retry ID",
	"job cancel ID",
}

func runJob(e *env, args []string) int {
	return e.dispatch("job", jobSynopsis, map[string]func(*env, []string) int{
		"list":   jobList,
		"show":   jobShow,
		"retry":  jobRetry,
		"cancel": jobCancel,
	}, args)
}

// jobList lists the background jobs (admins), e.g. the failed ones.
func jobList(e *env, args []string) int {
	c := e.newCmd("job list", synopsisOf(jobSynopsis, "job list"), true)
	page := c.page()
	state := c.fs.String("state", "", "only jobs in this state (available, running, done, failed, cancelled)")
	kind := c.fs.String("kind", "", "only jobs of this kind (e.g. workflow, checkout.expire, sweep.sessions)")
	if _, st, ok := c.parse(args); !ok {
		return st
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	items, next, err := cl.Jobs(c.ctx, latchkey.JobFilter{State: latchkey.JobState(*state), Kind: latchkey.JobKind(*kind), Page: *page})
	if err != nil {
		return c.fail(err)
	}
	return printList(c, items, next, "ID\tKIND\tSTATE\tATTEMPTS\tRUN AT\tNODE\tERROR", func(j latchkey.Job) []string {
		return []string{j.ID, string(j.Kind), string(j.State), strconv.Itoa(j.Attempts) + "/" + strconv.Itoa(j.MaxAttempts),
			timeText(j.RunAt), orDash(j.Node), orDash(j.Error)}
	})
}

func jobShow(e *env, args []string) int {
	return showCommand(e, "job show", (*client.Client).Job, (*cmd).showJob, args)
}

func jobRetry(e *env, args []string) int {
	return showCommand(e, "job retry", func(cl *client.Client, ctx context.Context, id string) (*latchkey.Job, error) {
		return cl.RetryJob(ctx, id)
	}, (*cmd).showJob, args)
}

func jobCancel(e *env, args []string) int {
	return showCommand(e, "job cancel", func(cl *client.Client, ctx context.Context, id string) (*latchkey.Job, error) {
		return cl.CancelJob(ctx, id)
	}, (*cmd).showJob, args)
}

func (c *cmd) showJob(j *latchkey.Job) int {
	if c.json {
		return c.printJSON(j)
	}
	lease, ended := "-", "-"
	if j.LeaseUntil != nil {
		lease = timeText(*j.LeaseUntil)
	}
	if j.EndedAt != nil {
		ended = timeText(*j.EndedAt)
	}
	fields(c.stdout, "job", j.ID, "kind", string(j.Kind), "key", orDash(j.Key), "state", string(j.State),
		"attempts", strconv.Itoa(j.Attempts)+" of "+strconv.Itoa(j.MaxAttempts), "run at", timeText(j.RunAt),
		"node", orDash(j.Node), "fence", strconv.FormatInt(j.Fence, 10), "lease until", lease, "error", orDash(j.Error),
		"created", timeText(j.CreatedAt), "ended", ended)
	return 0
}
