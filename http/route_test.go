package http_test

import (
	nethttp "net/http"
	"strings"
	"testing"

	"latchkey"
)

// endpoint is one route with a valid request for it and the roles it
// admits.
type endpoint struct {
	method, path, body string
	status             int // on success
	roles              []string
}

var (
	anyPerson   = []string{adminToken, delegateToken, userToken}
	staffOnly   = []string{adminToken, delegateToken}
	terminalOK  = []string{terminalToken}
	lockBody    = `{"time_sent":"` + validTime + `","reason":"manual"}`
	credentials = `{"identity":"alice","password":"pw","force":true,"time_sent":"` + validTime + `"}`
)

var endpoints = []endpoint{
	{method: "POST", path: "/v1/auth/logout", body: "", status: 204, roles: anyPerson},
	{method: "POST", path: "/v1/principals", body: `{"name":"x","role":"user"}`, status: 201, roles: staffOnly},
	{method: "GET", path: "/v1/principals", body: "", status: 200, roles: staffOnly},
	{method: "GET", path: "/v1/principals/p_1", body: "", status: 200, roles: anyPerson},
	{method: "PATCH", path: "/v1/principals/p_1", body: `{"disabled":true}`, status: 200, roles: staffOnly},
	{method: "POST", path: "/v1/principals/p_1/identities", body: `{"login":"al","password":"pw"}`, status: 201, roles: staffOnly},
	{method: "GET", path: "/v1/principals/p_1/sessions?status=active", body: "", status: 200, roles: anyPerson},
	{method: "POST", path: "/v1/identities/al/password", body: `{"old_password":"a","new_password":"b"}`, status: 204, roles: anyPerson},
	{method: "POST", path: "/v1/principals/p_1/revoke-tokens", body: "", status: 204, roles: staffOnly},
	{method: "POST", path: "/v1/sites", body: `{"name":"b"}`, status: 201, roles: staffOnly},
	{method: "GET", path: "/v1/sites", body: "", status: 200, roles: anyPerson},
	{method: "GET", path: "/v1/sites/s_1", body: "", status: 200, roles: append([]string{terminalToken}, anyPerson...)},
	{method: "PATCH", path: "/v1/sites/s_1", body: `{"timezone":"Europe/Oslo"}`, status: 200, roles: staffOnly},
	{method: "POST", path: "/v1/terminals", body: `{"name":"c1","site":"s_1"}`, status: 201, roles: staffOnly},
	{method: "POST", path: "/v1/terminals/t_1/token", body: "", status: 201, roles: staffOnly},
	{method: "GET", path: "/v1/terminals", body: "", status: 200, roles: anyPerson},
	{method: "GET", path: "/v1/terminals/t_1", body: "", status: 200, roles: append([]string{terminalToken}, anyPerson...)},
	{method: "POST", path: "/v1/terminals/t_1/events", body: `{"events":[{"event":24,"occurred_at":"` + validTime + `"}]}`, status: 202, roles: terminalOK},
	{method: "GET", path: "/v1/terminals/t_1/events", body: "", status: 200, roles: []string{adminToken, delegateToken, terminalToken}},
	{method: "POST", path: "/v1/terminals/t_1/sessions", body: credentials, status: 201, roles: terminalOK},
	{method: "GET", path: "/v1/sessions/ss_1", body: "", status: 200, roles: append([]string{terminalToken}, anyPerson...)},
	{method: "POST", path: "/v1/sessions/ss_1/lock", body: lockBody, status: 200, roles: terminalOK},
	{method: "POST", path: "/v1/sessions/ss_1/unlock", body: credentials, status: 200, roles: terminalOK},
	{method: "POST", path: "/v1/sessions/ss_1/touch", body: "", status: 200, roles: terminalOK},
	{method: "DELETE", path: "/v1/sessions/ss_1", body: "", status: 200, roles: terminalOK},
	{method: "GET", path: "/v1/audit", body: "", status: 200, roles: staffOnly},
	{method: "GET", path: "/v1/audit/verify", body: "", status: 200, roles: []string{adminToken}},
	{method: "GET", path: "/v1/audit/seal", body: "", status: 200, roles: []string{adminToken}},
	{method: "GET", path: "/v1/audit/export?after=5", body: "", status: 200, roles: []string{adminToken}},
	{method: "GET", path: "/v1/jobs?state=failed", body: "", status: 200, roles: []string{adminToken}},
	{method: "GET", path: "/v1/jobs/job_1", body: "", status: 200, roles: []string{adminToken}},
	{method: "POST", path: "/v1/jobs/job_1/retry", body: "", status: 200, roles: []string{adminToken}},
	{method: "POST", path: "/v1/jobs/job_1/cancel", body: "", status: 200, roles: []string{adminToken}},
}

