package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// call is one request the fake API expects, and its canned answer.
type call struct {
	method string
	path   string // escaped path
	query  string // raw query
	auth   string // expected Authorization header ("" = none)
	body   string // expected JSON body; "" = none. "<time>" matches any RFC 3339 UTC time.
	status int
	resp   string
}

// fakeAPI serves the expected calls in order and fails the test on any
// other request.
type fakeAPI struct {
	t     *testing.T
	mu    sync.Mutex
	calls []call
	next  int
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.t
	if f.next >= len(f.calls) {
		t.Errorf("unexpected request %s %s", r.Method, r.URL)
		w.WriteHeader(500)
		return
	}
	c := f.calls[f.next]
	f.next++
	if r.Method != c.method || r.URL.EscapedPath() != c.path {
		t.Errorf("request %s %s, want %s %s", r.Method, r.URL.EscapedPath(), c.method, c.path)
	}
	if r.URL.RawQuery != c.query {
		t.Errorf("%s %s: query %q, want %q", c.method, c.path, r.URL.RawQuery, c.query)
	}
	if got := r.Header.Get("Authorization"); got != c.auth {
		t.Errorf("%s %s: Authorization %q, want %q", c.method, c.path, got, c.auth)
	}
	b, _ := io.ReadAll(r.Body)
	switch {
	case c.body == "" && len(b) != 0:
		t.Errorf("%s %s: body %s, want none", c.method, c.path, b)
	case c.body != "":
		var got, want any
		if err := json.Unmarshal(b, &got); err != nil {
			t.Errorf("%s %s: body %q: %v", c.method, c.path, b, err)
		} else if err := json.Unmarshal([]byte(c.body), &want); err != nil {
			t.Fatalf("bad expected body %s: %v", c.body, err)
		} else if !jsonMatch(got, want) {
			t.Errorf("%s %s: body %s, want %s", c.method, c.path, b, c.body)
		}
	}
	if c.resp != "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(c.status)
	io.WriteString(w, c.resp)
}

// jsonMatch compares decoded JSON; a wanted "<time>" matches any RFC 3339
// time in UTC.
func jsonMatch(got, want any) bool {
	if w, ok := want.(string); ok && w == "<time>" {
		g, ok := got.(string)
		if !ok {
			return false
		}
		tm, err := time.Parse(time.RFC3339Nano, g)
		return err == nil && tm.Location() == time.UTC
	}
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok || !jsonMatch(gv, wv) {
				return false
			}
		}
		return true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !jsonMatch(g[i], w[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(got, want)
}

const (
	siteJSON      = `{"id":"site_1","name":"Main St","timezone":"UTC","concurrency_controls":true,"allow_standalone":true,"standalone_auth":"cached","standalone_quotas":"snapshot","max_session_minutes":0,"daily_quota_minutes":0,"inactivity_lock_minutes":5,"forced_timeout_minutes":0,"warning_seconds":60,"max_reservations_per_user":3,"max_booking_days_ahead":14,"transaction_on_lock":"pause","created_at":"2025-03-01T09:30:00Z"}`
	principalJSON = `{"id":"prn_1","name":"Alice","role":"user","global":false,"disabled":false,"created_at":"2025-03-01T09:30:00Z"}`
	terminalJSON  = `{"id":"trm_1","name":"Counter 1","site":"site_1","created_at":"2025-03-01T09:30:00Z","online":true,"standalone":false,"locked_groups":[]}`
	sessionJSON   = `{"id":"ses_1","principal":"prn_1","identity":"alice","terminal":"trm_1","status":"active","started_at":"2025-03-01T09:30:00Z","locked_at":null,"ended_at":null,"standalone":false,"last_activity_at":"2025-03-01T09:30:00Z","ends_at":null,"warn_at":null}`
	lockedJSON    = `{"id":"ses_1","principal":"prn_1","identity":"alice","terminal":"trm_1","status":"active","started_at":"2025-03-01T09:30:00Z","locked_at":"2025-03-01T09:40:00Z","ended_at":null,"standalone":false,"last_activity_at":"2025-03-01T09:30:00Z","ends_at":null,"warn_at":null}`
	tokenJSON     = `{"token":"secret-user-token","expires_at":"2025-03-01T21:30:00Z","principal":{"id":"prn_0","name":"admin","role":"admin"}}`
	conflictJSON  = `{"error":{"code":"concurrent_session","message":"the principal has an unlocked session at another terminal","details":{"sessions":[{"id":"ses_9","terminal":"trm_2","identity":"alice","started_at":"2025-03-01T08:00:00Z","locked_at":null}]}}}`
)

const (
	userAuth = "Bearer tok"
	termAuth = "Bearer term-tok"
)

type cliTest struct {
	name      string
	args      []string
	env       map[string]string
	stdin     string
	tokenFile string // contents of the token file before the run ("" = none)
	calls     []call
	code      int
	stdout    []string // substrings of stdout
	notStdout []string
	stderr    []string // substrings of stderr
	jsonOut   string   // stdout must be this JSON
	check     func(t *testing.T, tokenPath string)
}

// runCLI runs one test case against a fresh fake API.
func runCLI(t *testing.T, tt cliTest) {
	t.Helper()
	api := &fakeAPI{t: t, calls: tt.calls}
	srv := httptest.NewServer(api)
	defer srv.Close()
	dir := t.TempDir()
	tokenPath := filepath.Join(dir, "cfg", "token")
	for _, k := range []string{"LATCHKEY_TOKEN", "LATCHKEY_TERMINAL_TOKEN", "LATCHKEY_PASSWORD",
		"LATCHKEY_OLD_PASSWORD", "LATCHKEY_ADMIN_PASSWORD", "XDG_CONFIG_HOME"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	t.Setenv("LATCHKEY_SERVER", srv.URL)
	t.Setenv("LATCHKEY_TOKEN_FILE", tokenPath)
	t.Setenv("HOME", dir)
	for k, v := range tt.env {
		t.Setenv(k, strings.ReplaceAll(v, "$URL", srv.URL))
	}
	if tt.tokenFile != "" {
		os.MkdirAll(filepath.Dir(tokenPath), 0o700)
		if err := os.WriteFile(tokenPath, []byte(tt.tokenFile), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	args := make([]string, len(tt.args))
	for i, a := range tt.args {
		args[i] = strings.ReplaceAll(a, "$URL", srv.URL)
	}
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), args, strings.NewReader(tt.stdin), &stdout, &stderr)
	if code != tt.code {
		t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, stdout.String(), stderr.String())
	}
	for _, s := range tt.stdout {
		if !strings.Contains(stdout.String(), s) {
			t.Errorf("stdout does not contain %q:\n%s", s, stdout.String())
		}
	}
	for _, s := range tt.notStdout {
		if strings.Contains(stdout.String(), s) {
			t.Errorf("stdout contains %q:\n%s", s, stdout.String())
		}
	}
	for _, s := range tt.stderr {
		if !strings.Contains(stderr.String(), s) {
			t.Errorf("stderr does not contain %q:\n%s", s, stderr.String())
		}
	}
	if tt.jsonOut != "" {
		var got, want any
		if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
			t.Errorf("stdout is not JSON: %v\n%s", err, stdout.String())
		} else if json.Unmarshal([]byte(tt.jsonOut), &want); !reflect.DeepEqual(got, want) {
			t.Errorf("stdout JSON:\n%s\nwant %s", stdout.String(), tt.jsonOut)
		}
	}
	api.mu.Lock()
	if api.next != len(api.calls) {
		t.Errorf("the CLI made %d of %d expected requests", api.next, len(api.calls))
	}
	api.mu.Unlock()
	if tt.check != nil {
		tt.check(t, tokenPath)
	}
}

