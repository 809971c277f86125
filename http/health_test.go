package http_test

import (
	"errors"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"latchkey"
	lkhttp "latchkey/http"
)

func TestReadyz(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if w := e.do(req{method: "GET", path: "/readyz"}); w.Code != 200 {
		t.Fatalf("ready: %d %s", w.Code, w.Body)
	}
	e.st.err = errors.New("dial tcp: connection refused")
	w := e.do(req{method: "GET", path: "/readyz"})
	if w.Code != 503 || errorOf(t, w).Code != latchkey.EUNAVAILABLE {
		t.Fatalf("not ready: %d %s", w.Code, w.Body)
	}
	if d := errorOf(t, w).Details["reason"]; d != "store_unreachable" {
		t.Fatalf("not ready: reason %v", d)
	}
	if w := e.do(req{method: "GET", path: "/healthz"}); w.Code != 200 {
		t.Fatalf("healthz must not depend on the store: %d", w.Code)
	}
}

// A draining node says so on /readyz (before it stops taking work) and
// still answers what it is sent.
func TestReadyzDraining(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.srv.Drain()
	w := e.do(req{method: "GET", path: "/readyz"})
	if w.Code != 503 || errorOf(t, w).Code != latchkey.EUNAVAILABLE || errorOf(t, w).Details["reason"] != "draining" {
		t.Fatalf("draining: %d %s", w.Code, w.Body)
	}
	if w := e.do(req{method: "GET", path: "/healthz"}); w.Code != 200 {
		t.Fatalf("a draining node's healthz: %d", w.Code)
	}
	if w := e.do(req{method: "GET", path: "/v1/sites/s_1", token: userToken}); w.Code != 200 {
		t.Fatalf("a draining node still serves: %d %s", w.Code, w.Body)
	}
}

var sampleLine = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-z_]+="(?:[^"\\]|\\.)*"(?:,[a-z_]+="(?:[^"\\]|\\.)*")*\})? [-+0-9.eInfa]+$`)

func TestMetrics(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.do(req{method: "GET", path: "/healthz"})
	e.do(req{method: "GET", path: "/healthz"})
	e.do(req{method: "GET", path: "/v1/sites/s_1", token: userToken})
	e.do(req{method: "GET", path: "/nope"})
	w := e.do(req{method: "GET", path: "/metrics", token: delegateToken})
	if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("%d %q", w.Code, w.Header().Get("Content-Type"))
	}
	body := w.Body.String()
	for _, want := range []string{
		`latchkey_http_requests_total{code="200",route="GET /healthz"} 2`,
		`latchkey_http_requests_total{code="200",route="GET /v1/sites/{id}"} 1`,
		`latchkey_http_requests_total{code="404",route="unmatched"} 1`,
		`latchkey_http_request_duration_seconds_bucket{code="200",route="GET /healthz",le="+Inf"} 2`,
		`latchkey_http_request_duration_seconds_count{code="200",route="GET /healthz"} 2`,
		"# TYPE latchkey_process_peak_rss_bytes gauge",
		"# TYPE go_goroutines gauge",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(body), "\n") {
		if !strings.HasPrefix(line, "#") && !sampleLine.MatchString(line) {
			t.Errorf("not a valid sample line: %q", line)
		}
	}
	if runtime.GOOS == "linux" {
		m := regexp.MustCompile(`(?m)^latchkey_process_peak_rss_bytes (\S+)$`).FindStringSubmatch(body)
		if m == nil {
			t.Fatal("no peak RSS sample")
		}
		if v, err := strconv.ParseFloat(m[1], 64); err != nil || v < 1<<20 {
			t.Fatalf("peak RSS %q: want a plausible byte count", m[1])
		}
	}
}

// TestMetricsNeedStaff: without MetricsPublic, /metrics needs an admin or
// delegate token; with it, anyone may read them.
func TestMetricsNeedStaff(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for token, want := range map[string]int{
		"":            401,
		"bogus":       401,
		userToken:     403,
		terminalToken: 403,
		delegateToken: 200,
		adminToken:    200,
	} {
		if w := e.do(req{method: "GET", path: "/metrics", token: token}); w.Code != want {
			t.Errorf("token %q: %d, want %d", token, w.Code, want)
		}
	}
	pub := newEnvWith(t, lkhttp.Options{MetricsPublic: true})
	for _, token := range []string{"", userToken, terminalToken} {
		if w := pub.do(req{method: "GET", path: "/metrics", token: token}); w.Code != 200 {
			t.Errorf("public, token %q: %d", token, w.Code)
		}
	}
}
