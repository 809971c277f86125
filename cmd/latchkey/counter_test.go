package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"testing"

	"latchkey/agent"
	"latchkey/counter"
)

// callGateway turns the socket's answers into the model's replies: a
// status, a refusal with the details the messages name, or no answer.
func TestCallGateway(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "g.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/login":
			w.WriteHeader(409)
			io.WriteString(w, `{"error":{"code":"concurrent_session","message":"the principal has an unlocked session at another terminal",`+
				`"details":{"sessions":[{"id":"ses_0","terminal":"term_3","identity":"alice","started_at":"2026-12-04T09:00:00Z","locked_at":null}]}}}`)
		case "/lock":
			w.WriteHeader(409)
			io.WriteString(w, `{"error":{"code":"conflict","message":"cannot be told","details":{"offline":true,"choices":["lock_anyway","retry","abandon"]}}}`)
		default:
			io.WriteString(w, `{"mode":"standalone","session":null,"minutes_left":null,"warning":null,"pending_uploads":2}`)
		}
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	gw := agent.NewGatewayClient(sock)
	ctx := context.Background()

	r := callGateway(ctx, gw, counter.Call{Op: counter.OpStatus})
	if r.Status == nil || r.Status.Mode != agent.ModeStandalone || r.Status.PendingUploads != 2 || r.Refusal != nil || r.Down {
		t.Fatalf("status: %+v", r)
	}
	r = callGateway(ctx, gw, counter.Call{Op: counter.OpLogin, Identity: "alice", Password: "pw"})
	if r.Refusal == nil || r.Refusal.Code != "concurrent_session" || len(r.Refusal.Details.Sessions) != 1 ||
		r.Refusal.Details.Sessions[0].TerminalID != "term_3" || r.Status != nil {
		t.Fatalf("a refused log-on: %+v", r)
	}
	r = callGateway(ctx, gw, counter.Call{Op: counter.OpLock, Reason: agent.LockManual})
	if r.Refusal == nil || !r.Refusal.Details.Offline || len(r.Refusal.Details.Choices) != 3 {
		t.Fatalf("an offline lock: %+v", r)
	}
	r = callGateway(ctx, agent.NewGatewayClient(filepath.Join(t.TempDir(), "none.sock")), counter.Call{Op: counter.OpTouch})
	if !r.Down || r.Status != nil || r.Refusal != nil {
		t.Fatalf("no agent: %+v", r)
	}
}
