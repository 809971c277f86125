package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"latchkey"
	"latchkey/agent"
	"latchkey/client"
)

// TestTerminalGateway runs `latchkey terminal ...` against an in-process
// agent gateway whose server can be switched off.
func TestTerminalGateway(t *testing.T) {
	var down atomic.Bool
	_, key, _ := ed25519.GenerateKey(nil)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			panic(http.ErrAbortHandler)
		}
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/v1/agent/policy":
			site := latchkey.DefaultSite("branch")
			site.StandaloneAuth, site.MaxSessionMinutes = latchkey.StandaloneAuthAny, 45
			p := latchkey.AgentPolicy{Site: site, Terminal: "ter_1", IssuedAt: time.Now().UTC()}
			if err := p.Sign(key); err != nil {
				t.Error(err)
			}
			json.NewEncoder(w).Encode(p)
		case "/v1/agent/status":
			io.WriteString(w, `{"id":"ter_1"}`)
		default:
			w.WriteHeader(404)
			io.WriteString(w, `{"error":{"code":"not_found","message":"no","details":{}}}`)
		}
	}))
	defer api.Close()
	dir, err := os.MkdirTemp("", "lkcli")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	j, err := agent.OpenJournal(filepath.Join(dir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	g, err := agent.OpenGateway(context.Background(), agent.GatewayOptions{
		Client: client.New(api.URL, client.WithToken("tt")), Journal: j, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "terminal.sock")
	ln, err := agent.ListenSocket(sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error)
	go func() { served <- g.Serve(ctx, ln) }()
	defer func() { cancel(); <-served }()

	t.Setenv("LATCHKEY_PASSWORD", "")
	t.Setenv("LATCHKEY_AGENT_SOCKET", "")
	run := func(stdin string, args ...string) (int, string, string) {
		t.Helper()
		var out, errOut bytes.Buffer
		code := Run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
		return code, out.String(), errOut.String()
	}
	expect := func(name string, code, wantCode int, out string, want ...string) {
		t.Helper()
		if code != wantCode {
			t.Errorf("%s: exit %d, want %d\n%s", name, code, wantCode, out)
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: output does not contain %q:\n%s", name, w, out)
			}
		}
	}

	code, _, stderr := run("", "terminal", "status")
	expect("no socket", code, 2, stderr, "--socket is required")
	code, stdout, _ := run("", "terminal", "status", "--socket", sock)
	expect("status", code, 0, stdout, "mode:", "online", "session:", "warning:")
	t.Setenv("LATCHKEY_AGENT_SOCKET", sock)
	code, stdout, _ = run("", "--json", "terminal", "status")
	var st agent.Status
	if err := json.Unmarshal([]byte(stdout), &st); err != nil || code != 0 || st.Mode != "online" || st.Session != nil {
		t.Fatalf("status --json: %d %v %s", code, err, stdout)
	}

	down.Store(true)
	code, stdout, stderr = run("pw\n", "terminal", "login", "--identity", "zed", "--password-stdin")
	expect("offline login", code, 0, stdout+stderr, "standalone", "zed", "max_session", "minutes_left:")
	code, _, stderr = run("", "terminal", "lock")
	expect("offline lock", code, 1, stderr, "conflict", "other counters will see this session as unlocked", "--choice lock_anyway")
	code, stdout, _ = run("", "terminal", "lock", "--choice", "lock_anyway")
	expect("lock anyway", code, 0, stdout, "locked:", "the server was not told")
	code, _, stderr = run("pw\n", "terminal", "unlock", "--password-stdin")
	expect("offline unlock", code, 1, stderr, "unavailable", "stays locked")
	code, _, stderr = run("", "terminal", "touch")
	expect("touch while locked", code, 1, stderr, "conflict", "locked")
	code, stdout, _ = run("", "terminal", "logout", "--json")
	if err := json.Unmarshal([]byte(stdout), &st); err != nil || code != 0 || st.Session != nil || st.PendingUploads != 1 {
		t.Fatalf("logout --json: %d %v %s", code, err, stdout)
	}
	code, _, stderr = run("", "terminal", "lock", "--choice", "maybe")
	expect("bad choice", code, 2, stderr, "--choice must be")
}