func runAll(t *testing.T, tests []cliTest) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runCLI(t, tt) })
	}
}

func TestTopLevel(t *testing.T) {
	runAll(t, []cliTest{
		{name: "help", args: []string{"help"}, code: 0,
			stdout: []string{"latchkey site create --name N", "latchkey session login --terminal ID", "latchkey audit verify",
				"latchkey serve", "latchkey events post", "latchkey identity passwd", "latchkey principal sessions ID", "latchkey version"}},
		{name: "-h", args: []string{"-h"}, code: 0, stdout: []string{"Commands:", "latchkey terminal register"}},
		{name: "help of a group", args: []string{"help", "site"}, code: 0, stdout: []string{"latchkey site update ID"}},
		{name: "help of a subcommand", args: []string{"help", "site", "create"}, code: 0,
			stdout: []string{"usage: latchkey site create", "-max-session-minutes"}},
		{name: "subcommand -h", args: []string{"session", "login", "-h"}, code: 0, stdout: []string{"-terminal-token", "-force"}},
		{name: "no command", args: nil, code: 2, stderr: []string{"Commands:"}},
		{name: "unknown command", args: []string{"frobnicate"}, code: 2, stderr: []string{`unknown command "frobnicate"`}},
		{name: "unknown subcommand", args: []string{"site", "delete"}, code: 2, stderr: []string{`unknown subcommand "delete"`}},
		{name: "missing subcommand", args: []string{"site"}, code: 2, stderr: []string{"latchkey site list"}},
		{name: "unknown flag", args: []string{"site", "list", "--bogus"}, code: 2, stderr: []string{"bogus"}},
		{name: "version", args: []string{"version"}, code: 0, stdout: []string{"latchkey "}},
		{name: "--version", args: []string{"--version"}, code: 0, stdout: []string{"latchkey "}},
	})
}

