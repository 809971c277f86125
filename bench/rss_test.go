package bench_test

import (
	"strings"
	"testing"

	"latchkey/bench"
)

func TestMetricValue(t *testing.T) {
	t.Parallel()
	const exposition = `# HELP latchkey_process_peak_rss_bytes Peak resident set size of the process (VmHWM), in bytes.
# TYPE latchkey_process_peak_rss_bytes gauge
latchkey_process_peak_rss_bytes 5.1789824e+07
# HELP process_resident_memory_bytes Resident memory size in bytes.
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 4.2e+07
process_resident_memory_bytes_extra 9e+99
latchkey_http_requests_total{route="POST /v1/sessions/{id}/lock",code="200"} 17
latchkey_http_requests_total{route="weird } \" label",code="200"} 40 1700000000000
latchkey_http_requests_total{route="other",code="500"} 3
go_info{version="go1.26.8"} 1
go_gc_duration_seconds_sum 0.25
  with_spaces   12   
nan_metric NaN
inf_metric +Inf
`
	for _, c := range []struct {
		name      string
		metric    string
		want      float64
		wantFound bool
	}{
		{"peak gauge in e-notation", "latchkey_process_peak_rss_bytes", 51789824, true},
		{"rss gauge, not its longer-named neighbour", "process_resident_memory_bytes", 42e6, true},
		{"absent", "latchkey_nothing", 0, false},
		{"a prefix of a name is not the name", "process_resident", 0, false},
		{"labels skipped, largest taken, timestamp ignored", "latchkey_http_requests_total", 40, true},
		{"label with a version string", "go_info", 1, true},
		{"surrounding spaces", "with_spaces", 12, true},
		{"+Inf", "inf_metric", inf, true},
		{"HELP text is not a sample", "Peak", 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			v, found, err := bench.MetricValue(strings.NewReader(exposition), c.metric)
			if err != nil {
				t.Fatal(err)
			}
			if found != c.wantFound || v != c.want {
				t.Fatalf("MetricValue(%s) = %v, %v; want %v, %v", c.metric, v, found, c.want, c.wantFound)
			}
		})
	}
	if v, found, err := bench.MetricValue(strings.NewReader(exposition), "nan_metric"); err != nil || !found || v == v {
		t.Fatalf("NaN: %v %v %v", v, found, err)
	}
}

var inf = func() float64 { var z float64; return 1 / z }()

func TestMetricValueMalformed(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"latchkey_process_peak_rss_bytes\n",
		"latchkey_process_peak_rss_bytes many\n",
		"latchkey_process_peak_rss_bytes 1 2 3\n",
		"latchkey_process_peak_rss_bytes{a=\"b\" 5\n",
		"latchkey_process_peak_rss_bytes{a=\"b}\" 5\n",
	} {
		if _, _, err := bench.MetricValue(strings.NewReader(s), "latchkey_process_peak_rss_bytes"); err == nil {
			t.Errorf("MetricValue(%q) accepted a malformed sample", s)
		}
	}
	// A malformed line of another metric does not matter.
	v, found, err := bench.MetricValue(strings.NewReader("other{{{ x y z\nlatchkey_process_peak_rss_bytes 7\n"), "latchkey_process_peak_rss_bytes")
	if err != nil || !found || v != 7 {
		t.Fatalf("got %v %v %v, want 7", v, found, err)
	}
}

func TestStatusField(t *testing.T) {
	t.Parallel()
	const status = "Name:\tlatchkey\nVmPeak:\t 1300000 kB\nVmHWM:\t   51234 kB\nVmRSS:\t   40000 kB\nThreads:\t9\nBad:\t12 MB\n"
	for _, c := range []struct {
		field string
		want  int64
		err   string
	}{
		{"VmHWM", 51234 << 10, ""},
		{"VmRSS", 40000 << 10, ""},
		{"VmSwap", 0, "no VmSwap"},
		{"Threads", 0, "N kB"},
		{"Bad", 0, "N kB"},
	} {
		got, err := bench.StatusField(strings.NewReader(status), c.field)
		if got != c.want || (err == nil) != (c.err == "") || err != nil && !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: %d, %v; want %d, error %q", c.field, got, err, c.want, c.err)
		}
	}
}
