package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"latchkey"
	"latchkey/sqlstore/sqlstoretest"
)

// A node is alive while its beats are younger than dead-after by the
// store's clock; one that leaves is dead at once; one dead for a day is
// forgotten at the next beat of any node.
func TestNodeRegistry(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		clock := sqlstoretest.NewClock()
		s := sqlstoretest.Open(t, b.URL(t), sqlstoretest.Options(clock))
		ctx := context.Background()
		start := clock.Now()
		for _, n := range []latchkey.Node{{ID: "node_a", Addr: "10.0.0.1:8080", StartedAt: start}, {ID: "node_b", Addr: "10.0.0.2:8080", StartedAt: start}} {
			if err := s.Heartbeat(ctx, n); err != nil {
				t.Fatal(err)
			}
		}
		alive := func() map[string]bool {
			t.Helper()
			nodes, err := s.Nodes(ctx, admin)
			if err != nil {
				t.Fatal(err)
			}
			out := map[string]bool{}
			for _, n := range nodes {
				out[n.ID] = n.Alive
			}
			return out
		}
		if got := alive(); !got["node_a"] || !got["node_b"] || len(got) != 2 {
			t.Fatalf("after the first beats: %v", got)
		}
		clock.Advance(2 * time.Second)
		if err := s.Heartbeat(ctx, latchkey.Node{ID: "node_a", Addr: "10.0.0.1:8080", StartedAt: start}); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Second) // node_b silent for 3s, node_a for 1s
		if got := alive(); !got["node_a"] || got["node_b"] {
			t.Fatalf("node_b silent for 3s: %v", got)
		}
		nodes, _ := s.Nodes(ctx, admin)
		if nodes[0].ID != "node_a" || !nodes[0].StartedAt.Equal(start) || !nodes[0].LastSeen.Equal(start.Add(2*time.Second)) || nodes[0].Addr != "10.0.0.1:8080" {
			t.Fatalf("node_a: %+v", nodes[0])
		}
		if err := s.Leave(ctx, "node_a"); err != nil {
			t.Fatal(err)
		}
		if got := alive(); got["node_a"] {
			t.Fatalf("node_a after leaving: %v", got)
		}
		clock.Advance(latchkey.NodeForgetAfter)
		// node_c's own clock is an hour behind: its start is the
		// store's time of its first beat, like everything else here.
		if err := s.Heartbeat(ctx, latchkey.Node{ID: "node_c", Addr: "x:1", StartedAt: clock.Now().Add(-time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if got := alive(); len(got) != 1 || !got["node_c"] {
			t.Fatalf("after a day: %v", got)
		}
		if nodes, _ := s.Nodes(ctx, admin); len(nodes) != 1 || !nodes[0].StartedAt.Equal(clock.Now()) {
			t.Fatalf("node_c's start: %+v, want the store's %s", nodes, clock.Now())
		}
		if _, err := s.Nodes(ctx, latchkey.Caller{PrincipalID: "d", Role: latchkey.RoleDelegate}); latchkey.ErrorCode(err) != latchkey.EFORBIDDEN {
			t.Fatalf("a delegate lists nodes: %v", err)
		}
	})
}

// Without an injected clock, a PostgreSQL store keeps the database
// server's time (measured, on one machine, within milliseconds of ours).
func TestPostgresStoreClock(t *testing.T) {
	t.Parallel()
	s := sqlstoretest.Open(t, sqlstoretest.PostgresSchemaURL(t), sqlstoretest.Options(nil))
	ctx := context.Background()
	if err := s.Heartbeat(ctx, latchkey.Node{ID: "node_a", Addr: "x:1", StartedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	nodes, err := s.Nodes(ctx, admin)
	if err != nil || len(nodes) != 1 || !nodes[0].Alive {
		t.Fatalf("%+v, %v", nodes, err)
	}
	if d := time.Since(nodes[0].LastSeen); d < -time.Second || d > time.Second {
		t.Fatalf("last seen %s, %s from this machine's clock", nodes[0].LastSeen, d)
	}
}