func TestSite(t *testing.T) {
	runAll(t, []cliTest{
		{
			name:  "create sends only the flags given",
			args:  []string{"site", "create", "--token", "tok", "--name", "Main St", "--inactivity-lock-minutes", "5", "--concurrency-controls=false"},
			calls: []call{{method: "POST", path: "/v1/sites", auth: userAuth, body: `{"name":"Main St","inactivity_lock_minutes":5,"concurrency_controls":false}`, status: 201, resp: siteJSON}},
			code:  0, stdout: []string{"site_1", "Main St", "inactivity_lock_minutes", "warning_seconds"},
		},
		{
			name:  "create with every setting",
			args:  []string{"site", "create", "--token", "tok", "--name", "X", "--timezone", "Europe/Paris", "--allow-standalone=false", "--standalone-auth", "any", "--standalone-quotas", "off", "--max-session-minutes", "60", "--daily-quota-minutes", "120", "--forced-timeout-minutes", "30", "--warning-seconds", "0", "--concurrency-controls"},
			calls: []call{{method: "POST", path: "/v1/sites", auth: userAuth, body: `{"name":"X","timezone":"Europe/Paris","allow_standalone":false,"standalone_auth":"any","standalone_quotas":"off","max_session_minutes":60,"daily_quota_minutes":120,"forced_timeout_minutes":30,"warning_seconds":0,"concurrency_controls":true}`, status: 201, resp: siteJSON}},
			code:  0,
		},
		{name: "create needs a name", args: []string{"site", "create", "--timezone", "UTC"}, code: 2, stderr: []string{"--name is required"}},
		{name: "create rejects a positional", args: []string{"site", "create", "--name", "x", "extra"}, code: 2, stderr: []string{`unexpected argument "extra"`}},
		{name: "bad int", args: []string{"site", "create", "--name", "x", "--warning-seconds", "soon"}, code: 2},
		{
			name:    "create --json prints the API object",
			args:    []string{"site", "create", "--name", "Main St", "--json"},
			env:     map[string]string{"LATCHKEY_TOKEN": "tok"},
			calls:   []call{{method: "POST", path: "/v1/sites", auth: userAuth, body: `{"name":"Main St"}`, status: 201, resp: siteJSON}},
			code:    0,
			jsonOut: siteJSON,
		},
		{
			name:  "update",
			args:  []string{"site", "update", "site_1", "--warning-seconds", "30", "--name", "New"},
			env:   map[string]string{"LATCHKEY_TOKEN": "tok"},
			calls: []call{{method: "PATCH", path: "/v1/sites/site_1", auth: userAuth, body: `{"warning_seconds":30,"name":"New"}`, status: 200, resp: siteJSON}},
			code:  0,
		},
		{
			name:  "update the booking caps",
			args:  []string{"site", "update", "site_1", "--max-reservations-per-user", "5", "--max-booking-days-ahead", "0"},
			env:   map[string]string{"LATCHKEY_TOKEN": "tok"},
			calls: []call{{method: "PATCH", path: "/v1/sites/site_1", auth: userAuth, body: `{"max_reservations_per_user":5,"max_booking_days_ahead":0}`, status: 200, resp: siteJSON}},
			code:  0, stdout: []string{"max_reservations_per_user", "max_booking_days_ahead"},
		},
		{
			name:  "create with booking caps",
			args:  []string{"site", "create", "--token", "tok", "--name", "Y", "--max-reservations-per-user", "2", "--max-booking-days-ahead", "7"},
			calls: []call{{method: "POST", path: "/v1/sites", auth: userAuth, body: `{"name":"Y","max_reservations_per_user":2,"max_booking_days_ahead":7}`, status: 201, resp: siteJSON}},
			code:  0,
		},
		{name: "update without settings", args: []string{"site", "update", "site_1"}, code: 2, stderr: []string{"nothing to update"}},
		{name: "update without ID", args: []string{"site", "update", "--name", "x"}, code: 2, stderr: []string{"missing ID"}},
		{
			name:      "list with the token from the token file",
			args:      []string{"site", "list", "--limit", "1"},
			tokenFile: "tok\n",
			calls:     []call{{method: "GET", path: "/v1/sites", query: "limit=1", auth: userAuth, status: 200, resp: `{"items":[` + siteJSON + `],"next":"site_1"}`}},
			code:      0,
			stdout:    []string{"ID", "TIMEZONE", "site_1", "Main St"},
			stderr:    []string{"--after site_1"},
		},
		{
			name:    "list --json",
			args:    []string{"site", "list", "--json", "--after", "site_0"},
			calls:   []call{{method: "GET", path: "/v1/sites", query: "after=site_0", status: 200, resp: `{"items":null,"next":""}`}},
			code:    0,
			jsonOut: `{"items":[],"next":""}`,
		},
		{
			name:    "flags after the positional, global flags before the command",
			args:    []string{"--server", "$URL", "--token", "tok", "site", "show", "site_1", "--json"},
			env:     map[string]string{"LATCHKEY_SERVER": "http://127.0.0.1:1"},
			calls:   []call{{method: "GET", path: "/v1/sites/site_1", auth: userAuth, status: 200, resp: siteJSON}},
			code:    0,
			jsonOut: siteJSON,
		},
		{
			name:   "not found",
			args:   []string{"site", "show", "nope", "--token", "tok"},
			calls:  []call{{method: "GET", path: "/v1/sites/nope", auth: userAuth, status: 404, resp: `{"error":{"code":"not_found","message":"site nope not found"}}`}},
			code:   1,
			stderr: []string{"latchkey: not_found: site nope not found"},
		},
		{
			name:   "bad request shows details",
			args:   []string{"site", "update", "site_1", "--timezone", "Mars/Base", "--token", "tok"},
			calls:  []call{{method: "PATCH", path: "/v1/sites/site_1", auth: userAuth, body: `{"timezone":"Mars/Base"}`, status: 400, resp: `{"error":{"code":"bad_request","message":"bad timezone","details":{"field":"timezone"}}}`}},
			code:   1,
			stderr: []string{"latchkey: bad_request: bad timezone", "field: timezone"},
		},
		{
			name:    "error with --json prints the error object",
			args:    []string{"site", "update", "site_1", "--timezone", "Mars/Base", "--token", "tok", "--json"},
			calls:   []call{{method: "PATCH", path: "/v1/sites/site_1", auth: userAuth, body: `{"timezone":"Mars/Base"}`, status: 400, resp: `{"error":{"code":"bad_request","message":"bad timezone","details":{"field":"timezone"}}}`}},
			code:    1,
			stderr:  []string{"latchkey: bad_request: bad timezone"},
			jsonOut: `{"error":{"code":"bad_request","message":"bad timezone","details":{"field":"timezone"}}}`,
		},
		{
			name:   "unauthenticated hints at auth login",
			args:   []string{"site", "list"},
			calls:  []call{{method: "GET", path: "/v1/sites", status: 401, resp: `{"error":{"code":"unauthenticated","message":"no token"}}`}},
			code:   1,
			stderr: []string{"latchkey: unauthenticated: no token", "latchkey auth login"},
		},
		{
			name:   "a non-API error mentions the status",
			args:   []string{"site", "list"},
			calls:  []call{{method: "GET", path: "/v1/sites", status: 502, resp: `<html>bad gateway</html>`}},
			code:   1,
			stderr: []string{"latchkey: ", "502"},
		},
	})
}

