package client_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"latchkey"
	"latchkey/client"
)

// node is a fake server node that records the Idempotency-Key of each
// request it got and answers with answer.
type node struct {
	srv    *httptest.Server
	mu     sync.Mutex
	keys   []string
	answer func(w http.ResponseWriter, r *http.Request)
}

func newNode(t *testing.T, answer func(w http.ResponseWriter, r *http.Request)) *node {
	n := &node{answer: answer}
	n.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.mu.Lock()
		n.keys = append(n.keys, r.Header.Get("Idempotency-Key"))
		n.mu.Unlock()
		n.answer(w, r)
	}))
	t.Cleanup(n.srv.Close)
	return n
}

func (n *node) got() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.keys...)
}

func okSite(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"id":"site_1","name":"x"}`))
}

func unavailable(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusServiceUnavailable)
	w.Write([]byte(`{"error":{"code":"unavailable","message":"this node is shutting down","details":{"reason":"draining"}}}`))
}

// dies reads the request, then drops the connection without an answer:
// the request reached a node that died.
func dies(w http.ResponseWriter, _ *http.Request) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

func TestFailover(t *testing.T) {
	ctx := context.Background()
	t.Run("a node that cannot be reached is skipped", func(t *testing.T) {
		dead := httptest.NewServer(http.NotFoundHandler())
		deadURL := dead.URL
		dead.Close()
		live := newNode(t, okSite)
		c := client.New(deadURL+","+live.srv.URL, client.WithToken("tok"))
		if _, err := c.GetSite(ctx, "site_1"); err != nil {
			t.Fatal(err)
		}
		if c.BaseURL() != live.srv.URL {
			t.Fatalf("current server %s, want the live one", c.BaseURL())
		}
	})
	t.Run("a 503 sends the call to the next node", func(t *testing.T) {
		draining, live := newNode(t, unavailable), newNode(t, okSite)
		c := client.New(draining.srv.URL+","+live.srv.URL, client.WithToken("tok"))
		if _, err := c.UpdateSite(ctx, "site_1", latchkey.SiteUpdate{}); err != nil {
			t.Fatal(err)
		}
		if k1, k2 := draining.got(), live.got(); len(k1) != 1 || len(k2) != 1 || k1[0] == "" || k1[0] != k2[0] {
			t.Fatalf("keys %v then %v: want one key, the same on both nodes", k1, k2)
		}
	})
	t.Run("a keyed call whose node died mid-request is sent on with its key", func(t *testing.T) {
		dying, live := newNode(t, dies), newNode(t, okSite)
		c := client.New(dying.srv.URL+","+live.srv.URL, client.WithToken("tok"))
		if _, err := c.UpdateSite(ctx, "site_1", latchkey.SiteUpdate{}); err != nil {
			t.Fatal(err)
		}
		if k1, k2 := dying.got(), live.got(); len(k1) != 1 || len(k2) != 1 || k1[0] != k2[0] {
			t.Fatalf("keys %v then %v", k1, k2)
		}
		// Each call has a key of its own.
		if _, err := c.UpdateSite(ctx, "site_1", latchkey.SiteUpdate{}); err != nil {
			t.Fatal(err)
		}
		if k := live.got(); len(k) != 2 || k[0] == k[1] {
			t.Fatalf("two calls' keys: %v", k)
		}
	})
	t.Run("an in-progress key is asked again", func(t *testing.T) {
		var mu sync.Mutex
		calls := 0
		busy := newNode(t, func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			calls++
			first := calls == 1
			mu.Unlock()
			if first {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusConflict)
				w.Write([]byte(`{"error":{"code":"conflict","message":"in progress","details":{"reason":"idempotency_key_in_progress"}}}`))
				return
			}
			okSite(w, r)
		})
		c := client.New(busy.srv.URL+","+busy.srv.URL, client.WithToken("tok"))
		if _, err := c.UpdateSite(ctx, "site_1", latchkey.SiteUpdate{}); err != nil {
			t.Fatal(err)
		}
		if k := busy.got(); len(k) != 2 || k[0] != k[1] {
			t.Fatalf("keys %v", k)
		}
	})
	t.Run("one server: no key added, no retry", func(t *testing.T) {
		dying := newNode(t, dies)
		c := client.New(dying.srv.URL, client.WithToken("tok"))
		if _, err := c.UpdateSite(ctx, "site_1", latchkey.SiteUpdate{}); err == nil {
			t.Fatal("a call to a node that died succeeded")
		}
		if k := dying.got(); len(k) != 1 || k[0] != "" {
			t.Fatalf("keys %v: want one call without a key", k)
		}
	})
	t.Run("a refusal is not retried", func(t *testing.T) {
		refusing := newNode(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"error":{"code":"forbidden","message":"no"}}`))
		})
		other := newNode(t, okSite)
		c := client.New(refusing.srv.URL+","+other.srv.URL, client.WithToken("tok"))
		if _, err := c.UpdateSite(ctx, "site_1", latchkey.SiteUpdate{}); latchkey.ErrorCode(err) != latchkey.EFORBIDDEN {
			t.Fatalf("%v", err)
		}
		if len(other.got()) != 0 {
			t.Fatal("a refusal was sent to another node")
		}
	})
	t.Run("a call whose answer is a token shown once goes without a key", func(t *testing.T) {
		// The server refuses an Idempotency-Key on these routes: their
		// answer cannot be stored for a replay.
		refuseKey := func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			if r.Header.Get("Idempotency-Key") != "" {
				w.WriteHeader(http.StatusBadRequest)
				w.Write([]byte(`{"error":{"code":"bad_request","message":"no key here","details":{"field":"Idempotency-Key"}}}`))
				return
			}
			if strings.HasSuffix(r.URL.Path, "/token") {
				w.Write([]byte(`{"token":"t2"}`))
				return
			}
			w.Write([]byte(`{"id":"term_1","name":"ws","token":"t1"}`))
		}
		dead := httptest.NewServer(http.NotFoundHandler())
		deadURL := dead.URL
		dead.Close()
		live := newNode(t, refuseKey)
		c := client.New(deadURL+","+live.srv.URL, client.WithToken("tok"))
		if _, err := c.RegisterTerminal(ctx, "ws", "site_1"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.RotateTerminalToken(ctx, "term_1"); err != nil {
			t.Fatal(err)
		}
		if k := live.got(); len(k) != 2 || k[0] != "" || k[1] != "" {
			t.Fatalf("keys %q: want two calls without a key", k)
		}
	})
	t.Run("server list", func(t *testing.T) {
		c := client.New(" http://a:1/ , http://b:2,")
		if got := strings.Join(c.ServerURLs(), " "); got != "http://a:1 http://b:2" {
			t.Fatalf("%s", got)
		}
	})
}
