package bench

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// WriteText prints r as a readable table.
func (r *LocksResult) WriteText(w io.Writer) {
	backend := ""
	if r.Backend != "" {
		backend = ", backend " + r.Backend
	}
	fmt.Fprintf(w, "latchkey bench locks: mode %s, %d clients on %d locks, %s%s\n", r.Mode, r.Clients, r.Locks,
		r.Duration.Round(time.Millisecond), backend)
	fmt.Fprintf(w, "server %s, started %s\n", r.Server, r.StartedAt.Format(time.RFC3339))
	switch r.Handover {
	case HandoverPoll:
		fmt.Fprintf(w, "hand-over by polling: a queued client asks again every %s × its place in the queue\n", r.PollInterval)
	case HandoverEvents:
		fmt.Fprintf(w, "hand-over by the event stream: a queued client waits for its lock.grant on GET /v1/events "+
			"(asking again after %s without one: %d times)\n", EventFallback, r.FallbackPolls)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "op\tcount\tops/s\tp50 ms\tp99 ms\tmax ms\t")
	for _, o := range r.Ops {
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.2f\t%.2f\t%.2f\t\n", o.Op, o.Count, o.OpsPerSec, o.P50ms, o.P99ms, o.MaxMs)
	}
	tw.Flush()
	fmt.Fprintf(w, "\ntotal %.1f calls/s, %d cycles, %.1f cycles/s\n", r.TotalOpsPerSec, r.Cycles, r.CyclesPerSec)
	if r.Mode == LockContended {
		fmt.Fprintf(w, "wait: from a cycle's first acquire call to learning of the grant; %d acquire calls answered read_only\n", r.Polls)
		fmt.Fprintf(w, "handover: from the previous holder's release answer to the next holder learning of its grant; "+
			"%d learned before that answer (counted as 0); release_to_grant: the same from the release call being sent\n", r.HandoverEarly)
	}
	if s := r.Duration.Seconds(); s > 0 {
		fmt.Fprintf(w, "server CPU %.2f cores; machine busy %.2f cores, bench client %.2f, steal %.2f\n",
			r.ServerCPUSeconds/s, r.Machine.Busy, r.Machine.Client, r.Machine.Steal)
	}
	if r.Profile != "" {
		fmt.Fprintf(w, "server CPU profile: %s\n", r.Profile)
	}
	if r.PeakRSSBytes > 0 {
		fmt.Fprintf(w, "server peak RSS %.1f MiB, from %s\n", float64(r.PeakRSSBytes)/(1<<20), r.RSSSource)
	} else {
		fmt.Fprintf(w, "server peak RSS %s\n", r.RSSSource)
	}
	if len(r.Nodes) > 0 {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "node\tclients\tcycles\tCPU s\tpeak RSS MiB")
		for _, n := range r.Nodes {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%.2f\t%.1f\n", n.Server, n.Clients, n.Cycles, n.ServerCPUSeconds, float64(n.PeakRSSBytes)/(1<<20))
		}
		tw.Flush()
	}
	for _, p := range r.Watched {
		fmt.Fprintf(w, "process %d (%s) and its children: %.2f CPU s", p.PID, p.Title, p.CPUSeconds)
		if r.Cycles > 0 {
			fmt.Fprintf(w, ", %.3f ms a cycle", 1000*p.CPUSeconds/float64(r.Cycles))
		}
		fmt.Fprintln(w)
	}
}