func TestPrincipalAndIdentity(t *testing.T) {
	runAll(t, []cliTest{
		{
			name:  "principal create",
			args:  []string{"principal", "create", "--name", "Alice", "--role", "user", "--global", "--token", "tok"},
			calls: []call{{method: "POST", path: "/v1/principals", auth: userAuth, body: `{"name":"Alice","role":"user","global":true,"disabled":false}`, status: 201, resp: principalJSON}},
			code:  0, stdout: []string{"prn_1", "Alice"},
		},
		{name: "principal create bad role", args: []string{"principal", "create", "--name", "A", "--role", "root"}, code: 2, stderr: []string{"--role must be"}},
		{name: "principal create needs a role", args: []string{"principal", "create", "--name", "A"}, code: 2, stderr: []string{"--role is required"}},
		{
			name:   "principal list",
			args:   []string{"principal", "list", "--token", "tok"},
			calls:  []call{{method: "GET", path: "/v1/principals", auth: userAuth, status: 200, resp: `{"items":[` + principalJSON + `],"next":""}`}},
			code:   0,
			stdout: []string{"ROLE", "prn_1", "Alice", "user"},
		},
		{
			name:    "principal show",
			args:    []string{"principal", "show", "prn_1", "--json", "--token", "tok"},
			calls:   []call{{method: "GET", path: "/v1/principals/prn_1", auth: userAuth, status: 200, resp: principalJSON}},
			code:    0,
			jsonOut: principalJSON,
		},
		{
			name:  "principal update sends only the flags given",
			args:  []string{"principal", "update", "prn_1", "--disabled=true", "--token", "tok"},
			calls: []call{{method: "PATCH", path: "/v1/principals/prn_1", auth: userAuth, body: `{"disabled":true}`, status: 200, resp: principalJSON}},
			code:  0,
		},
		{
			name:  "principal update role and global",
			args:  []string{"principal", "update", "prn_1", "--role", "delegate", "--global=false", "--token", "tok"},
			calls: []call{{method: "PATCH", path: "/v1/principals/prn_1", auth: userAuth, body: `{"role":"delegate","global":false}`, status: 200, resp: principalJSON}},
			code:  0,
		},
		{name: "principal update nothing", args: []string{"principal", "update", "prn_1"}, code: 2},
		{
			name:   "principal sessions",
			args:   []string{"principal", "sessions", "prn_1", "--status", "active", "--token", "tok"},
			calls:  []call{{method: "GET", path: "/v1/principals/prn_1/sessions", query: "status=active", auth: userAuth, status: 200, resp: `{"items":[` + sessionJSON + `],"next":""}`}},
			code:   0,
			stdout: []string{"ses_1", "trm_1", "alice", "active"},
		},
		{name: "principal sessions bad status", args: []string{"principal", "sessions", "prn_1", "--status", "zombie"}, code: 2},
		{
			name:   "principal offline-logon --revoke",
			args:   []string{"principal", "offline-logon", "prn_1", "--revoke", "--token", "tok"},
			calls:  []call{{method: "PUT", path: "/v1/principals/prn_1/offline-logon", auth: userAuth, body: `{"enabled":false}`, status: 200, resp: `{"principal":"prn_1","offline_logon":false}`}},
			code:   0,
			stdout: []string{"offline_logon", "false"},
		},
		{name: "principal offline-logon needs one choice", args: []string{"principal", "offline-logon", "prn_1"}, code: 2, stderr: []string{"exactly one of --revoke and --allow"}},
		{
			name:  "identity add, password from the environment",
			args:  []string{"identity", "add", "--principal", "prn_1", "--login", "alice", "--token", "tok"},
			env:   map[string]string{"LATCHKEY_PASSWORD": "alice-pw-1"},
			calls: []call{{method: "POST", path: "/v1/principals/prn_1/identities", auth: userAuth, body: `{"login":"alice","password":"alice-pw-1"}`, status: 201, resp: `{"login":"alice","principal":"prn_1","created_at":"2025-03-01T09:30:00Z"}`}},
			code:  0, stdout: []string{"added identity alice to principal prn_1"},
		},
		{
			name:  "identity add, password from stdin beats the environment",
			args:  []string{"identity", "add", "--principal", "prn_1", "--login", "alice", "--password-stdin", "--token", "tok"},
			env:   map[string]string{"LATCHKEY_PASSWORD": "alice-pw-1"},
			stdin: "from stdin\r\nsecond line\n",
			calls: []call{{method: "POST", path: "/v1/principals/prn_1/identities", auth: userAuth, body: `{"login":"alice","password":"from stdin"}`, status: 201, resp: `{"login":"alice","principal":"prn_1","created_at":"2025-03-01T09:30:00Z"}`}},
			code:  0,
		},
		{
			name:   "identity add without a password source",
			args:   []string{"identity", "add", "--principal", "prn_1", "--login", "alice"},
			code:   2,
			stderr: []string{"no password"},
		},
		{
			name:   "identity add, login taken",
			args:   []string{"identity", "add", "--principal", "prn_1", "--login", "alice", "--token", "tok"},
			env:    map[string]string{"LATCHKEY_PASSWORD": "alice-pw-1"},
			calls:  []call{{method: "POST", path: "/v1/principals/prn_1/identities", auth: userAuth, body: `{"login":"alice","password":"alice-pw-1"}`, status: 409, resp: `{"error":{"code":"conflict","message":"login alice is taken"}}`}},
			code:   1,
			stderr: []string{"latchkey: conflict: login alice is taken"},
		},
		{
			name:  "identity passwd",
			args:  []string{"identity", "passwd", "--login", "al/ice", "--token", "tok"},
			env:   map[string]string{"LATCHKEY_PASSWORD": "new-secret-1", "LATCHKEY_OLD_PASSWORD": "old"},
			calls: []call{{method: "POST", path: "/v1/identities/al%2Fice/password", auth: userAuth, body: `{"old_password":"old","new_password":"new-secret-1"}`, status: 204}},
			code:  0, stdout: []string{"password changed for al/ice"},
		},
		{
			name:   "identity passwd, staff without the old password",
			args:   []string{"identity", "passwd", "--login", "alice", "--password-stdin", "--token", "tok", "--json"},
			stdin:  "new-secret-1\n",
			calls:  []call{{method: "POST", path: "/v1/identities/alice/password", auth: userAuth, body: `{"old_password":"","new_password":"new-secret-1"}`, status: 204}},
			code:   0,
			check:  nil,
			stdout: nil,
		},
		{
			name:   "identity add refuses a short password before sending it",
			args:   []string{"identity", "add", "--principal", "prn_1", "--login", "alice", "--token", "tok"},
			env:    map[string]string{"LATCHKEY_PASSWORD": "pw1"},
			code:   1,
			stderr: []string{"latchkey: bad_request: password must be at least 8 characters long", "reason: too_short"},
		},
		{
			name:   "identity passwd refuses a common password before sending it",
			args:   []string{"identity", "passwd", "--login", "alice", "--password-stdin", "--token", "tok"},
			stdin:  "Sunshine1\n",
			code:   1,
			stderr: []string{"new_password is one of the most common passwords"},
		},
	})
}

