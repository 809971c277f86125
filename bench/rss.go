package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The server's memory, as its GET /metrics shows it.
const (
	// PeakRSSMetric is the server's peak resident set size (Linux VmHWM).
	PeakRSSMetric = "latchkey_process_peak_rss_bytes"
	// RSSMetric is the Prometheus process collector's current resident set
	// size, sampled during the run when PeakRSSMetric is absent.
	RSSMetric = "process_resident_memory_bytes"
	// RSSSampleEvery is how often RSSMetric is sampled.
	RSSSampleEvery = 250 * time.Millisecond
)

// MetricValue reads the Prometheus text exposition format from r and
// returns the value of the samples named name, whatever their labels (the
// largest, if there are several); found is false when there is none.
// Comments, other metrics and timestamps are skipped; a sample of name
// that cannot be read is an error.
func MetricValue(r io.Reader, name string) (value float64, found bool, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || s[0] == '#' {
			continue
		}
		end := strings.IndexAny(s, "{ \t")
		if end < 0 {
			if s == name {
				return 0, false, fmt.Errorf("metrics line %d: %s has no value", line, name)
			}
			continue
		}
		if s[:end] != name {
			continue
		}
		rest := s[end:]
		if rest[0] == '{' {
			i := labelsEnd(rest)
			if i < 0 {
				return 0, false, fmt.Errorf("metrics line %d: unterminated labels of %s", line, name)
			}
			rest = rest[i+1:]
		}
		fields := strings.Fields(rest)
		if len(fields) < 1 || len(fields) > 2 {
			return 0, false, fmt.Errorf("metrics line %d: want \"%s value [timestamp]\", got %q", line, name, s)
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return 0, false, fmt.Errorf("metrics line %d: value of %s: %w", line, name, err)
		}
		if !found || v > value {
			value = v
		}
		found = true
	}
	if err := sc.Err(); err != nil {
		return 0, false, fmt.Errorf("read metrics: %w", err)
	}
	return value, found, nil
}

// labelsEnd returns the index of the '}' closing the label set that s
// starts with, skipping quoted label values (with their escapes), or -1.
func labelsEnd(s string) int {
	quoted := false
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case !quoted && c == '}':
			return i
		}
	}
	return -1
}

// serverCPU reads the server's process_cpu_seconds_total.
func serverCPU(ctx context.Context, hc *http.Client, server string) (float64, error) {
	body, err := scrapeMetrics(ctx, hc, server)
	if err != nil {
		return 0, err
	}
	v, ok, err := MetricValue(bytes.NewReader(body), "process_cpu_seconds_total")
	if err == nil && !ok {
		err = fmt.Errorf("no process_cpu_seconds_total in /metrics")
	}
	return v, err
}

// scrapeMetrics fetches GET {server}/metrics (no authentication).
func scrapeMetrics(ctx context.Context, hc *http.Client, server string) ([]byte, error) {
	return getBody(ctx, hc, server, "/metrics", 10*time.Second, 16<<20)
}

// getBody fetches GET {base}{path} within timeout and returns its body (at
// most limit bytes); anything but 200 is an error.
func getBody(ctx context.Context, hc *http.Client, base, path string, timeout time.Duration, limit int64) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	what := "GET " + path
	if i := strings.IndexByte(what, '?'); i >= 0 {
		what = what[:i]
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: HTTP status %d", what, resp.StatusCode)
	}
	return body, nil
}

// rssWatch follows the server's memory during a run: it samples RSSMetric
// every RSSSampleEvery, and at the end prefers the server's own peak.
type rssWatch struct {
	hc     *http.Client
	server string
	stop   chan struct{}
	done   chan struct{}

	mu      sync.Mutex
	max     float64
	samples int
	lastErr error
}

func watchRSS(ctx context.Context, hc *http.Client, server string) *rssWatch {
	w := &rssWatch{hc: hc, server: server, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		t := time.NewTicker(RSSSampleEvery)
		defer t.Stop()
		for {
			w.sample(ctx)
			select {
			case <-w.stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return w
}

func (w *rssWatch) sample(ctx context.Context) {
	body, err := scrapeMetrics(ctx, w.hc, w.server)
	var v float64
	var found bool
	if err == nil {
		v, found, err = MetricValue(bytes.NewReader(body), RSSMetric)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case err != nil:
		w.lastErr = err
	case !found:
		w.lastErr = fmt.Errorf("GET /metrics has no %s", RSSMetric)
	default:
		w.samples++
		w.max = max(w.max, v)
	}
}

// finish stops the sampling and returns the server's peak RSS and where it
// was read: PeakRSSMetric at the end of the run if the server has it (and
// it is not 0, as it is where the server cannot read it), else
// the largest sample of RSSMetric. A server without either is not an
// error: the source then says why there is no figure.
func (w *rssWatch) finish(ctx context.Context) (int64, string) {
	close(w.stop)
	<-w.done
	body, err := scrapeMetrics(ctx, w.hc, w.server)
	if err == nil {
		v, found, perr := MetricValue(bytes.NewReader(body), PeakRSSMetric)
		if perr == nil && found && v > 0 { // 0: the server could not read VmHWM
			return int64(v), PeakRSSMetric + " (VmHWM, at the end of the run)"
		}
		if perr != nil {
			err = perr
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.samples > 0 {
		return int64(w.max), fmt.Sprintf("%s (max of %d samples, one every %s)", RSSMetric, w.samples, RSSSampleEvery)
	}
	if err == nil {
		err = w.lastErr
	}
	if err == nil {
		err = fmt.Errorf("GET /metrics has neither %s nor %s", PeakRSSMetric, RSSMetric)
	}
	return 0, "unavailable: " + err.Error()
}

// procStatus reads a size field ("VmHWM", "VmRSS") of /proc/PID/status, in
// bytes.
func procStatus(pid int, field string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return StatusField(f, field)
}

// StatusField reads field from r in the format of /proc/PID/status
// ("VmHWM:\t  51234 kB") and returns it in bytes.
func StatusField(r io.Reader, field string) (int64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		f := strings.Fields(value)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("%s: want \"N kB\", got %q", field, strings.TrimSpace(value))
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%s: %q is not a size", field, f[0])
		}
		return n << 10, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no %s in the process status", field)
}