// TestRoleGate calls every route with every kind of token: the roles it
// admits reach the store (and get the success status); the others get 403
// before the store is called; no token gets 401.
func TestRoleGate(t *testing.T) {
	t.Parallel()
	for _, ep := range endpoints {
		for _, tok := range []string{"", adminToken, delegateToken, userToken, terminalToken} {
			name := ep.method + " " + ep.path + " as " + strings.TrimPrefix(tok, "tok-")
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t)
				w := e.do(req{method: ep.method, path: ep.path, token: tok, body: ep.body})
				allowed := false
				for _, r := range ep.roles {
					allowed = allowed || r == tok
				}
				switch {
				case tok == "":
					if w.Code != 401 || errorOf(t, w).Code != "unauthenticated" {
						t.Fatalf("no token: status %d body %s, want 401 unauthenticated", w.Code, w.Body)
					}
					if w.Header().Get("WWW-Authenticate") == "" {
						t.Errorf("401 without WWW-Authenticate")
					}
				case allowed:
					if w.Code != ep.status {
						t.Fatalf("status %d body %s, want %d", w.Code, w.Body, ep.status)
					}
					calls := e.st.recorded("")
					if len(calls) != 1 {
						t.Fatalf("store calls = %+v, want exactly one", calls)
					}
					if calls[0].method != "Logout" && calls[0].caller != callers[tok] {
						t.Errorf("store got caller %+v, want %+v", calls[0].caller, callers[tok])
					}
				default:
					if w.Code != 403 || errorOf(t, w).Code != "forbidden" {
						t.Fatalf("status %d body %s, want 403 forbidden", w.Code, w.Body)
					}
					if calls := e.st.recorded(""); len(calls) != 0 {
						t.Fatalf("store called for a refused role: %+v", calls)
					}
				}
				wantCT := "application/json"
				if w.Code == 200 && strings.HasPrefix(ep.path, "/v1/audit/export") {
					wantCT = "application/x-ndjson" // JSON lines
				}
				if ct := w.Header().Get("Content-Type"); w.Code != 204 && ct != wantCT {
					t.Errorf("Content-Type = %q", ct)
				}
				if w.Code == 204 && w.Body.Len() != 0 {
					t.Errorf("204 with a body: %q", w.Body)
				}
			})
		}
	}
}

func TestPublicRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// Login needs no token, and ignores a bad one.
	w := e.do(req{method: "POST", path: "/v1/auth/login", token: "tok-forged", body: `{"identity":"alice","password":"pw"}`})
	if w.Code != 200 {
		t.Fatalf("login: %d %s", w.Code, w.Body)
	}
	tok := decodeJSON[latchkey.UserToken](t, w)
	if tok.Token != "tok-new" || tok.Principal.ID != "p_user" {
		t.Fatalf("login answer %+v", tok)
	}
	if c := e.st.recorded("Login"); len(c) != 1 || c[0].args[0] != "alice" || c[0].args[1] != "pw" {
		t.Fatalf("Login calls %+v", c)
	}
	w = e.do(req{method: "GET", path: "/healthz"})
	if w.Code != 200 || strings.TrimSpace(w.Body.String()) != `{"ok":true}` {
		t.Fatalf("healthz: %d %s", w.Code, w.Body)
	}
}

func TestUnmatchedRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, path := range []string{"/nope", "/v1", "/v1/sessions/", "/v1/sessions/ss_1/explode"} {
		w := e.do(req{method: "GET", path: path, token: adminToken})
		if w.Code != 404 || errorOf(t, w).Code != "not_found" {
			t.Errorf("GET %s: %d %s, want 404 not_found", path, w.Code, w.Body)
		}
	}
	w := e.do(req{method: "PUT", path: "/v1/sites/s_1", token: adminToken, body: `{}`})
	if w.Code != nethttp.StatusMethodNotAllowed {
		t.Fatalf("PUT /v1/sites/s_1: %d %s, want 405", w.Code, w.Body)
	}
	if got := errorOf(t, w); got.Code != "bad_request" {
		t.Errorf("405 code = %q, want bad_request", got.Code)
	}
	if allow := w.Header().Get("Allow"); !strings.Contains(allow, "PATCH") || !strings.Contains(allow, "GET") {
		t.Errorf("Allow = %q", allow)
	}
	w = e.do(req{method: "HEAD", path: "/healthz"})
	if w.Code != 200 {
		t.Errorf("HEAD /healthz: %d", w.Code)
	}
	if calls := e.st.recorded(""); len(calls) != 0 {
		t.Errorf("store called: %+v", calls)
	}
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.do(req{method: "GET", path: "/healthz"}).Header().Get("X-Request-Id")
	b := e.do(req{method: "GET", path: "/nope"}).Header().Get("X-Request-Id")
	if a == "" || b == "" || a == b {
		t.Fatalf("request IDs %q and %q: want two different ones", a, b)
	}
	if !strings.Contains(e.logs.String(), b) {
		t.Errorf("request ID %s not in the log", b)
	}
}