func TestTerminal(t *testing.T) {
	runAll(t, []cliTest{
		{
			name:   "register shows the token once",
			args:   []string{"terminal", "register", "--name", "Counter 1", "--site", "site_1", "--token", "tok"},
			calls:  []call{{method: "POST", path: "/v1/terminals", auth: userAuth, body: `{"name":"Counter 1","site":"site_1"}`, status: 201, resp: `{"id":"trm_1","name":"Counter 1","site":"site_1","created_at":"2025-03-01T09:30:00Z","token":"term-tok","online":false,"standalone":false,"locked_groups":[]}`}},
			code:   0,
			stdout: []string{"trm_1", "term-tok"},
			stderr: []string{"shown only once"},
		},
		{name: "register needs a site", args: []string{"terminal", "register", "--name", "x"}, code: 2, stderr: []string{"--site is required"}},
		{
			name:   "list",
			args:   []string{"terminal", "list", "--token", "tok"},
			calls:  []call{{method: "GET", path: "/v1/terminals", auth: userAuth, status: 200, resp: `{"items":[` + terminalJSON + `],"next":""}`}},
			code:   0,
			stdout: []string{"ONLINE", "trm_1", "Counter 1", "site_1", "true"},
		},
		{
			name:   "show",
			args:   []string{"terminal", "show", "trm_1", "--token", "tok"},
			calls:  []call{{method: "GET", path: "/v1/terminals/trm_1", auth: userAuth, status: 200, resp: terminalJSON}},
			code:   0,
			stdout: []string{"online:", "locked_groups:"},
		},
		{
			name:   "events",
			args:   []string{"terminal", "events", "trm_1", "--token", "tok", "--limit", "5"},
			calls:  []call{{method: "GET", path: "/v1/terminals/trm_1/events", query: "limit=5", auth: userAuth, status: 200, resp: `{"items":[{"id":"e1","event":26,"occurred_at":"2025-03-01T09:30:00Z","received_at":"2025-03-01T09:35:00Z","identity":"alice","reason":"invalid_credentials","terminal":"trm_1"}],"next":""}`}},
			code:   0,
			stdout: []string{"e1", "26 (unlock failed)", "2025-03-01T09:35:00Z", "invalid_credentials"},
		},
	})
}

