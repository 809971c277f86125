package http_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"latchkey"
)

// TestErrorMapping checks API.md's code → status table, and that an
// error's message and details reach the caller unchanged.
func TestErrorMapping(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code   string
		status int
	}{
		{latchkey.EBADREQUEST, 400},
		{latchkey.EUNAUTHENTICATED, 401},
		{latchkey.EINVALIDCREDENTIALS, 401},
		{latchkey.EFORBIDDEN, 403},
		{latchkey.EQUOTAEXCEEDED, 403},
		{latchkey.EACCOUNTDISABLED, 403},
		{latchkey.ENOTFOUND, 404},
		{latchkey.ECONCURRENTSESSION, 409},
		{latchkey.EIDENTITYINUSE, 409},
		{latchkey.ECONFLICT, 409},
		{latchkey.EVERSIONMISMATCH, 412},
		{latchkey.ELOCKHELD, 423},
		{latchkey.ELOCKNOTHELD, 423},
		{latchkey.EACCOUNTLOCKED, 423},
		{latchkey.ESESSIONFAILED, 410},
		{latchkey.ERATELIMITED, 429},
		{latchkey.EUNAVAILABLE, 503},
	}
	for _, tc := range tests {
		t.Run(tc.code, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			// Plain, and wrapped: the code is found through wrapping.
			e.st.err = fmt.Errorf("store: %w", latchkey.Errorf(tc.code, "the %s message", tc.code).With("n", 7))
			w := e.do(req{method: "GET", path: "/v1/sessions/ss_1", token: terminalToken})
			if w.Code != tc.status {
				t.Fatalf("status = %d, want %d", w.Code, tc.status)
			}
			got := errorOf(t, w)
			if got.Code != tc.code || got.Message != "the "+tc.code+" message" || got.Details["n"] != float64(7) {
				t.Fatalf("error = %+v", got)
			}
		})
	}
}

func TestErrorDetailsAlwaysObject(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.st.err = latchkey.Errorf(latchkey.ENOTFOUND, "no session")
	w := e.do(req{method: "GET", path: "/v1/sessions/ss_1", token: adminToken})
	if w.Code != 404 || !strings.Contains(w.Body.String(), `"details":{}`) {
		t.Fatalf("%d %s: want 404 with details {}", w.Code, w.Body)
	}
}

func TestConflictDetailsListSessions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	at := time.Date(2024, 5, 1, 9, 0, 0, 0, time.UTC)
	e.st.err = latchkey.Errorf(latchkey.ECONCURRENTSESSION, "elsewhere").
		With("sessions", []latchkey.SessionRef{{ID: "ss_9", TerminalID: "t_2", Identity: "alice", StartedAt: at}})
	w := e.do(req{method: "POST", path: "/v1/terminals/t_1/sessions", token: terminalToken, body: credentials})
	if w.Code != 409 {
		t.Fatalf("status %d", w.Code)
	}
	got := errorOf(t, w)
	ss, ok := got.Details["sessions"].([]any)
	if !ok || len(ss) != 1 || ss[0].(map[string]any)["id"] != "ss_9" || ss[0].(map[string]any)["locked_at"] != nil {
		t.Fatalf("details.sessions = %#v", got.Details["sessions"])
	}
}

func TestUncodedErrors(t *testing.T) {
	t.Parallel()
	for _, err := range []error{
		errors.New("disk on fire"),
		context.DeadlineExceeded,
		&latchkey.Error{Code: "no_such_code", Message: "secret detail"},
		&latchkey.Error{Code: latchkey.EINTERNAL, Message: "secret detail"},
	} {
		e := newEnv(t)
		e.st.err = err
		w := e.do(req{method: "GET", path: "/v1/sites", token: adminToken})
		if w.Code != 500 {
			t.Fatalf("%v: status %d, want 500", err, w.Code)
		}
		if got := errorOf(t, w); got.Code != "internal" || got.Message != "internal error" {
			t.Fatalf("%v: error %+v", err, got)
		}
		if strings.Contains(w.Body.String(), "secret") || strings.Contains(w.Body.String(), "fire") {
			t.Fatalf("%v: body leaks the cause: %s", err, w.Body)
		}
	}
}

// TestPanicRecovery: a panicking handler answers 500 internal, is logged
// with its request ID, and the server goes on serving.
func TestPanicRecovery(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.st.hook = func(method string) error {
		if method == "GetSession" {
			panic("boom")
		}
		return nil
	}
	w := e.do(req{method: "GET", path: "/v1/sessions/ss_1", token: adminToken})
	if w.Code != 500 || errorOf(t, w).Code != "internal" {
		t.Fatalf("panic: %d %s", w.Code, w.Body)
	}
	if !strings.Contains(e.logs.String(), "handler panic") || !strings.Contains(e.logs.String(), w.Header().Get("X-Request-Id")) {
		t.Fatalf("panic not logged with its request ID:\n%s", e.logs)
	}
	if w := e.do(req{method: "GET", path: "/v1/sites/s_1", token: adminToken}); w.Code != 200 {
		t.Fatalf("after a panic: %d %s", w.Code, w.Body)
	}
}
