package apitest_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"latchkey"
	"latchkey/client"
	"latchkey/sqlstore/sqlstoretest"
)

// tcpCut forwards TCP connections to target until cut: then it drops
// every connection and refuses new ones, as a database that restarted or
// a network that broke; restore lets them through again.
type tcpCut struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]bool
}

func newTCPCut(t *testing.T, target string) *tcpCut {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpCut{ln: ln, target: target, conns: map[net.Conn]bool{}}
	go p.accept()
	t.Cleanup(func() { ln.Close(); p.cut() })
	return p
}

func (p *tcpCut) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[up] = true, true
		p.mu.Unlock()
		go func() { io.Copy(up, c); up.Close() }()
		go func() { io.Copy(c, up); c.Close() }()
	}
}

func (p *tcpCut) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]bool{}
}

func (p *tcpCut) restore() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

// While the database cannot be reached (a restart, a cut network), a node
// answers 503 unavailable, never a bug's 500, and /readyz says so; once it
// is back the node serves again without a restart, and nothing it
// acknowledged before is lost.
func TestStoreOutageAnswers503(t *testing.T) {
	t.Parallel()
	latchkeyBinary(t)
	dsn := sqlstoretest.PostgresSchemaURL(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newTCPCut(t, u.Host)
	u.Host = proxy.ln.Addr().String()
	node := startServer(t, u.String(), t.TempDir(), "--heartbeat", "200ms")
	admin := node.adminLogin(t)
	ctx := context.Background()
	before, err := admin.CreateSite(ctx, client.SiteCreate{Name: "before the outage"})
	if err != nil {
		t.Fatal(err)
	}
	proxy.cut()
	for i := range 5 {
		st, body := rawCall(t, node, admin.Token(), http.MethodPost, "/v1/sites", `{"name":"during"}`)
		if st != http.StatusServiceUnavailable {
			t.Fatalf("call %d during the outage: %d %s, want 503", i, st, body)
		}
		if st, body := rawCall(t, node, "", http.MethodGet, "/readyz", ""); st != http.StatusServiceUnavailable || !strings.Contains(body, "store_unreachable") {
			t.Fatalf("/readyz during the outage: %d %s", st, body)
		}
	}
	// A beat that fails is logged, not fatal: the node goes on trying.
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(node.out.String(), "msg=heartbeat"); {
		if time.Now().After(deadline) {
			t.Fatalf("no failed heartbeat logged during the outage:\n%s", node.out.tail(4<<10))
		}
		time.Sleep(50 * time.Millisecond)
	}
	proxy.restore()
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := admin.CreateSite(ctx, client.SiteCreate{Name: "after the outage"})
		if err == nil {
			break
		}
		if latchkey.ErrorCode(err) != latchkey.EUNAVAILABLE || time.Now().After(deadline) {
			t.Fatalf("after the outage: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got, err := admin.GetSite(ctx, before.ID); err != nil || got.Name != "before the outage" {
		t.Fatalf("the site acknowledged before the outage: %+v, %v", got, err)
	}
	// Its beats went on: it is listed alive again.
	for deadline := time.Now().Add(10 * time.Second); ; {
		nodes, err := admin.Nodes(ctx)
		if err == nil && len(nodes) == 1 && nodes[0].Alive {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the node after the outage: %+v, %v", nodes, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if out := node.out.String(); contains500(out) {
		t.Fatalf("the node logged an internal error during the outage:\n%s", node.out.tail(4<<10))
	}
}

func rawCall(t *testing.T, p *proc, token, method, path, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, p.URL+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := p.hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var regexpInternal = regexp.MustCompile(`msg="internal error"|status=500`)

func contains500(logs string) bool { return regexpInternal.MatchString(logs) }
