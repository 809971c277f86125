package agent

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"latchkey"
)

// serveGateway serves g on a socket in a short temporary directory.
func serveGateway(t *testing.T, g *Gateway) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "lkgw")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "terminal.sock")
	ln, err := ListenSocket(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- g.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return path
}

// raw calls the socket and returns the status and the decoded JSON body.
func raw(t *testing.T, socket, method, path, body string) (int, map[string]any) {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", socket)
	}}}
	req, _ := http.NewRequest(method, "http://agent"+path, strings.NewReader(body))
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s %s: %v: %s", method, path, err, b)
	}
	return resp.StatusCode, m
}

func TestGatewayHTTP(t *testing.T) {
	fc := newFakeClock()
	f := newFakeServer(t, fc)
	f.site(func(s *latchkey.Site) { s.MaxSessionMinutes = 30 })
	f.addPerson("alice", "pri_a", "pw-a", latchkey.RoleUser, true)
	g, _ := testGateway(t, f, t.TempDir())
	g.Sync(bg)
	sock := serveGateway(t, g)
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o660 {
		t.Fatalf("socket %v mode %v", err, fi.Mode())
	}

	code, m := raw(t, sock, "GET", "/status", "")
	if code != 200 || m["mode"] != "online" || m["session"] != nil || m["minutes_left"] != nil || m["warning"] != nil {
		t.Fatalf("status %d %v", code, m)
	}
	// Online refusals pass through.
	code, m = raw(t, sock, "POST", "/login", `{"identity":"alice","password":"bad"}`)
	if e := m["error"].(map[string]any); code != 401 || e["code"] != "invalid_credentials" || e["details"] == nil {
		t.Fatalf("login refused: %d %v", code, m)
	}
	code, m = raw(t, sock, "POST", "/login", `{"identity":`)
	if code != 400 || m["error"].(map[string]any)["code"] != "bad_request" {
		t.Fatalf("bad JSON: %d %v", code, m)
	}
	// Strict JSON: a second "password" (encoding/json keeps the last), a
	// key in another case (it matches case-insensitively) and an unknown
	// key are refused, naming the key, and log nobody on.
	for _, c := range []struct{ body, field string }{
		{`{"identity":"alice","password":"bad","password":"pw-a"}`, "password"},
		{`{"identity":"alice","Password":"pw-a"}`, "Password"},
		{`{"identity":"alice","password":"pw-a","admin":true}`, "admin"},
		{`{"identity":"alice","password":"pw-a"} {}`, "body"},
	} {
		code, m = raw(t, sock, "POST", "/login", c.body)
		e, _ := m["error"].(map[string]any)
		if d, _ := e["details"].(map[string]any); code != 400 || e["code"] != "bad_request" || d["field"] != c.field {
			t.Fatalf("%s: %d %v, want 400 naming %s", c.body, code, m, c.field)
		}
	}
	if code, m = raw(t, sock, "GET", "/status", ""); m["session"] != nil {
		t.Fatalf("a refused login logged on: %d %v", code, m)
	}
	code, m = raw(t, sock, "GET", "/nothing", "")
	if code != 404 {
		t.Fatalf("unknown call: %d %v", code, m)
	}

	f.setDown(true)
	code, m = raw(t, sock, "POST", "/login", `{"identity":"alice","password":"pw-a"}`)
	s, _ := m["session"].(map[string]any)
	if code != 200 || m["mode"] != "standalone" || s == nil || s["standalone"] != true || s["limit"] != "max_session" ||
		m["minutes_left"] != float64(30) {
		t.Fatalf("offline login: %d %v", code, m)
	}
	for _, k := range []string{"id", "identity", "principal", "started_at", "ends_at", "warn_at", "locked_at"} {
		if _, ok := s[k]; !ok {
			t.Errorf("session has no %s: %v", k, s)
		}
	}
	code, m = raw(t, sock, "POST", "/lock", `{"reason":"manual"}`)
	e := m["error"].(map[string]any)
	d := e["details"].(map[string]any)
	if code != 409 || e["code"] != "conflict" || d["offline"] != true || len(d["choices"].([]any)) != 3 ||
		!strings.Contains(e["message"].(string), "unlocked") {
		t.Fatalf("offline manual lock: %d %v", code, m)
	}
	code, m = raw(t, sock, "POST", "/lock", `{"reason":"manual","choice":"lock_anyway"}`)
	if s := m["session"].(map[string]any); code != 200 || s["locked_at"] == nil || s["locked_offline"] != true {
		t.Fatalf("lock anyway: %d %v", code, m)
	}
	code, m = raw(t, sock, "POST", "/unlock", `{"password":"pw-a"}`)
	if code != 503 || m["error"].(map[string]any)["code"] != "unavailable" {
		t.Fatalf("offline unlock: %d %v", code, m)
	}
	code, m = raw(t, sock, "POST", "/touch", "")
	if e, _ := m["error"].(map[string]any); code != 409 || e["code"] != "conflict" || !strings.Contains(e["message"].(string), "locked") {
		t.Fatalf("touch while locked: %d %v", code, m)
	}
	code, m = raw(t, sock, "POST", "/logout", "")
	if code != 200 || m["session"] != nil || m["pending_uploads"] != float64(1) {
		t.Fatalf("logout: %d %v", code, m)
	}
	code, m = raw(t, sock, "POST", "/touch", "")
	if e, _ := m["error"].(map[string]any); code != 409 || e["code"] != "conflict" {
		t.Fatalf("touch without a session: %d %v", code, m)
	}

	// The typed client sees the same.
	gc := NewGatewayClient(sock)
	st, err := gc.Status(bg)
	if err != nil || st.Mode != ModeStandalone || st.LastEnded == nil {
		t.Fatalf("client status %+v %v", st, err)
	}
	if _, err := gc.Lock(bg, LockRequest{}); codeOf(err) != latchkey.ECONFLICT {
		t.Fatalf("client lock without a session: %v", err)
	}
	if _, err := gc.Touch(bg); codeOf(err) != latchkey.ECONFLICT {
		t.Fatalf("client touch without a session: %v", err)
	}
}