func TestSession(t *testing.T) {
	runAll(t, []cliTest{
		{
			name:   "login with the terminal token from the environment",
			args:   []string{"session", "login", "--terminal", "trm_1", "--identity", "alice", "--token", "tok"},
			env:    map[string]string{"LATCHKEY_TERMINAL_TOKEN": "term-tok", "LATCHKEY_PASSWORD": "pw"},
			calls:  []call{{method: "POST", path: "/v1/terminals/trm_1/sessions", auth: termAuth, body: `{"identity":"alice","password":"pw","force":false,"time_sent":"<time>"}`, status: 201, resp: `{"session":` + sessionJSON + `,"failed":["ses_0"]}`}},
			code:   0,
			stdout: []string{"session ses_1 active at terminal trm_1", "failed sessions: ses_0"},
		},
		{
			name:    "login --force --json with --terminal-token",
			args:    []string{"session", "login", "--terminal", "trm_1", "--identity", "alice", "--force", "--terminal-token", "term-tok", "--json", "--password-stdin"},
			env:     map[string]string{"LATCHKEY_TERMINAL_TOKEN": "other"},
			stdin:   "pw\n",
			calls:   []call{{method: "POST", path: "/v1/terminals/trm_1/sessions", auth: termAuth, body: `{"identity":"alice","password":"pw","force":true,"time_sent":"<time>"}`, status: 201, resp: `{"session":` + sessionJSON + `,"failed":null}`}},
			code:    0,
			jsonOut: `{"session":` + sessionJSON + `,"failed":[]}`,
		},
		{
			name:   "login falls back to the user token",
			args:   []string{"session", "login", "--terminal", "trm_1", "--identity", "alice", "--token", "tok"},
			env:    map[string]string{"LATCHKEY_PASSWORD": "pw"},
			calls:  []call{{method: "POST", path: "/v1/terminals/trm_1/sessions", auth: userAuth, body: `{"identity":"alice","password":"pw","force":false,"time_sent":"<time>"}`, status: 201, resp: `{"session":` + sessionJSON + `,"failed":[]}`}},
			code:   0,
			stdout: []string{"ses_1"},
		},
		{
			name:   "concurrent session lists the conflicts",
			args:   []string{"session", "login", "--terminal", "trm_1", "--identity", "alice"},
			env:    map[string]string{"LATCHKEY_TERMINAL_TOKEN": "term-tok", "LATCHKEY_PASSWORD": "pw"},
			calls:  []call{{method: "POST", path: "/v1/terminals/trm_1/sessions", auth: termAuth, body: `{"identity":"alice","password":"pw","force":false,"time_sent":"<time>"}`, status: 409, resp: conflictJSON}},
			code:   1,
			stderr: []string{"latchkey: concurrent_session: the principal has an unlocked session", "conflicting sessions:", "ses_9", "trm_2", "2025-03-01T08:00:00Z", "--force"},
		},
		{
			name:    "concurrent session with --json",
			args:    []string{"session", "login", "--terminal", "trm_1", "--identity", "alice", "--json"},
			env:     map[string]string{"LATCHKEY_TERMINAL_TOKEN": "term-tok", "LATCHKEY_PASSWORD": "pw"},
			calls:   []call{{method: "POST", path: "/v1/terminals/trm_1/sessions", auth: termAuth, body: `{"identity":"alice","password":"pw","force":false,"time_sent":"<time>"}`, status: 409, resp: conflictJSON}},
			code:    1,
			stderr:  []string{"latchkey: concurrent_session:"},
			jsonOut: conflictJSON,
		},
		{
			name:  "identity in use",
			args:  []string{"session", "login", "--terminal", "trm_1", "--identity", "alice2"},
			env:   map[string]string{"LATCHKEY_TERMINAL_TOKEN": "term-tok", "LATCHKEY_PASSWORD": "pw"},
			calls: []call{{method: "POST", path: "/v1/terminals/trm_1/sessions", auth: termAuth, body: `{"identity":"alice2","password":"pw","force":false,"time_sent":"<time>"}`, status: 409, resp: `{"error":{"code":"identity_in_use","message":"in use","details":{"sessions":[{"id":"ses_9","terminal":"trm_2","identity":"alice","started_at":"2025-03-01T08:00:00Z","locked_at":"2025-03-01T08:10:00Z"}]}}}`}},
			code:  1,
			stderr: []string{"latchkey: identity_in_use: in use", "ses_9", "2025-03-01T08:10:00Z",
				`log on with identity "alice"`},
		},
		{
			name:   "account locked shows until",
			args:   []string{"session", "login", "--terminal", "trm_1", "--identity", "alice"},
			env:    map[string]string{"LATCHKEY_TERMINAL_TOKEN": "term-tok", "LATCHKEY_PASSWORD": "pw"},
			calls:  []call{{method: "POST", path: "/v1/terminals/trm_1/sessions", auth: termAuth, body: `{"identity":"alice","password":"pw","force":false,"time_sent":"<time>"}`, status: 423, resp: `{"error":{"code":"account_locked","message":"too many failed attempts","details":{"until":"2025-03-01T09:45:00Z"}}}`}},
			code:   1,
			stderr: []string{"latchkey: account_locked: too many failed attempts", "until: 2025-03-01T09:45:00Z"},
		},
		{
			name:   "rate limited shows when to try again",
			args:   []string{"session", "login", "--terminal", "trm_1", "--identity", "alice"},
			env:    map[string]string{"LATCHKEY_TERMINAL_TOKEN": "term-tok", "LATCHKEY_PASSWORD": "pw"},
			calls:  []call{{method: "POST", path: "/v1/terminals/trm_1/sessions", auth: termAuth, body: `{"identity":"alice","password":"pw","force":false,"time_sent":"<time>"}`, status: 429, resp: `{"error":{"code":"rate_limited","message":"too many failed logons from your address; try again in 50s","details":{"retry_after_seconds":50,"scope":"address"}}}`}},
			code:   1,
			stderr: []string{"latchkey: rate_limited: too many failed logons", "scope: address", "try again in 50s"},
		},
		{name: "login needs an identity", args: []string{"session", "login", "--terminal", "trm_1"}, code: 2, stderr: []string{"--identity is required"}},
		{
			name:   "lock",
			args:   []string{"session", "lock", "ses_1", "--terminal-token", "term-tok"},
			calls:  []call{{method: "POST", path: "/v1/sessions/ses_1/lock", auth: termAuth, body: `{"time_sent":"<time>","reason":"manual"}`, status: 200, resp: lockedJSON}},
			code:   0,
			stdout: []string{"locked_at:", "2025-03-01T09:40:00Z"},
		},
		{
			name:  "lock for inactivity",
			args:  []string{"session", "lock", "--reason", "inactivity", "ses_1", "--terminal-token", "term-tok"},
			calls: []call{{method: "POST", path: "/v1/sessions/ses_1/lock", auth: termAuth, body: `{"time_sent":"<time>","reason":"inactivity"}`, status: 200, resp: lockedJSON}},
			code:  0,
		},
		{name: "lock bad reason", args: []string{"session", "lock", "ses_1", "--reason", "boredom"}, code: 2, stderr: []string{"--reason must be"}},
		{name: "lock without ID", args: []string{"session", "lock"}, code: 2, stderr: []string{"missing ID"}},
		{
			name:   "lock a failed session",
			args:   []string{"session", "lock", "ses_1", "--terminal-token", "term-tok"},
			calls:  []call{{method: "POST", path: "/v1/sessions/ses_1/lock", auth: termAuth, body: `{"time_sent":"<time>","reason":"manual"}`, status: 410, resp: `{"error":{"code":"session_failed","message":"session ses_1 was failed (forced)"}}`}},
			code:   1,
			stderr: []string{"latchkey: session_failed: session ses_1 was failed (forced)", "log out"},
		},
		{
			name:    "unlock --force",
			args:    []string{"session", "unlock", "ses_1", "--identity", "alice", "--force", "--password-stdin", "--terminal-token", "term-tok", "--json"},
			stdin:   "pw",
			calls:   []call{{method: "POST", path: "/v1/sessions/ses_1/unlock", auth: termAuth, body: `{"identity":"alice","password":"pw","force":true,"time_sent":"<time>"}`, status: 200, resp: sessionJSON}},
			code:    0,
			jsonOut: sessionJSON,
		},
		{
			name:   "unlock conflict",
			args:   []string{"session", "unlock", "ses_1", "--identity", "alice", "--terminal-token", "term-tok"},
			env:    map[string]string{"LATCHKEY_PASSWORD": "pw"},
			calls:  []call{{method: "POST", path: "/v1/sessions/ses_1/unlock", auth: termAuth, body: `{"identity":"alice","password":"pw","force":false,"time_sent":"<time>"}`, status: 409, resp: conflictJSON}},
			code:   1,
			stderr: []string{"conflicting sessions:", "ses_9", "--force"},
		},
		{
			name:  "touch",
			args:  []string{"session", "touch", "ses_1", "--terminal-token", "term-tok"},
			calls: []call{{method: "POST", path: "/v1/sessions/ses_1/touch", auth: termAuth, body: `{}`, status: 200, resp: sessionJSON}},
			code:  0, stdout: []string{"status:", "active"},
		},
		{
			name:  "logout",
			args:  []string{"session", "logout", "ses_1", "--terminal-token", "term-tok"},
			calls: []call{{method: "DELETE", path: "/v1/sessions/ses_1", auth: termAuth, status: 200, resp: `{"id":"ses_1","principal":"prn_1","identity":"alice","terminal":"trm_1","status":"ended","started_at":"2025-03-01T09:30:00Z","locked_at":null,"ended_at":"2025-03-01T10:00:00Z","standalone":false,"end_reason":"logout"}`}},
			code:  0, stdout: []string{"ended", "end_reason:", "logout"},
		},
		{
			name:      "show with a user token",
			args:      []string{"session", "show", "ses_1", "--json"},
			tokenFile: "tok",
			calls:     []call{{method: "GET", path: "/v1/sessions/ses_1", auth: userAuth, status: 200, resp: sessionJSON}},
			code:      0,
			jsonOut:   sessionJSON,
		},
	})
}

