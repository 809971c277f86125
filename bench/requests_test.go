package bench_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"latchkey"
	"latchkey/bench"
	lkhttp "latchkey/http"
	"latchkey/passhash"
	"latchkey/sqlstore"
	"latchkey/sqlstore/sqlstoretest"
	"latchkey/worker"
)

// serveWithJobs is serve with a job runner, as a node has: access
// requests need one for their workflows.
func serveWithJobs(t *testing.T) string {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	store := sqlstoretest.Open(t, sqlstoretest.SQLite().URL(t), sqlstore.Options{Password: passhash.Test, Logger: quiet})
	if _, _, err := store.Bootstrap(context.Background(), adminPassword); err != nil {
		t.Fatal(err)
	}
	handlers := map[latchkey.JobKind]worker.Handler{}
	for k, h := range store.JobHandlers() {
		handlers[k] = h
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		worker.New(store, handlers, worker.Options{Node: "node_test", Logger: quiet}).Run(ctx)
		close(done)
	}()
	srv := httptest.NewServer(lkhttp.NewServer(store, lkhttp.Options{Logger: quiet, MetricsPublic: true}).Handler())
	t.Cleanup(func() { srv.Close(); cancel(); <-done })
	return srv.URL
}

// A short run against an in-process server: requests are made, approved,
// become active with the simulated agents' replies, and are cancelled.
func TestRunRequests(t *testing.T) {
	t.Parallel()
	url := serveWithJobs(t)
	var progress bytes.Buffer
	r, err := bench.RunRequests(context.Background(), bench.RequestsConfig{Server: url, AdminPassword: adminPassword, Agents: 10,
		Requesters: 3, Duration: time.Second}, &progress)
	if err != nil {
		t.Fatalf("%v\nprogress:\n%s", err, progress.String())
	}
	if r.Polling != 10 || r.Active == 0 || r.ActivePerSec <= 0 || len(r.Ops) != 4 || r.Ops[2].Op != "approve_to_active" || r.Ops[2].Count != r.Active {
		t.Fatalf("result %+v: want requests made active", r)
	}
	var out bytes.Buffer
	r.WriteText(&out)
	if !strings.Contains(out.String(), "approved → active") {
		t.Fatalf("report:\n%s", out.String())
	}
}

func TestRunRequestsRefused(t *testing.T) {
	for _, c := range []struct {
		cfg  bench.RequestsConfig
		want string
	}{
		{bench.RequestsConfig{AdminPassword: "x"}, "server"},
		{bench.RequestsConfig{Server: "http://127.0.0.1:1", AdminPassword: "x", Agents: 2, Requesters: 3}, "requesters"},
	} {
		if _, err := bench.RunRequests(context.Background(), c.cfg, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error about %s", c.cfg, err, c.want)
		}
	}
}
