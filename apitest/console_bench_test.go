package apitest_test

import (
	"context"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"latchkey"
	lkhttp "latchkey/http"
	"latchkey/sqlstore"
	"latchkey/sqlstore/benchseed"
	"latchkey/sqlstore/sqlstoretest"
)

// BenchmarkConsolePages: each console page's time at the server's door
// (an in-process server on loopback, so the network adds almost nothing)
// on a store of 100k principals and 1M past sessions (`latchkey bench
// seed`'s data), for the admin's browser session. Reported: p50 and p99
// in ms. Goal (issue 13): p99 < 50 ms. Run:
//
//	LATCHKEY_TEST_POSTGRES=... go test -run '^$' -bench ConsolePages -benchtime 300x ./apitest
func BenchmarkConsolePages(b *testing.B) {
	for _, be := range sqlstoretest.Backends() {
		b.Run(be.Name, func(b *testing.B) {
			br := newBrowser(b, consoleServer(b, seededStore(b, be)))
			br.logOn("admin", adminPassword)
			for _, path := range []string{"/", "/admin/users", "/admin/users?q=SEED-1", "/access", "/approvals"} {
				timePage(b, br, path, path, "")
			}
		})
	}
}

// seededStore is a store on backend be with `latchkey bench seed`'s data
// (100k principals, 1000 terminals, 1M past sessions) and its admin, on
// the wall clock: the console benchmarks' store.
func seededStore(b *testing.B, be sqlstoretest.Backend) *sqlstore.Store {
	b.Helper()
	ctx := context.Background()
	s := sqlstoretest.Open(b, be.URL(b), sqlstoretest.Options(latchkey.SystemClock{}))
	if _, _, err := s.Bootstrap(ctx, adminPassword); err != nil {
		b.Fatal(err)
	}
	if err := benchseed.Seed(ctx, s, 100_000, 1_000_000, nil); err != nil {
		b.Fatal(err)
	}
	return s
}

// consoleServer serves s in-process on loopback (the network adds almost
// nothing) and returns its URL.
func consoleServer(b *testing.B, s *sqlstore.Store) string {
	srv := httptest.NewServer(lkhttp.NewServer(s, lkhttp.Options{}).Handler())
	b.Cleanup(srv.Close)
	return srv.URL
}

// timePage is a sub-benchmark name that fetches path as br b.N times in a
// row, each answer 200 (and holding want, when given), and reports the
// time from sending the request to having the whole page: p50 and p99 in
// ms.
func timePage(b *testing.B, br *browser, name, path, want string) {
	b.Run(name, func(b *testing.B) {
		times := make([]time.Duration, 0, b.N)
		for b.Loop() {
			start := time.Now()
			resp, page := br.do("GET", path, nil)
			times = append(times, time.Since(start))
			if resp.StatusCode != 200 || !strings.Contains(page, want) {
				b.Fatalf("%s: %d (want 200 and %q)", path, resp.StatusCode, want)
			}
		}
		slices.Sort(times)
		q := func(p float64) float64 {
			return float64(times[int(p*float64(len(times)-1))].Microseconds()) / 1000
		}
		b.ReportMetric(q(0.5), "p50-ms")
		b.ReportMetric(q(0.99), "p99-ms")
	})
}
