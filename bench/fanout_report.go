package bench

import (
	"fmt"
	"io"
	"time"
)

// WriteText prints r as a readable report.
func (r *FanoutResult) WriteText(w io.Writer) {
	backend := ""
	if r.Backend != "" {
		backend = ", backend " + r.Backend
	}
	fmt.Fprintf(w, "latchkey bench fanout: %d streams (%d delegates, %d streams each), %d writers at %.0f calls/s%s\n",
		r.Streams, r.Callers, r.StreamsPerCaller, r.Writers, r.Rate, backend)
	fmt.Fprintf(w, "server %s, writing started %s, lasted %s; streams opened in %s\n", r.Server,
		r.StartedAt.Format(time.RFC3339), r.Duration.Round(time.Millisecond), r.StreamsOpen.Round(time.Millisecond))
	fmt.Fprintf(w, "events %d (lock.* and session.* in the audit trail; %d writer calls answered)\n", r.Events, r.WriterCalls)
	fmt.Fprintf(w, "deliveries %d of %d due (events × streams): %d missing, %d duplicates, %d unexpected\n",
		r.Delivered, r.Due, r.Missing, r.Duplicates, r.Unexpected)
	if r.Missing > 0 || r.Duplicates > 0 || r.Unexpected > 0 {
		fmt.Fprintln(w, "FAILED: not every event arrived on every stream exactly once")
	}
	if r.Unanswered > 0 || r.Unrecorded > 0 {
		fmt.Fprintf(w, "NOTE: %d events no writer's answer names, %d answers without an event\n", r.Unanswered, r.Unrecorded)
	}
	fmt.Fprintf(w, "\n%-12s %10s %8s %8s %8s\n", "delay", "count", "p50 ms", "p99 ms", "max ms")
	for _, o := range []OpStats{r.FromAnswer, r.FromRecord} {
		fmt.Fprintf(w, "%-12s %10d %8.2f %8.2f %8.2f\n", o.Op, o.Count, o.P50ms, o.P99ms, o.MaxMs)
	}
	fmt.Fprintf(w, "from_answer: from the writer's answer to the arrival (%d arrived before it, counted as 0); "+
		"from_record: from the record's time (the write's start, so with the commit)\n", r.Early)
	if r.StreamErrors > 0 {
		fmt.Fprintf(w, "%d streams broke before the end: %s\n", r.StreamErrors, r.StreamError)
	}
	if s := r.Duration.Seconds(); s > 0 {
		fmt.Fprintf(w, "server CPU %.2f cores; machine busy %.2f cores, bench client %.2f, steal %.2f\n",
			r.ServerCPUSeconds/s, r.Machine.Busy, r.Machine.Client, r.Machine.Steal)
	}
	if r.Profile != "" {
		fmt.Fprintf(w, "server CPU profile: %s\n", r.Profile)
	}
	if r.IdleRSSBytes > 0 {
		fmt.Fprintf(w, "server RSS with the streams open, before the writing: %.1f MiB\n", float64(r.IdleRSSBytes)/(1<<20))
	}
	if r.PeakRSSBytes > 0 {
		fmt.Fprintf(w, "server peak RSS %.1f MiB, from %s\n", float64(r.PeakRSSBytes)/(1<<20), r.RSSSource)
	} else {
		fmt.Fprintf(w, "server peak RSS %s\n", r.RSSSource)
	}
	verdict := "not met"
	if r.GoalMet {
		verdict = "met"
	}
	fmt.Fprintf(w, "goal (every event on every stream, p99 from the answer < %d ms, peak RSS < %d MiB): %s\n",
		FanoutGoalP99ms, FanoutGoalRSSMiB, verdict)
}
