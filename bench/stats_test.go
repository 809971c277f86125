package bench_test

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"latchkey/bench"
)

func durations(ms ...int) []time.Duration {
	out := make([]time.Duration, len(ms))
	for i, m := range ms {
		out[i] = time.Duration(m) * time.Millisecond
	}
	return out
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1 // 1..100 ms
	}
	thousand := make([]int, 1000)
	for i := range thousand {
		thousand[i] = i + 1
	}
	for _, c := range []struct {
		name    string
		samples []int
		p       float64
		want    int
	}{
		{"empty", nil, 50, 0},
		{"one sample p50", []int{7}, 50, 7},
		{"one sample p99", []int{7}, 99, 7},
		{"two p50 is the lower", []int{1, 2}, 50, 1},
		{"two p51 is the upper", []int{1, 2}, 51, 2},
		{"odd median", []int{1, 2, 3, 4, 5}, 50, 3},
		{"even median nearest rank", []int{1, 2, 3, 4}, 50, 2},
		{"p100 is the max", []int{1, 2, 3, 4}, 100, 4},
		{"tiny p is the min", []int{1, 2, 3, 4}, 0.001, 1},
		{"p0 is the min", []int{1, 2, 3, 4}, 0, 1},
		{"1..100 p50", hundred, 50, 50},
		{"1..100 p99", hundred, 99, 99},
		{"1..100 p99.9", hundred, 99.9, 100},
		{"1..1000 p99", thousand, 99, 990},
		{"1..1000 p99.9", thousand, 99.9, 999},
		{"outlier shows at p99 of 10", []int{1, 1, 1, 1, 1, 1, 1, 1, 1, 500}, 99, 500},
		{"outlier hides at p50", []int{1, 1, 1, 1, 1, 1, 1, 1, 1, 500}, 50, 1},
		{"ties", []int{3, 3, 3, 3}, 99, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := bench.Percentile(durations(c.samples...), c.p)
			if want := time.Duration(c.want) * time.Millisecond; got != want {
				t.Fatalf("Percentile(%v, %v) = %v, want %v", c.samples, c.p, got, want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name                string
		samples             []int
		errors              int
		elapsed             time.Duration
		wantCount, wantErrs int
		wantOps             float64
		p50, p99, max       float64
	}{
		{name: "empty", samples: nil, errors: 0, elapsed: time.Second, wantCount: 0, wantErrs: 0, wantOps: 0, p50: 0, p99: 0, max: 0},
		{name: "empty with errors", samples: nil, errors: 3, elapsed: time.Second, wantCount: 0, wantErrs: 3, wantOps: 0, p50: 0, p99: 0, max: 0},
		{name: "zero elapsed gives no rate", samples: []int{5}, errors: 0, elapsed: 0, wantCount: 1, wantErrs: 0, wantOps: 0, p50: 5, p99: 5, max: 5},
		{name: "unsorted input", samples: []int{9, 1, 5, 3, 7}, errors: 0, elapsed: 2 * time.Second, wantCount: 5, wantErrs: 0, wantOps: 2.5, p50: 5, p99: 9, max: 9},
		{name: "rate counts successes only", samples: []int{2, 2, 2, 2}, errors: 4, elapsed: 4 * time.Second, wantCount: 4, wantErrs: 4, wantOps: 1, p50: 2, p99: 2, max: 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := bench.Summarize("touch", durations(c.samples...), c.errors, c.elapsed)
			want := bench.OpStats{Op: "touch", Count: c.wantCount, Errors: c.wantErrs, OpsPerSec: c.wantOps,
				P50ms: c.p50, P99ms: c.p99, MaxMs: c.max}
			if st != want {
				t.Fatalf("Summarize = %+v, want %+v", st, want)
			}
		})
	}
}

// TestSummarizeMatchesSort checks the percentiles of a large random sample
// against a plain sort, and that sub-millisecond latencies keep their
// fraction.
func TestSummarizeMatchesSort(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	samples := make([]time.Duration, 100_003)
	for i := range samples {
		samples[i] = time.Duration(r.Int64N(int64(50 * time.Millisecond)))
	}
	sorted := slices.Clone(samples)
	slices.Sort(sorted)
	st := bench.Summarize("login", samples, 0, 10*time.Second)
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	if st.P50ms != ms(sorted[50_001]) || st.P99ms != ms(sorted[99_002]) || st.MaxMs != ms(sorted[100_002]) {
		t.Fatalf("p50 %v p99 %v max %v; want %v %v %v", st.P50ms, st.P99ms, st.MaxMs,
			ms(sorted[50_001]), ms(sorted[99_002]), ms(sorted[100_002]))
	}
	if st.OpsPerSec != 10_000.3 {
		t.Fatalf("ops/s = %v, want 10000.3", st.OpsPerSec)
	}
	if sub := bench.Summarize("touch", []time.Duration{250 * time.Microsecond}, 0, time.Second); sub.P50ms != 0.25 {
		t.Fatalf("250µs shows as %v ms", sub.P50ms)
	}
}
