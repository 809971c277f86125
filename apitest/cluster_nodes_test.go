package apitest_test

import (
	"context"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"latchkey"
	"latchkey/client"
	"latchkey/sqlstore/sqlstoretest"
)

// nodesByAddr lists the cluster's nodes through c, by address.
func nodesByAddr(t *testing.T, list func(context.Context) ([]latchkey.Node, error)) map[string]latchkey.Node {
	t.Helper()
	nodes, err := list(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]latchkey.Node{}
	for _, n := range nodes {
		out[n.Addr] = n
	}
	return out
}

// Three real nodes on one PostgreSQL database: each is listed alive; a
// SIGKILLed node is dead within dead-after and a beat; a SIGTERMed node
// answers /readyz 503 while it drains, and is listed dead the moment it
// has stopped.
func TestClusterNodesLiveness(t *testing.T) {
	t.Parallel()
	b := sqlstoretest.Postgres()
	storeURL := b.URL(t)
	flags := []string{"--heartbeat", "200ms", "--node-dead-after", "1s", "--drain-wait", "1s"}
	var nodes []*proc
	for range 3 {
		nodes = append(nodes, startServer(t, storeURL, t.TempDir(), flags...))
	}
	admin := nodes[0].adminLogin(t)
	addr := func(p *proc) string { return strings.TrimPrefix(p.URL, "http://") }
	waitNodes := func(what string, ok func(map[string]latchkey.Node) bool) map[string]latchkey.Node {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			got := nodesByAddr(t, admin.Nodes)
			if ok(got) {
				return got
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: nodes %+v", what, got)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitNodes("three alive", func(m map[string]latchkey.Node) bool {
		return m[addr(nodes[0])].Alive && m[addr(nodes[1])].Alive && m[addr(nodes[2])].Alive
	})

	killed := time.Now()
	nodes[1].kill()
	waitNodes("the killed node dead", func(m map[string]latchkey.Node) bool {
		return !m[addr(nodes[1])].Alive && m[addr(nodes[0])].Alive && m[addr(nodes[2])].Alive
	})
	if took := time.Since(killed); took > 5*time.Second { // the bound for any takeover
		t.Errorf("a SIGKILLed node was listed alive for %s with a 1s dead-after", took)
	}

	if err := nodes[2].cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// While it drains: 503 with the reason, and still serving the API.
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := nodes[2].hc.Get(nodes[2].URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusServiceUnavailable {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz of a draining node: %v %v", resp, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := nodes[2].client("").Login(context.Background(), "admin", procAdminPassword); err != nil {
		t.Fatalf("a draining node stopped serving at once: %v", err)
	}
	select {
	case <-nodes[2].done:
	case <-time.After(15 * time.Second):
		t.Fatal("the SIGTERMed node did not stop")
	}
	got := nodesByAddr(t, admin.Nodes)
	if got[addr(nodes[2])].Alive {
		t.Fatalf("a node that stopped cleanly is listed alive: %+v", got[addr(nodes[2])])
	}
	if !got[addr(nodes[0])].Alive {
		t.Fatalf("the surviving node: %+v", got[addr(nodes[0])])
	}
}

// TestNodeRegistryAPI, on both backends through the client, by the
// store's (fake) clock: a node that beats is listed alive, with its
// address and times; silent for dead-after it is listed dead; a beat
// revives it; one that leaves is dead at once. On PostgreSQL a second
// node on its own store beats too, and each node lists both.
func TestNodeRegistryAPI(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 0)
		ctx := context.Background()
		start := w.clock.Now()
		a := latchkey.Node{ID: latchkey.NewNodeID(), Addr: "10.0.0.11:7420", StartedAt: start}
		if err := w.store.Heartbeat(ctx, a); err != nil {
			t.Fatal(err)
		}
		got := nodesByAddr(t, w.admin.Nodes)
		if n := got[a.Addr]; len(got) != 1 || n.ID != a.ID || !n.Alive || !n.StartedAt.Equal(start) || !n.LastSeen.Equal(start) {
			t.Fatalf("after one beat: %+v", got)
		}

		w.clock.Advance(latchkey.DefaultNodeDeadAfter - time.Millisecond)
		if n := nodesByAddr(t, w.admin.Nodes)[a.Addr]; !n.Alive {
			t.Fatalf("silent just under dead-after: %+v", n)
		}
		w.clock.Advance(time.Millisecond)
		if n := nodesByAddr(t, w.admin.Nodes)[a.Addr]; n.Alive {
			t.Fatalf("silent for dead-after: %+v", n)
		}
		if err := w.store.Heartbeat(ctx, a); err != nil {
			t.Fatal(err)
		}
		if n := nodesByAddr(t, w.admin.Nodes)[a.Addr]; !n.Alive || !n.LastSeen.Equal(w.clock.Now()) || !n.StartedAt.Equal(start) {
			t.Fatalf("beating again: %+v", n)
		}

		if b.Name == "postgres" {
			s2 := sqlstoretest.Open(t, w.storeURL, sqlstoretest.Options(w.clock))
			admin2 := client.New(w.serve(s2), client.WithToken(w.admin.Token()))
			n2 := latchkey.Node{ID: latchkey.NewNodeID(), Addr: "10.0.0.12:7420", StartedAt: w.clock.Now()}
			if err := s2.Heartbeat(ctx, n2); err != nil {
				t.Fatal(err)
			}
			for name, list := range map[string]func(context.Context) ([]latchkey.Node, error){"node 1": w.admin.Nodes, "node 2": admin2.Nodes} {
				if got := nodesByAddr(t, list); len(got) != 2 || !got[a.Addr].Alive || !got[n2.Addr].Alive || got[n2.Addr].ID != n2.ID {
					t.Fatalf("%s lists %+v", name, got)
				}
			}
		}

		if err := w.store.Leave(ctx, a.ID); err != nil {
			t.Fatal(err)
		}
		if n := nodesByAddr(t, w.admin.Nodes)[a.Addr]; n.Alive {
			t.Fatalf("after leaving: %+v", n)
		}
	})
}
