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
	prom     nethttp.Handler
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	// throttled counts password checks refused by the login throttle, by
	// the key over its limit (address or identity); refusedStreams counts
	// event streams refused by a cap (token or server).
	throttled      *prometheus.CounterVec
	refusedStreams *prometheus.CounterVec
}

// retrier is a store that counts the write operations it reran after
// losing a race (sqlstore.Store).
type retrier interface{ Retries() int64 }

// committer is a store that counts its group commits and, on PostgreSQL,
// its audit chain's rounds (sqlstore.Store).
type committer interface {
	CommitBatches() int64
	CommitFallbacks() int64
	AuditChainRounds() int64
	AuditChainedInBatch() int64
}

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
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latchkey_login_throttled_total",
			Help: "Password checks refused by the login throttle before hashing, by the key over its limit (address, identity).",
		}, []string{"by"}),
		refusedStreams: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latchkey_event_streams_refused_total",
			Help: "Event streams refused because a cap was reached, by cap (token, server).",
		}, []string{"cap"}),
	}
	m.reg.MustRegister(m.requests, m.duration, m.throttled, m.refusedStreams,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "latchkey_process_peak_rss_bytes",
			Help: "Peak resident set size of the process (VmHWM), in bytes; 0 where /proc is missing.",
		}, peakRSS))
	m.prom = m.handler()
	if r, ok := store.(retrier); ok {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "latchkey_store_retries_total",
			Help: "Write operations rerun because they lost a race (PostgreSQL deadlock or serialisation failure, SQLite busy).",
		}, func() float64 { return float64(r.Retries()) }))
	}
	if c, ok := store.(committer); ok {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "latchkey_store_commit_batches_total",
			Help: "Write transactions committed by the group commit (each holds one or more write operations).",
		}, func() float64 { return float64(c.CommitBatches()) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "latchkey_store_commit_fallbacks_total",
				Help: "Group-commit batches that ran whole, met an operation that failed or timed out, and ran again with a savepoint per operation.",
			}, func() float64 { return float64(c.CommitFallbacks()) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "latchkey_audit_chain_rounds_total",
				Help: "Rounds of this node's audit chainer that chained records (PostgreSQL; 0 on SQLite, which chains in the writing transaction).",
			}, func() float64 { return float64(c.AuditChainRounds()) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "latchkey_audit_chained_in_batch_total",
				Help: "Commit batches that chained their audit records themselves, finding the audit head free (PostgreSQL; the others left them to the chainer).",
			}, func() float64 { return float64(c.AuditChainedInBatch()) }))
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

// serveMetrics is GET /metrics. The metrics name routes, show the load and
// count refused logons: unless the server was told they are public
// (MetricsPublic: --metrics-public, or a loopback listener), they need an
// admin or delegate token.
func (s *Server) serveMetrics(w nethttp.ResponseWriter, r *nethttp.Request) {
	if !s.metricsPublic {
		if _, err := s.authorize(r, staff); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	s.metrics.prom.ServeHTTP(w, r)
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
