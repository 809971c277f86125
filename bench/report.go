package bench

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// WriteText prints r as a readable table.
func (r *SessionsResult) WriteText(w io.Writer) {
	backend := ""
	if r.Backend != "" {
		backend = ", backend " + r.Backend
	}
	fmt.Fprintf(w, "latchkey bench sessions: mode %s, %d terminals, %s%s\n", r.Mode, r.Terminals,
		r.Duration.Round(time.Millisecond), backend)
	fmt.Fprintf(w, "server %s, started %s\n", r.Server, r.StartedAt.Format(time.RFC3339))
	fmt.Fprintf(w, "password hashing %s; raw rate on this machine %.1f hashes/s (%d goroutines; %.1f before the load, %.1f after)\n",
		r.Params, r.RawHashesPerSec, r.RawHashWorkers, r.RawBefore, r.RawAfter)
	if r.Note != "" {
		fmt.Fprintf(w, "NOTE: %s\n", r.Note)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "op\tcount\terrors\tops/s\tp50 ms\tp99 ms\tmax ms\t")
	errs := 0
	for _, o := range r.Ops {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t%.2f\t%.2f\t%.2f\t\n", o.Op, o.Count, o.Errors, o.OpsPerSec, o.P50ms, o.P99ms, o.MaxMs)
		errs += o.Errors
	}
	tw.Flush()
	fmt.Fprintf(w, "\ntotal %.1f ops/s, %d cycles, %.1f cycles/s\n", r.TotalOpsPerSec, r.Cycles, r.CyclesPerSec)
	if r.Mode == ModeLogin {
		r.writeLoginVsRaw(w)
	}
	for i, rd := range r.Rounds {
		if rd.Profile != "" {
			fmt.Fprintf(w, "server CPU profile of round %d: %s\n", i+1, rd.Profile)
		}
	}
	if r.PeakRSSBytes > 0 {
		fmt.Fprintf(w, "server peak RSS %.1f MiB, from %s\n", float64(r.PeakRSSBytes)/(1<<20), r.RSSSource)
	} else {
		fmt.Fprintf(w, "server peak RSS %s\n", r.RSSSource)
	}
	if errs > 0 {
		fmt.Fprintf(w, "WARNING: %d calls were refused with rate_limited: the figures include the server's rate limit\n", errs)
	}
}

func (r *SessionsResult) loginRate() float64 {
	for _, o := range r.Ops {
		if o.Op == opNames[opLogin] {
			return o.OpsPerSec
		}
	}
	return 0
}

// writeLoginVsRaw prints the login-mode verdict, with one line a round
// when there are several.
func (r *SessionsResult) writeLoginVsRaw(w io.Writer) {
	if len(r.Rounds) > 1 {
		fmt.Fprintf(w, "\n%d rounds, each judged against the raw rate measured just before and just after it:\n", len(r.Rounds))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "round\tlogins/s\traw before\traw after\tlogin/raw\tnot the hash\tmachine busy\tserver\tbench client\tsteal\t")
		for i, rd := range r.Rounds {
			rate, server := 0.0, 0.0
			if s := rd.Duration.Seconds(); s > 0 {
				rate, server = float64(rd.Logins)/s, rd.ServerCPUSeconds/s
			}
			fmt.Fprintf(tw, "%d\t%.1f\t%.1f\t%.1f\t%.1f%%\t%.1f%%\t%.2f\t%.2f\t%.2f\t%.2f\t\n", i+1, rate, rd.RawBefore, rd.RawAfter,
				100*rd.LoginVsRaw, 100*rd.NonHashCPUShare, rd.Machine.Busy, server, rd.Machine.Client, rd.Machine.Steal)
		}
		tw.Flush()
		fmt.Fprintln(w, "(machine busy, server, bench client and steal in cores: CPU seconds per second)")
		fmt.Fprintf(w, "login vs raw argon2id: %.1f%% (median of %d rounds; %.1f logins/s overall, raw %.1f hashes/s on average)\n",
			100*r.LoginVsRaw, len(r.Rounds), r.loginRate(), r.RawHashesPerSec)
	} else {
		fmt.Fprintf(w, "login vs raw argon2id: %.1f%% (%.1f logins/s of %.1f hashes/s)\n",
			100*r.LoginVsRaw, r.loginRate(), r.RawHashesPerSec)
	}
	if r.NonHashCPUShare != 0 && r.Cycles > 0 {
		fmt.Fprintf(w, "server CPU %.1f s for %d login cycles: %.1f ms a cycle; %.1f%% of it is not the password hash\n",
			r.ServerCPUSeconds, r.Cycles, 1000*r.ServerCPUSeconds/float64(r.Cycles), 100*r.NonHashCPUShare)
	}
}
