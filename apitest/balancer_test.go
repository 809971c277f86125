package apitest_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// balancer stands in for a load balancer in front of several nodes, as
// HAProxy with `retry-on conn-failure` would: each request goes to the
// next node in turn, and one that cannot be connected to (a dead node) is
// skipped, the request sent to the next. A request that reached a node is
// never sent again: what the node did with it is the node's (and the
// client's Idempotency-Key's) business.
type balancer struct {
	srv   *httptest.Server
	hc    *http.Client
	mu    sync.Mutex
	nodes []string
	next  atomic.Uint64
}

func newBalancer(t *testing.T, nodes ...string) *balancer {
	t.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{Timeout: 2 * time.Second}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, dialError{err}
		}
		return c, nil
	}
	b := &balancer{hc: &http.Client{Transport: tr}, nodes: nodes}
	b.srv = httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(func() { b.srv.Close(); tr.CloseIdleConnections() })
	return b
}

// dialError marks a request that never reached its node.
type dialError struct{ error }

func (b *balancer) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "read body", http.StatusBadGateway)
		return
	}
	b.mu.Lock()
	nodes := append([]string(nil), b.nodes...)
	b.mu.Unlock()
	start := int(b.next.Add(1))
	for i := range nodes {
		node := nodes[(start+i)%len(nodes)]
		req, err := http.NewRequestWithContext(r.Context(), r.Method, node+r.URL.RequestURI(), bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		req.Header = r.Header.Clone()
		resp, err := b.hc.Do(req)
		var de dialError
		if errors.As(err, &de) {
			continue // never reached that node: the next one
		}
		if err != nil {
			http.Error(w, "the node failed mid-request: "+err.Error(), http.StatusBadGateway)
			return
		}
		for k, vs := range resp.Header {
			w.Header()[k] = vs
		}
		w.WriteHeader(resp.StatusCode)
		fl, _ := w.(http.Flusher)
		buf := make([]byte, 32<<10)
		for {
			n, rerr := resp.Body.Read(buf)
			if n > 0 {
				w.Write(buf[:n])
				if fl != nil {
					fl.Flush()
				}
			}
			if rerr != nil {
				break
			}
		}
		resp.Body.Close()
		return
	}
	http.Error(w, "no node could be reached", http.StatusServiceUnavailable)
}
