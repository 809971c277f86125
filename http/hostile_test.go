package http_test

import (
	"fmt"
	"io"
	nethttp "net/http"
	"strings"
	"testing"
)

// TestHostileInput sends bad input to every kind of endpoint: each gets
// the exact status, error code and details.field, and the store is never
// called (bad input changes nothing).
func TestHostileInput(t *testing.T) {
	t.Parallel()
	huge := `{"name":"` + strings.Repeat("a", 1<<20) + `"}`
	events := func(n int) string {
		ev := make([]string, n)
		for i := range ev {
			ev[i] = `{"event":24,"occurred_at":"` + validTime + `"}`
		}
		return `{"events":[` + strings.Join(ev, ",") + `]}`
	}
	login := func(extra string) string {
		return `{"identity":"alice","password":"pw"` + extra + `}`
	}
	tests := []struct {
		name   string
		r      req
		status int
		code   string
		field  string // "" = details must have no field
	}{
		// Malformed JSON.
		{name: "truncated JSON", r: req{method: "POST", path: "/v1/sites", token: adminToken, body: `{"name":`}, status: 400, code: "bad_request", field: "body"},
		{name: "syntax error", r: req{method: "POST", path: "/v1/sites", token: adminToken, body: `{"name" "x"}`}, status: 400, code: "bad_request", field: "body"},
		{name: "bad literal", r: req{method: "POST", path: "/v1/terminals/t_1/sessions", token: terminalToken, body: login(`,"force":tru,"time_sent":"` + validTime + `"`)}, status: 400, code: "bad_request", field: "body"},
		{name: "array not object", r: req{method: "POST", path: "/v1/principals", token: adminToken, body: `[{"name":"x","role":"user"}]`}, status: 400, code: "bad_request", field: "body"},
		{name: "string not object", r: req{method: "POST", path: "/v1/auth/login", body: `"alice"`}, status: 400, code: "bad_request", field: "body"},
		{name: "empty body", r: req{method: "POST", path: "/v1/sites", token: adminToken, body: " ", contentType: "application/json"}, status: 400, code: "bad_request", field: "body"},
		{name: "no body", r: req{method: "POST", path: "/v1/terminals", token: adminToken}, status: 400, code: "bad_request", field: "body"},
		{name: "invalid UTF-8 name", r: req{method: "POST", path: "/v1/sites", token: adminToken, body: "{\"name\":\"a\xff\"}"}, status: 400, code: "bad_request", field: "name"},
		// Trailing garbage.
		{name: "two values", r: req{method: "POST", path: "/v1/sites", token: adminToken, body: `{"name":"a"} {"name":"b"}`}, status: 400, code: "bad_request", field: "body"},
		{name: "trailing text", r: req{method: "POST", path: "/v1/sites", token: adminToken, body: `{"name":"a"}garbage`}, status: 400, code: "bad_request", field: "body"},
		{name: "trailing brace", r: req{method: "POST", path: "/v1/sessions/ss_1/touch", token: terminalToken, body: `{}}`}, status: 400, code: "bad_request", field: "body"},
		// Wrong types.
		{name: "bool as string", r: req{method: "POST", path: "/v1/terminals/t_1/sessions", token: terminalToken, body: login(`,"force":"yes","time_sent":"` + validTime + `"`)}, status: 400, code: "bad_request", field: "force"},
		{name: "time as number", r: req{method: "POST", path: "/v1/sessions/ss_1/lock", token: terminalToken, body: `{"time_sent":1714557600,"reason":"manual"}`}, status: 400, code: "bad_request", field: "time_sent"},
		{name: "int as string", r: req{method: "POST", path: "/v1/sites", token: adminToken, body: `{"name":"b","warning_seconds":"60"}`}, status: 400, code: "bad_request", field: "warning_seconds"},
		{name: "int as float", r: req{method: "PATCH", path: "/v1/sites/s_1", token: adminToken, body: `{"max_session_minutes":1.5}`}, status: 400, code: "bad_request", field: "max_session_minutes"},
		{name: "int overflow", r: req{method: "PATCH", path: "/v1/sites/s_1", token: adminToken, body: `{"max_session_minutes":1e40}`}, status: 400, code: "bad_request", field: "max_session_minutes"},
		{name: "nested type", r: req{method: "POST", path: "/v1/terminals/t_1/events", token: terminalToken, body: `{"events":[{"event":"24","occurred_at":"` + validTime + `"}]}`}, status: 400, code: "bad_request", field: "events[0].event"},
		{name: "event not object", r: req{method: "POST", path: "/v1/terminals/t_1/events", token: terminalToken, body: `{"events":[5]}`}, status: 400, code: "bad_request", field: "events[0]"},
		{name: "unknown field in second event", r: req{method: "POST", path: "/v1/terminals/t_1/events", token: terminalToken, body: `{"events":[{"event":24,"occurred_at":"` + validTime + `"},{"bogus":1}]}`}, status: 400, code: "bad_request", field: "events[1].bogus"},
		{name: "events not array", r: req{method: "POST", path: "/v1/terminals/t_1/events", token: terminalToken, body: `{"events":{}}`}, status: 400, code: "bad_request", field: "events"},
		{name: "role as number", r: req{method: "PATCH", path: "/v1/principals/p_1", token: adminToken, body: `{"role":1}`}, status: 400, code: "bad_request", field: "role"},
		// Unknown fields.
		{name: "unknown field", r: req{method: "POST", path: "/v1/principals", token: adminToken, body: `{"name":"x","role":"user","superuser":true}`}, status: 400, code: "bad_request", field: "superuser"},
		{name: "unknown field on touch", r: req{method: "POST", path: "/v1/sessions/ss_1/touch", token: terminalToken, body: `{"when":"now"}`}, status: 400, code: "bad_request", field: "when"},
		{name: "unknown event field", r: req{method: "POST", path: "/v1/terminals/t_1/events", token: terminalToken, body: `{"events":[{"event":24,"occurred_at":"` + validTime + `","terminal":"t_2"}]}`}, status: 400, code: "bad_request", field: "events[0].terminal"},
		{name: "id on create", r: req{method: "POST", path: "/v1/sites", token: adminToken, body: `{"name":"b","id":"s_mine"}`}, status: 400, code: "bad_request", field: "id"},
		// Missing or invalid fields.
		{name: "site without name", r: req{method: "POST", path: "/v1/sites", token: adminToken, body: `{}`}, status: 400, code: "bad_request", field: "name"},
		{name: "principal without role", r: req{method: "POST", path: "/v1/principals", token: adminToken, body: `{"name":"x"}`}, status: 400, code: "bad_request", field: "role"},
		{name: "principal bad role", r: req{method: "POST", path: "/v1/principals", token: adminToken, body: `{"name":"x","role":"terminal"}`}, status: 400, code: "bad_request", field: "role"},
		{name: "patch bad role", r: req{method: "PATCH", path: "/v1/principals/p_1", token: adminToken, body: `{"role":"root"}`}, status: 400, code: "bad_request", field: "role"},
		{name: "name control chars", r: req{method: "POST", path: "/v1/principals", token: adminToken, body: `{"name":"a\u0000b","role":"user"}`}, status: 400, code: "bad_request", field: "name"},
		{name: "name too long", r: req{method: "POST", path: "/v1/terminals", token: adminToken, body: `{"name":"` + strings.Repeat("x", 201) + `","site":"s_1"}`}, status: 400, code: "bad_request", field: "name"},
		{name: "terminal without site", r: req{method: "POST", path: "/v1/terminals", token: adminToken, body: `{"name":"c1"}`}, status: 400, code: "bad_request", field: "site"},
		{name: "identity without login", r: req{method: "POST", path: "/v1/principals/p_1/identities", token: adminToken, body: `{"password":"pw"}`}, status: 400, code: "bad_request", field: "login"},
		{name: "identity empty password", r: req{method: "POST", path: "/v1/principals/p_1/identities", token: adminToken, body: `{"login":"al","password":""}`}, status: 400, code: "bad_request", field: "password"},
		{name: "password too long", r: req{method: "POST", path: "/v1/auth/login", body: `{"identity":"al","password":"` + strings.Repeat("p", 1025) + `"}`}, status: 400, code: "bad_request", field: "password"},
		{name: "no new password", r: req{method: "POST", path: "/v1/identities/al/password", token: userToken, body: `{"old_password":"x"}`}, status: 400, code: "bad_request", field: "new_password"},
		{name: "auth login without password", r: req{method: "POST", path: "/v1/auth/login", body: `{"identity":"al"}`}, status: 400, code: "bad_request", field: "password"},
		{name: "auth login without identity", r: req{method: "POST", path: "/v1/auth/login", body: `{"password":"pw"}`}, status: 400, code: "bad_request", field: "identity"},
		{name: "session login without time", r: req{method: "POST", path: "/v1/terminals/t_1/sessions", token: terminalToken, body: login("")}, status: 400, code: "bad_request", field: "time_sent"},
		{name: "session login without identity", r: req{method: "POST", path: "/v1/terminals/t_1/sessions", token: terminalToken, body: `{"password":"pw","time_sent":"` + validTime + `"}`}, status: 400, code: "bad_request", field: "identity"},
		{name: "time not RFC 3339", r: req{method: "POST", path: "/v1/terminals/t_1/sessions", token: terminalToken, body: login(`,"time_sent":"yesterday"`)}, status: 400, code: "bad_request", field: "time_sent"},
		{name: "time without zone", r: req{method: "POST", path: "/v1/terminals/t_1/sessions", token: terminalToken, body: login(`,"time_sent":"2024-05-01T10:00:00"`)}, status: 400, code: "bad_request", field: "time_sent"},
		{name: "zero time", r: req{method: "POST", path: "/v1/sessions/ss_1/unlock", token: terminalToken, body: login(`,"time_sent":"0001-01-01T00:00:00Z"`)}, status: 400, code: "bad_request", field: "time_sent"},
		{name: "unlock without password", r: req{method: "POST", path: "/v1/sessions/ss_1/unlock", token: terminalToken, body: `{"identity":"al","time_sent":"` + validTime + `"}`}, status: 400, code: "bad_request", field: "password"},
		{name: "lock without reason", r: req{method: "POST", path: "/v1/sessions/ss_1/lock", token: terminalToken, body: `{"time_sent":"` + validTime + `"}`}, status: 400, code: "bad_request", field: "reason"},
		{name: "lock bad reason", r: req{method: "POST", path: "/v1/sessions/ss_1/lock", token: terminalToken, body: `{"time_sent":"` + validTime + `","reason":"sleepy"}`}, status: 400, code: "bad_request", field: "reason"},
		{name: "site bad timezone", r: req{method: "POST", path: "/v1/sites", token: adminToken, body: `{"name":"b","timezone":"Mars/Base"}`}, status: 400, code: "bad_request", field: "timezone"},
		{name: "site bad auth", r: req{method: "POST", path: "/v1/sites", token: adminToken, body: `{"name":"b","standalone_auth":"none"}`}, status: 400, code: "bad_request", field: "standalone_auth"},
		{name: "site patch negative", r: req{method: "PATCH", path: "/v1/sites/s_1", token: adminToken, body: `{"warning_seconds":-1}`}, status: 400, code: "bad_request", field: "warning_seconds"},
		{name: "site patch empty name", r: req{method: "PATCH", path: "/v1/sites/s_1", token: adminToken, body: `{"name":""}`}, status: 400, code: "bad_request", field: "name"},
		{name: "no events", r: req{method: "POST", path: "/v1/terminals/t_1/events", token: terminalToken, body: `{"events":[]}`}, status: 400, code: "bad_request", field: "events"},
		{name: "events missing", r: req{method: "POST", path: "/v1/terminals/t_1/events", token: terminalToken, body: `{}`}, status: 400, code: "bad_request", field: "events"},
		{name: "too many events", r: req{method: "POST", path: "/v1/terminals/t_1/events", token: terminalToken, body: events(1001)}, status: 400, code: "bad_request", field: "events"},
		{name: "bad event number", r: req{method: "POST", path: "/v1/terminals/t_1/events", token: terminalToken, body: `{"events":[{"event":24,"occurred_at":"` + validTime + `"},{"event":99,"occurred_at":"` + validTime + `"}]}`}, status: 400, code: "bad_request", field: "events[1].event"},
		{name: "event 26 without reason", r: req{method: "POST", path: "/v1/terminals/t_1/events", token: terminalToken, body: `{"events":[{"event":26,"occurred_at":"` + validTime + `"}]}`}, status: 400, code: "bad_request", field: "events[0].reason"},
		{name: "event bad time", r: req{method: "POST", path: "/v1/terminals/t_1/events", token: terminalToken, body: `{"events":[{"event":24,"occurred_at":"soon"}]}`}, status: 400, code: "bad_request", field: "events[0].occurred_at"},
		{name: "event without time", r: req{method: "POST", path: "/v1/terminals/t_1/events", token: terminalToken, body: `{"events":[{"event":25}]}`}, status: 400, code: "bad_request", field: "events[0].occurred_at"},
		// Query parameters.
		{name: "limit not a number", r: req{method: "GET", path: "/v1/sites?limit=abc", token: adminToken}, status: 400, code: "bad_request", field: "limit"},
		{name: "negative limit", r: req{method: "GET", path: "/v1/principals?limit=-1", token: adminToken}, status: 400, code: "bad_request", field: "limit"},
		{name: "audit bad after", r: req{method: "GET", path: "/v1/audit?after=x", token: adminToken}, status: 400, code: "bad_request", field: "after"},
		{name: "audit bad limit", r: req{method: "GET", path: "/v1/audit?limit=1.5", token: adminToken}, status: 400, code: "bad_request", field: "limit"},
		{name: "audit export bad after", r: req{method: "GET", path: "/v1/audit/export?after=-1", token: adminToken}, status: 400, code: "bad_request", field: "after"},
		{name: "audit export after not a number", r: req{method: "GET", path: "/v1/audit/export?after=x", token: adminToken}, status: 400, code: "bad_request", field: "after"},
		{name: "bad session status", r: req{method: "GET", path: "/v1/principals/p_1/sessions?status=bogus", token: adminToken}, status: 400, code: "bad_request", field: "status"},
		// Huge bodies.
		{name: "huge body", r: req{method: "POST", path: "/v1/sites", token: adminToken, body: huge}, status: 400, code: "bad_request", field: "body"},
		{name: "huge chunked body", r: req{method: "POST", path: "/v1/sites", token: adminToken, bodyReader: io.MultiReader(strings.NewReader(huge))}, status: 400, code: "bad_request", field: "body"},
		{name: "huge body with key", r: req{method: "POST", path: "/v1/sites", token: adminToken, body: huge, headers: map[string]string{"Idempotency-Key": "k1"}}, status: 400, code: "bad_request", field: "body"},
		// Content type.
		{name: "text/plain", r: req{method: "POST", path: "/v1/sites", token: adminToken, body: `{"name":"b"}`, contentType: "text/plain"}, status: 400, code: "bad_request", field: "Content-Type"},
		{name: "no content type", r: req{method: "POST", path: "/v1/auth/login", body: `{"identity":"al","password":"pw"}`, contentType: "-"}, status: 400, code: "bad_request", field: "Content-Type"},
		{name: "form content type", r: req{method: "POST", path: "/v1/terminals", token: adminToken, body: `name=c&site=s`, contentType: "application/x-www-form-urlencoded"}, status: 400, code: "bad_request", field: "Content-Type"},
		// Idempotency-Key.
		{name: "key too long", r: req{method: "POST", path: "/v1/sites", token: adminToken, body: `{"name":"b"}`, headers: map[string]string{"Idempotency-Key": strings.Repeat("k", 201)}}, status: 400, code: "bad_request", field: "Idempotency-Key"},
		{name: "key with control char", r: req{method: "POST", path: "/v1/sites", token: adminToken, body: `{"name":"b"}`, headers: map[string]string{"Idempotency-Key": "a\tb"}}, status: 400, code: "bad_request", field: "Idempotency-Key"},
		// Missing or bad authentication: 401 before anything is read.
		{name: "no token", r: req{method: "POST", path: "/v1/sites", body: `{"name":"b"}`}, status: 401, code: "unauthenticated", field: ""},
		{name: "no token, bad body", r: req{method: "POST", path: "/v1/sites", body: `{"name":`}, status: 401, code: "unauthenticated", field: ""},
		{name: "unknown token", r: req{method: "POST", path: "/v1/principals", token: "tok-forged", body: `{"name":"x","role":"admin"}`}, status: 401, code: "unauthenticated", field: ""},
		{name: "basic auth", r: req{method: "DELETE", path: "/v1/sessions/ss_1", headers: map[string]string{"Authorization": "Basic YWRtaW46YWRtaW4="}}, status: 401, code: "unauthenticated", field: ""},
		{name: "empty bearer", r: req{method: "GET", path: "/v1/audit", headers: map[string]string{"Authorization": "Bearer "}}, status: 401, code: "unauthenticated", field: ""},
		// Wrong role: 403 before the body is read or the store called.
		{name: "user creates site", r: req{method: "POST", path: "/v1/sites", token: userToken, body: `{"name":"b"}`}, status: 403, code: "forbidden", field: ""},
		{name: "user creates admin", r: req{method: "POST", path: "/v1/principals", token: userToken, body: `{"name":"x","role":"admin"}`}, status: 403, code: "forbidden", field: ""},
		{name: "terminal creates principal", r: req{method: "POST", path: "/v1/principals", token: terminalToken, body: `{"name":"x","role":"admin"}`}, status: 403, code: "forbidden", field: ""},
		{name: "admin logs on at a terminal", r: req{method: "POST", path: "/v1/terminals/t_1/sessions", token: adminToken, body: login(`,"time_sent":"` + validTime + `"`)}, status: 403, code: "forbidden", field: ""},
		{name: "delegate verifies audit", r: req{method: "GET", path: "/v1/audit/verify", token: delegateToken}, status: 403, code: "forbidden", field: ""},
		{name: "terminal reads audit", r: req{method: "GET", path: "/v1/audit", token: terminalToken}, status: 403, code: "forbidden", field: ""},
		{name: "terminal logs out a user token", r: req{method: "POST", path: "/v1/auth/logout", token: terminalToken}, status: 403, code: "forbidden", field: ""},
		{name: "user ends a session", r: req{method: "DELETE", path: "/v1/sessions/ss_1", token: userToken}, status: 403, code: "forbidden", field: ""},
		{name: "wrong role, huge body", r: req{method: "POST", path: "/v1/sites", token: userToken, body: huge}, status: 403, code: "forbidden", field: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			w := e.do(tc.r)
			if w.Code != tc.status {
				t.Fatalf("status = %d, want %d (body %s)", w.Code, tc.status, w.Body)
			}
			got := errorOf(t, w)
			if got.Code != tc.code {
				t.Errorf("code = %q, want %q", got.Code, tc.code)
			}
			field, hasField := got.Details["field"]
			switch {
			case tc.field == "" && hasField:
				t.Errorf("details.field = %v, want none", field)
			case tc.field != "" && field != tc.field:
				t.Errorf("details.field = %v, want %q (message %q)", field, tc.field, got.Message)
			}
			if calls := e.st.recorded(""); len(calls) != 0 {
				t.Errorf("the store was called: %+v", calls)
			}
		})
	}
}

// TestNoLeakOnInternalError checks an internal failure tells the caller
// nothing of its cause and is logged once, without secrets.
func TestNoLeakOnInternalError(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.st.err = fmt.Errorf("pq: connection to 10.0.0.7 refused (dsn postgres://latchkey:s3cret@db)")
	w := e.do(req{method: "POST", path: "/v1/auth/login", body: `{"identity":"alice","password":"hunter2-secret"}`})
	if w.Code != nethttp.StatusInternalServerError {
		t.Fatalf("status = %d, want 500", w.Code)
	}
	got := errorOf(t, w)
	if got.Code != "internal" || got.Message != "internal error" {
		t.Fatalf("error = %+v, want internal / internal error", got)
	}
	if strings.Contains(w.Body.String(), "s3cret") || strings.Contains(w.Body.String(), "10.0.0.7") {
		t.Fatalf("response leaks the cause: %s", w.Body)
	}
	logs := e.logs.String()
	if n := strings.Count(logs, `"msg":"internal error"`); n != 1 {
		t.Fatalf("internal error logged %d times, want once:\n%s", n, logs)
	}
	if strings.Contains(logs, "hunter2-secret") {
		t.Fatalf("the log holds the request's password:\n%s", logs)
	}
}