func TestListenSocketRefusesALiveOne(t *testing.T) {
	fc := newFakeClock()
	f := newFakeServer(t, fc)
	g, _ := testGateway(t, f, t.TempDir())
	sock := serveGateway(t, g)
	if _, err := ListenSocket(sock); err == nil {
		t.Fatal("a second agent took over a live socket")
	}
}

// The socket answers every API error code with the server's status and
// body (latchkey.WireError), and the GatewayClient reads it back as the
// same error.
func TestGatewayErrorContract(t *testing.T) {
	dir, err := os.MkdirTemp("", "lkgw")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "e.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	g := &Gateway{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	var next error
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { g.writeError(w, next) })}
	go srv.Serve(ln)
	defer srv.Close()
	c := NewGatewayClient(sock)
	for _, code := range latchkey.ErrorCodes() {
		next = latchkey.Errorf(code, "the %s message", code).With("k", "v")
		status, m := raw(t, sock, "GET", "/status", "")
		if want, _ := latchkey.ErrorStatus(code); status != want {
			t.Errorf("%s: status %d, want %d", code, status, want)
		}
		if e, _ := m["error"].(map[string]any); e == nil || e["code"] != code {
			t.Errorf("%s: body %v", code, m)
		}
		_, err := c.Status(context.Background())
		var got *latchkey.Error
		if !errors.As(err, &got) || got.Code != code {
			t.Errorf("%s: client error %v", code, err)
			continue
		}
		if code != latchkey.EINTERNAL && (got.Message != "the "+code+" message" || got.Details["k"] != "v") {
			t.Errorf("%s: client error %+v", code, got)
		}
	}
}