func TestEventsAndAudit(t *testing.T) {
	runAll(t, []cliTest{
		{
			name:   "post event 26",
			args:   []string{"events", "post", "--terminal", "trm_1", "--event", "26", "--reason", "invalid_credentials", "--identity", "alice", "--occurred-at", "2025-03-01T09:30:00+01:00", "--id", "ev-1", "--terminal-token", "term-tok"},
			calls:  []call{{method: "POST", path: "/v1/terminals/trm_1/events", auth: termAuth, body: `{"events":[{"id":"ev-1","event":26,"occurred_at":"2025-03-01T08:30:00Z","identity":"alice","reason":"invalid_credentials"}]}`, status: 202, resp: `{"accepted":1}`}},
			code:   0,
			stdout: []string{"accepted 1"},
		},
		{
			name:    "post event 24 now",
			args:    []string{"events", "post", "--terminal", "trm_1", "--event", "24", "--json"},
			env:     map[string]string{"LATCHKEY_TERMINAL_TOKEN": "term-tok"},
			calls:   []call{{method: "POST", path: "/v1/terminals/trm_1/events", auth: termAuth, body: `{"events":[{"event":24,"occurred_at":"<time>"}]}`, status: 202, resp: `{"accepted":1}`}},
			code:    0,
			jsonOut: `{"accepted":1}`,
		},
		{name: "tail bad targets", args: []string{"events", "tail", "--targets", "a,,b", "--token", "tok"}, code: 1, stderr: []string{"targets has an empty entry"}},
		{name: "post bad event", args: []string{"events", "post", "--terminal", "trm_1", "--event", "27"}, code: 2, stderr: []string{"--event must be 24, 25 or 26"}},
		{name: "post bad time", args: []string{"events", "post", "--terminal", "trm_1", "--event", "24", "--occurred-at", "yesterday"}, code: 2, stderr: []string{"--occurred-at"}},
		{
			name:   "audit list",
			args:   []string{"audit", "list", "--after", "5", "--limit", "2", "--action", "session.login", "--actor", "prn_1", "--token", "tok"},
			calls:  []call{{method: "GET", path: "/v1/audit", query: "action=session.login&actor=prn_1&after=5&limit=2", auth: userAuth, status: 200, resp: `{"items":[{"seq":6,"at":"2025-03-01T09:30:00Z","actor":"prn_1","terminal":"trm_1","action":"session.login","target":"ses_1","details":{"identity":"alice"},"prev_hash":"a","hash":"b"}],"next":"6"}`}},
			code:   0,
			stdout: []string{"SEQ", "6", "session.login", "ses_1", `{"identity":"alice"}`},
			stderr: []string{"--after 6"},
		},
		{
			name: "audit list newest, by terminal and time",
			args: []string{"audit", "list", "--before", "9", "--terminal", "trm_1", "--from", "2025-03-01T09:00:00Z", "--to", "2025-03-01T10:00:00Z", "--limit", "1", "--token", "tok"},
			calls: []call{{method: "GET", path: "/v1/audit", query: "before=9&from=2025-03-01T09%3A00%3A00Z&limit=1&terminal=trm_1&to=2025-03-01T10%3A00%3A00Z", auth: userAuth, status: 200,
				resp: `{"items":[{"seq":8,"at":"2025-03-01T09:30:00Z","actor":"prn_1","terminal":"trm_1","action":"session.lock","target":"ses_1","details":{},"prev_hash":"a","hash":"b"}],"next":"8"}`}},
			code:   0,
			stdout: []string{"SEQ", "8", "session.lock"},
			stderr: []string{"--before 8"},
		},
		{name: "audit list bad time", args: []string{"audit", "list", "--from", "yesterday", "--token", "tok"}, code: 2, stderr: []string{"--from must be a time in RFC 3339"}},
		{
			name:   "audit verify ok",
			args:   []string{"audit", "verify", "--token", "tok"},
			calls:  []call{{method: "GET", path: "/v1/audit/verify", auth: userAuth, status: 200, resp: `{"ok":true,"records":12}`}},
			code:   0,
			stdout: []string{"audit chain ok: 12 records"},
		},
		{
			name:   "audit verify broken",
			args:   []string{"audit", "verify", "--token", "tok"},
			calls:  []call{{method: "GET", path: "/v1/audit/verify", auth: userAuth, status: 200, resp: `{"ok":false,"records":3,"first_bad_seq":4}`}},
			code:   1,
			stdout: []string{"audit chain broken at seq 4"},
		},
		{
			name:    "audit verify broken --json",
			args:    []string{"audit", "verify", "--token", "tok", "--json"},
			calls:   []call{{method: "GET", path: "/v1/audit/verify", auth: userAuth, status: 200, resp: `{"ok":false,"records":3,"first_bad_seq":4}`}},
			code:    1,
			jsonOut: `{"ok":false,"records":3,"first_bad_seq":4}`,
			stderr:  []string{"audit chain broken at seq 4"},
		},
		{
			name:   "audit verify forbidden",
			args:   []string{"audit", "verify", "--token", "tok"},
			calls:  []call{{method: "GET", path: "/v1/audit/verify", auth: userAuth, status: 403, resp: `{"error":{"code":"forbidden","message":"admins only"}}`}},
			code:   1,
			stderr: []string{"latchkey: forbidden: admins only"},
		},
	})
}

