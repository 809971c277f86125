package apitest_test

import (
	"context"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"latchkey"
	lkhttp "latchkey/http"
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
			ctx := context.Background()
			s := sqlstoretest.Open(b, be.URL(b), sqlstoretest.Options(latchkey.SystemClock{}))
			if _, _, err := s.Bootstrap(ctx, adminPassword); err != nil {
				b.Fatal(err)
			}
			if err := benchseed.Seed(ctx, s, 100_000, 1_000_000, nil); err != nil {
				b.Fatal(err)
			}
			srv := httptest.NewServer(lkhttp.NewServer(s, lkhttp.Options{}).Handler())
			b.Cleanup(srv.Close)
			br := newBrowser(b, srv.URL)
			br.logOn("admin", adminPassword)
			for _, path := range []string{"/", "/admin/users", "/admin/users?q=SEED-1", "/access", "/approvals"} {
				b.Run(path, func(b *testing.B) {
					times := make([]time.Duration, 0, b.N)
					for b.Loop() {
						start := time.Now()
						resp, _ := br.do("GET", path, nil)
						times = append(times, time.Since(start))
						if resp.StatusCode != 200 {
							b.Fatalf("%s: %d", path, resp.StatusCode)
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
		})
	}
}
