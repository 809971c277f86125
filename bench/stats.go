package bench

import (
	"math"
	"slices"
	"time"
)

// OpStats is the client-side measurement of one kind of operation.
type OpStats struct {
	Op        string  `json:"op"`
	Count     int     `json:"count"`  // calls that succeeded (the latencies below are theirs)
	Errors    int     `json:"errors"` // calls that failed with an expected error (there should be none)
	OpsPerSec float64 `json:"ops_per_sec"`
	P50ms     float64 `json:"p50_ms"`
	P99ms     float64 `json:"p99_ms"`
	MaxMs     float64 `json:"max_ms"`
}

// Percentile returns the p-th percentile (0 < p <= 100) of sorted, an
// ascending slice, by the nearest-rank method: the smallest sample that at
// least p percent of the samples are less than or equal to. It is exact,
// never interpolated, and 0 for no samples.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	// The tiny shave keeps float error (99.9/100*1000 = 999.0000000000001)
	// from moving an exact rank up by one.
	rank := int(math.Ceil(p / 100 * float64(n) * (1 - 1e-12)))
	return sorted[min(max(rank, 1), n)-1]
}

// Summarize sorts samples (in place) and returns their statistics as the
// measurement of op over elapsed: ops/s counts the successful calls.
func Summarize(op string, samples []time.Duration, errors int, elapsed time.Duration) OpStats {
	slices.Sort(samples)
	st := OpStats{Op: op, Count: len(samples), Errors: errors}
	if elapsed > 0 {
		st.OpsPerSec = float64(len(samples)) / elapsed.Seconds()
	}
	if len(samples) > 0 {
		st.P50ms = ms(Percentile(samples, 50))
		st.P99ms = ms(Percentile(samples, 99))
		st.MaxMs = ms(samples[len(samples)-1])
	}
	return st
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
