package http

import (
	"bufio"
	nethttp "net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics is the server's private Prometheus registry: the request counter
// and latency histogram by route pattern and status code, the Go runtime
// and process collectors, and latchkey_process_peak_rss_bytes (VmHWM),
// which the benchmarks read.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// retrier is a store that counts the write operations it reran after
// losing a race (sqlstore.Store).
type retrier interface{ Retries() int64 }

func newMetrics(store any) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latchkey_http_requests_total",
			Help: "HTTP requests answered, by route pattern and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "latchkey_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route pattern and status code.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "code"}),
	}
	m.reg.MustRegister(m.requests, m.duration,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "latchkey_process_peak_rss_bytes",
			Help: "Peak resident set size of the process (VmHWM), in bytes; 0 where /proc is missing.",
		}, peakRSS))
	if r, ok := store.(retrier); ok {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "latchkey_store_retries_total",
			Help: "Write operations rerun because they lost a race (PostgreSQL deadlock or serialisation failure, SQLite busy).",
		}, func() float64 { return float64(r.Retries()) }))
	}
	return m
}

// observe counts one answered request.
func (m *metrics) observe(route string, code int, d time.Duration) {
	c := strconv.Itoa(code)
	m.requests.WithLabelValues(route, c).Inc()
	m.duration.WithLabelValues(route, c).Observe(d.Seconds())
}

func (m *metrics) handler() nethttp.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// peakRSS reads VmHWM from /proc/self/status, in bytes.
func peakRSS() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
		if err != nil {
			return 0
		}
		return kb * 1024
	}
	return 0
}
