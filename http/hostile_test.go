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
		{"truncated JSON", req{method: "POST", path: "/v1/sites", token: adminToken, body: `{"name":`}, 400, "bad_request", "body"},
		{"syntax error", req{method: "POST", path: "/v1/sites", token: adminToken, body: `{"name" "x"}`}, 400, "bad_request", "body"},
		{"bad literal", req{method: "POST", path: "/v1/terminals/t_1/sessions", token: terminalToken, body: login(`,"force":tru,"time_sent":"` + validTime + `"`)}, 400, "bad_request", "body"},
		{"array not object", req{method: "POST", path: "/v1/principals", token: adminToken, body: `[{"name":"x","role":"user"}]`}, 400, "bad_request", "body"},
		{"string not object", req{method: "POST", path: "/v1/auth/login", body: `"alice"`}, 400, "bad_request", "body"},
		{"empty body", req{method: "POST", path: "/v1/sites", token: adminToken, body: " ", contentType: "application/json"}, 400, "bad_request", "body"},
		{"no body", req{method: "POST", path: "/v1/terminals", token: adminToken}, 400, "bad_request", "body"},
		{"invalid UTF-8 name", req{method: "POST", path: "/v1/sites", token: adminToken, body: "{\"name\":\"a\xff\"}"}, 400, "bad_request", "name"},
		// Trailing garbage.
		{"two values", req{method: "POST", path: "/v1/sites", token: adminToken, body: `{"name":"a"} {"name":"b"}`}, 400, "bad_request", "body"},
		{"trailing text", req{method: "POST", path: "/v1/sites", token: adminToken, body: `{"name":"a"}garbage`}, 400, "bad_request", "body"},
		{"trailing brace", req{method: "POST", path: "/v1/sessions/ss_1/touch", token: terminalToken, body: `{}}`}, 400, "bad_request", "body"},
		// Wrong types.
		{"bool as string", req{method: "POST", path: "/v1/terminals/t_1/sessions", token: terminalToken, body: login(`,"force":"yes","time_sent":"` + validTime + `"`)}, 400, "bad_request", "force"},
		{"time as number", req{method: "POST", path: "/v1/sessions/ss_1/lock", token: terminalToken, body: `{"time_sent":1714557600,"reason":"manual"}`}, 400, "bad_request", "time_sent"},
		{"int as string", req{method: "POST", path: "/v1/sites", token: adminToken, body: `{"name":"b","warning_seconds":"60"}`}, 400, "bad_request", "warning_seconds"},
		{"int as float", req{method: "PATCH", path: "/v1/sites/s_1", token: adminToken, body: `{"max_session_minutes":1.5}`}, 400, "bad_request", "max_session_minutes"},
		{"int overflow", req{method: "PATCH", path: "/v1/sites/s_1", token: adminToken, body: `{"max_session_minutes":1e40}`}, 400, "bad_request", "max_session_minutes"},
		{"nested type", req{method: "POST", path: "/v1/terminals/t_1/events", token: terminalToken, body: `{"events":[{"event":"24","occurred_at":"` + validTime + `"}]}`}, 400, "bad_request", "events[0].event"},
		{"event not object", req{method: "POST", path: "/v1/terminals/t_1/events", token: terminalToken, body: `{"events":[5]}`}, 400, "bad_request", "events[0]"},
		{"unknown field in second event", req{method: "POST", path: "/v1/terminals/t_1/events", token: terminalToken, body: `{"events":[{"event":24,"occurred_at":"` + validTime + `"},{"bogus":1}]}`}, 400, "bad_request", "events[1].bogus"},
		{"events not array", req{method: "POST", path: "/v1/terminals/t_1/events", token: terminalToken, body: `{"events":{}}`}, 400, "bad_request", "events"},
		{"role as number", req{method: "PATCH", path: "/v1/principals/p_1", token: adminToken, body: `{"role":1}`}, 400, "bad_request", "role"},
		// Unknown fields.
		{"unknown field", req{method: "POST", path: "/v1/principals", token: adminToken, body: `{"name":"x","role":"user","superuser":true}`}, 400, "bad_request", "superuser"},
		{"unknown field on touch", req{method: "POST", path: "/v1/sessions/ss_1/touch", token: terminalToken, body: `{"when":"now"}`}, 400, "bad_request", "when"},
		{"unknown event field", req{method: "POST", path: "/v1/terminals/t_1/events", token: terminalToken, body: `{"events":[{"event":24,"occurred_at":"` + validTime + `","terminal":"t_2"}]}`}, 400, "bad_request", "events[0].terminal"},
		{"id on create", req{method: "POST", path: "/v1/sites", token: adminToken, body: `{"name":"b","id":"s_mine"}`}, 400, "bad_request", "id"},
		// Missing or invalid fields.
		{"site without name", req{method: "POST", path: "/v1/sites", token: adminToken, body: `{}`}, 400, "bad_request", "name"},
		{"principal without role", req{method: "POST", path: "/v1/principals", token: adminToken, body: `{"name":"x"}`}, 400, "bad_request", "role"},
		{"principal bad role", req{method: "POST", path: "/v1/principals", token: adminToken, body: `{"name":"x","role":"terminal"}`}, 400, "bad_request", "role"},
		{"patch bad role", req{method: "PATCH", path: "/v1/principals/p_1", token: adminToken, body: `{"role":"root"}`}, 400, "bad_request", "role"},
		{"name control chars", req{method: "POST", path: "/v1/principals", token: adminToken, body: `{"name":"a\u0000b","role":"user"}`}, 400, "bad_request", "name"},
		{"name too long", req{method: "POST", path: "/v1/terminals", token: adminToken, body: `{"name":"` + strings.Repeat("x", 201) + `","site":"s_1"}`}, 400, "bad_request", "name"},
		{"terminal without site", req{method: "POST", path: "/v1/terminals", token: adminToken, body: `{"name":"c1"}`}, 400, "bad_request", "site"},
		{"identity without login", req{method: "POST", path: "/v1/principals/p_1/identities", token: adminToken, body: `{"password":"pw"}`}, 400, "bad_request", "login"},
		{"identity empty password", req{method: "POST", path: "/v1/principals/p_1/identities", token: adminToken, body: `{"login":"al","password":""}`}, 400, "bad_request", "password"},
		{"password too long", req{method: "POST", path: "/v1/auth/login", body: `{"identity":"al","password":"` + strings.Repeat("p", 1025) + `"}`}, 400, "bad_request", "password"},
		{"no new password", req{method: "POST", path: "/v1/identities/al/password", token: userToken, body: `{"old_password":"x"}`}, 400, "bad_request", "new_password"},
		{"auth login without password", req{method: "POST", path: "/v1/auth/login", body: `{"identity":"al"}`}, 400, "bad_request", "password"},
		{"auth login without identity", req{method: "POST", path: "/v1/auth/login", body: `{"password":"pw"}`}, 400, "bad_request", "identity"},
		{"session login without time", req{method: "POST", path: "/v1/terminals/t_1/sessions", token: terminalToken, body: login("")}, 400, "bad_request", "time_sent"},
		{"session login without identity", req{method: "POST", path: "/v1/terminals/t_1/sessions", token: terminalToken, body: `{"password":"pw","time_sent":"` + validTime + `"}`}, 400, "bad_request", "identity"},
		{"time not RFC 3339", req{method: "POST", path: "/v1/terminals/t_1/sessions", token: terminalToken, body: login(`,"time_sent":"yesterday"`)}, 400, "bad_request", "time_sent"},
		{"time without zone", req{method: "POST", path: "/v1/terminals/t_1/sessions", token: terminalToken, body: login(`,"time_sent":"2024-05-01T10:00:00"`)}, 400, "bad_request", "time_sent"},
		{"zero time", req{method: "POST", path: "/v1/sessions/ss_1/unlock", token: terminalToken, body: login(`,"time_sent":"0001-01-01T00:00:00Z"`)}, 400, "bad_request", "time_sent"},
		{"unlock without password", req{method: "POST", path: "/v1/sessions/ss_1/unlock", token: terminalToken, body: `{"identity":"al","time_sent":"` + validTime + `"}`}, 400, "bad_request", "password"},
		{"lock without reason", req{method: "POST", path: "/v1/sessions/ss_1/lock", token: terminalToken, body: `{"time_sent":"` + validTime + `"}`}, 400, "bad_request", "reason"},
		{"lock bad reason", req{method: "POST", path: "/v1/sessions/ss_1/lock", token: terminalToken, body: `{"time_sent":"` + validTime + `","reason":"sleepy"}`}, 400, "bad_request", "reason"},
		{"site bad timezone", req{method: "POST", path: "/v1/sites", token: adminToken, body: `{"name":"b","timezone":"Mars/Base"}`}, 400, "bad_request", "timezone"},
		{"site bad auth", req{method: "POST", path: "/v1/sites", token: adminToken, body: `{"name":"b","standalone_auth":"none"}`}, 400, "bad_request", "standalone_auth"},
		{"site patch negative", req{method: "PATCH", path: "/v1/sites/s_1", token: adminToken, body: `{"warning_seconds":-1}`}, 400, "bad_request", "warning_seconds"},
		{"site patch empty name", req{method: "PATCH", path: "/v1/sites/s_1", token: adminToken, body: `{"name":""}`}, 400, "bad_request", "name"},
		{"no events", req{method: "POST", path: "/v1/terminals/t_1/events", token: terminalToken, body: `{"events":[]}`}, 400, "bad_request", "events"},
		{"events missing", req{method: "POST", path: "/v1/terminals/t_1/events", token: terminalToken, body: `{}`}, 400, "bad_request", "events"},
		{"too many events", req{method: "POST", path: "/v1/terminals/t_1/events", token: terminalToken, body: events(1001)}, 400, "bad_request", "events"},
		{"bad event number", req{method: "POST", path: "/v1/terminals/t_1/events", token: terminalToken, body: `{"events":[{"event":24,"occurred_at":"` + validTime + `"},{"event":99,"occurred_at":"` + validTime + `"}]}`}, 400, "bad_request", "events[1].event"},
		{"event 26 without reason", req{method: "POST", path: "/v1/terminals/t_1/events", token: terminalToken, body: `{"events":[{"event":26,"occurred_at":"` + validTime + `"}]}`}, 400, "bad_request", "events[0].reason"},
		{"event bad time", req{method: "POST", path: "/v1/terminals/t_1/events", token: terminalToken, body: `{"events":[{"event":24,"occurred_at":"soon"}]}`}, 400, "bad_request", "events[0].occurred_at"},
		{"event without time", req{method: "POST", path: "/v1/terminals/t_1/events", token: terminalToken, body: `{"events":[{"event":25}]}`}, 400, "bad_request", "events[0].occurred_at"},
		// Query parameters.
		{"limit not a number", req{method: "GET", path: "/v1/sites?limit=abc", token: adminToken}, 400, "bad_request", "limit"},
		{"negative limit", req{method: "GET", path: "/v1/principals?limit=-1", token: adminToken}, 400, "bad_request", "limit"},
		{"audit bad after", req{method: "GET", path: "/v1/audit?after=x", token: adminToken}, 400, "bad_request", "after"},
		{"audit bad limit", req{method: "GET", path: "/v1/audit?limit=1.5", token: adminToken}, 400, "bad_request", "limit"},
		{"audit export bad after", req{method: "GET", path: "/v1/audit/export?after=-1", token: adminToken}, 400, "bad_request", "after"},
		{"audit export after not a number", req{method: "GET", path: "/v1/audit/export?after=x", token: adminToken}, 400, "bad_request", "after"},
		{"bad session status", req{method: "GET", path: "/v1/principals/p_1/sessions?status=bogus", token: adminToken}, 400, "bad_request", "status"},
		// Huge bodies.
		{"huge body", req{method: "POST", path: "/v1/sites", token: adminToken, body: huge}, 400, "bad_request", "body"},
		{"huge chunked body", req{method: "POST", path: "/v1/sites", token: adminToken, bodyReader: io.MultiReader(strings.NewReader(huge))}, 400, "bad_request", "body"},
		{"huge body with key", req{method: "POST", path: "/v1/sites", token: adminToken, body: huge, headers: map[string]string{"Idempotency-Key": "k1"}}, 400, "bad_request", "body"},
		// Content type.
		{"text/plain", req{method: "POST", path: "/v1/sites", token: adminToken, body: `{"name":"b"}`, contentType: "text/plain"}, 400, "bad_request", "Content-Type"},
		{"no content type", req{method: "POST", path: "/v1/auth/login", body: `{"identity":"al","password":"pw"}`, contentType: "-"}, 400, "bad_request", "Content-Type"},
		{"form content type", req{method: "POST", path: "/v1/terminals", token: adminToken, body: `name=c&site=s`, contentType: "application/x-www-form-urlencoded"}, 400, "bad_request", "Content-Type"},
		// Idempotency-Key.
		{"key too long", req{method: "POST", path: "/v1/sites", token: adminToken, body: `{"name":"b"}`, headers: map[string]string{"Idempotency-Key": strings.Repeat("k", 201)}}, 400, "bad_request", "Idempotency-Key"},
		{"key with control char", req{method: "POST", path: "/v1/sites", token: adminToken, body: `{"name":"b"}`, headers: map[string]string{"Idempotency-Key": "a\tb"}}, 400, "bad_request", "Idempotency-Key"},
		// Missing or bad authentication: 401 before anything is read.
		{"no token", req{method: "POST", path: "/v1/sites", body: `{"name":"b"}`}, 401, "unauthenticated", ""},
		{"no token, bad body", req{method: "POST", path: "/v1/sites", body: `{"name":`}, 401, "unauthenticated", ""},
		{"unknown token", req{method: "POST", path: "/v1/principals", token: "tok-forged", body: `{"name":"x","role":"admin"}`}, 401, "unauthenticated", ""},
		{"basic auth", req{method: "DELETE", path: "/v1/sessions/ss_1", headers: map[string]string{"Authorization": "Basic YWRtaW46YWRtaW4="}}, 401, "unauthenticated", ""},
		{"empty bearer", req{method: "GET", path: "/v1/audit", headers: map[string]string{"Authorization": "Bearer "}}, 401, "unauthenticated", ""},
		// Wrong role: 403 before the body is read or the store called.
		{"user creates site", req{method: "POST", path: "/v1/sites", token: userToken, body: `{"name":"b"}`}, 403, "forbidden", ""},
		{"user creates admin", req{method: "POST", path: "/v1/principals", token: userToken, body: `{"name":"x","role":"admin"}`}, 403, "forbidden", ""},
		{"terminal creates principal", req{method: "POST", path: "/v1/principals", token: terminalToken, body: `{"name":"x","role":"admin"}`}, 403, "forbidden", ""},
		{"admin logs on at a terminal", req{method: "POST", path: "/v1/terminals/t_1/sessions", token: adminToken, body: login(`,"time_sent":"` + validTime + `"`)}, 403, "forbidden", ""},
		{"delegate verifies audit", req{method: "GET", path: "/v1/audit/verify", token: delegateToken}, 403, "forbidden", ""},
		{"terminal reads audit", req{method: "GET", path: "/v1/audit", token: terminalToken}, 403, "forbidden", ""},
		{"terminal logs out a user token", req{method: "POST", path: "/v1/auth/logout", token: terminalToken}, 403, "forbidden", ""},
		{"user ends a session", req{method: "DELETE", path: "/v1/sessions/ss_1", token: userToken}, 403, "forbidden", ""},
		{"wrong role, huge body", req{method: "POST", path: "/v1/sites", token: userToken, body: huge}, 403, "forbidden", ""},
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