func TestAuth(t *testing.T) {
	fileIs := func(want string) func(t *testing.T, path string) {
		return func(t *testing.T, path string) {
			t.Helper()
			b, err := os.ReadFile(path)
			if want == "" {
				if err == nil {
					t.Errorf("token file still there: %q", b)
				}
				return
			}
			if err != nil {
				t.Fatalf("token file: %v", err)
			}
			if strings.TrimSpace(string(b)) != want {
				t.Errorf("token file = %q, want %q", b, want)
			}
			if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
				t.Errorf("token file mode %v", fi.Mode().Perm())
			}
			if di, _ := os.Stat(filepath.Dir(path)); di.Mode().Perm() != 0o700 {
				t.Errorf("token dir mode %v", di.Mode().Perm())
			}
		}
	}
	runAll(t, []cliTest{
		{
			name:      "login saves the token and does not print it",
			args:      []string{"auth", "login", "--identity", "admin"},
			env:       map[string]string{"LATCHKEY_PASSWORD": "pw"},
			calls:     []call{{method: "POST", path: "/v1/auth/login", body: `{"identity":"admin","password":"pw"}`, status: 200, resp: tokenJSON}},
			code:      0,
			stdout:    []string{"logged in as admin (prn_0, admin) until 2025-03-01T21:30:00Z", "token saved to"},
			notStdout: []string{"secret-user-token"},
			check:     fileIs("secret-user-token"),
		},
		{
			name:      "login --json hides the token",
			args:      []string{"auth", "login", "--identity", "admin", "--password-stdin", "--json"},
			stdin:     "pw\n",
			tokenFile: "old-token",
			calls:     []call{{method: "POST", path: "/v1/auth/login", body: `{"identity":"admin","password":"pw"}`, status: 200, resp: tokenJSON}},
			code:      0,
			jsonOut:   `{"expires_at":"2025-03-01T21:30:00Z","principal":{"id":"prn_0","name":"admin","role":"admin"}}`,
			check:     fileIs("secret-user-token"),
		},
		{
			name:    "login --json --print-token",
			args:    []string{"auth", "login", "--identity", "admin", "--json", "--print-token"},
			env:     map[string]string{"LATCHKEY_PASSWORD": "pw"},
			calls:   []call{{method: "POST", path: "/v1/auth/login", body: `{"identity":"admin","password":"pw"}`, status: 200, resp: tokenJSON}},
			code:    0,
			jsonOut: tokenJSON,
		},
		{
			name:   "login refused",
			args:   []string{"auth", "login", "--identity", "admin"},
			env:    map[string]string{"LATCHKEY_PASSWORD": "bad"},
			calls:  []call{{method: "POST", path: "/v1/auth/login", body: `{"identity":"admin","password":"bad"}`, status: 401, resp: `{"error":{"code":"invalid_credentials","message":"wrong identity or password"}}`}},
			code:   1,
			stderr: []string{"latchkey: invalid_credentials: wrong identity or password"},
			check:  fileIs(""),
		},
		{name: "login needs an identity", args: []string{"auth", "login"}, code: 2},
		{name: "login without a password", args: []string{"auth", "login", "--identity", "admin"}, code: 2, stderr: []string{"no password"}},
		{
			name:      "logout revokes and forgets the saved token",
			args:      []string{"auth", "logout"},
			tokenFile: "tok\n",
			calls:     []call{{method: "POST", path: "/v1/auth/logout", auth: userAuth, status: 204}},
			code:      0,
			stdout:    []string{"logged out"},
			check:     fileIs(""),
		},
		{
			name:      "logout with an expired token",
			args:      []string{"auth", "logout"},
			tokenFile: "tok\n",
			calls:     []call{{method: "POST", path: "/v1/auth/logout", auth: userAuth, status: 401, resp: `{"error":{"code":"unauthenticated","message":"expired"}}`}},
			code:      0,
			check:     fileIs(""),
		},
		{
			name:      "logout keeps the file when the server is unreachable",
			args:      []string{"auth", "logout", "--server", "http://127.0.0.1:1"},
			tokenFile: "tok\n",
			code:      1,
			stderr:    []string{"latchkey: "},
			check:     fileIs("tok"),
		},
		{name: "logout when not logged in", args: []string{"auth", "logout"}, code: 0, stderr: []string{"not logged in"}},
	})
}

func TestTokenFileLocation(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("LATCHKEY_TOKEN_FILE", "")
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "xdg"))
	if p, _ := tokenFile(); p != filepath.Join(dir, "xdg", "latchkey", "token") {
		t.Errorf("XDG token file = %s", p)
	}
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("HOME", dir)
	if p, _ := tokenFile(); p != filepath.Join(dir, ".config", "latchkey", "token") {
		t.Errorf("home token file = %s", p)
	}
	t.Setenv("LATCHKEY_TOKEN_FILE", filepath.Join(dir, "t"))
	if p, _ := tokenFile(); p != filepath.Join(dir, "t") {
		t.Errorf("explicit token file = %s", p)
	}
}
