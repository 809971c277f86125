package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"latchkey"
	"latchkey/client"
)

// exchange is one expected request and the canned answer to it.
type exchange struct {
	method string
	path   string // escaped path, as on the wire
	query  string // raw query, "" for none
	body   string // expected JSON body, "" for none
	status int
	resp   string
}

// fakeServer answers exactly one request, checking it against x.
func fakeServer(t *testing.T, x exchange, token string) *httptest.Server {
	t.Helper()
	var calls int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if r.Method != x.method {
			t.Errorf("method = %s, want %s", r.Method, x.method)
		}
		if r.URL.EscapedPath() != x.path {
			t.Errorf("path = %s, want %s", r.URL.EscapedPath(), x.path)
		}
		if r.URL.RawQuery != x.query {
			t.Errorf("query = %q, want %q", r.URL.RawQuery, x.query)
		}
		wantAuth := ""
		if token != "" {
			wantAuth = "Bearer " + token
		}
		if got := r.Header.Get("Authorization"); got != wantAuth {
			t.Errorf("Authorization = %q, want %q", got, wantAuth)
		}
		b, _ := io.ReadAll(r.Body)
		if x.body == "" {
			if len(b) != 0 {
				t.Errorf("body = %s, want none", b)
			}
		} else {
			if ct := r.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			assertJSON(t, "request body", string(b), x.body)
		}
		if x.resp != "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(x.status)
		io.WriteString(w, x.resp)
	}))
	t.Cleanup(func() {
		srv.Close()
		if calls != 1 {
			t.Errorf("server saw %d requests, want 1", calls)
		}
	})
	return srv
}

func assertJSON(t *testing.T, what, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Errorf("%s: %v in %s", what, err, got)
		return
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%s: bad expectation %s: %v", what, want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s = %s, want %s", what, got, want)
	}
}

// asJSON re-encodes v so results can be compared with the canned answer.
func asJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var t0 = time.Date(2025, 3, 1, 9, 30, 0, 0, time.UTC)

const (
	sessionJSON   = `{"id":"ses_1","principal":"prn_1","identity":"alice","terminal":"trm_1","status":"active","started_at":"2025-03-01T09:30:00Z","locked_at":null,"ended_at":null,"standalone":false,"last_activity_at":"2025-03-01T09:30:00Z","ends_at":null,"warn_at":null}`
	siteJSON      = `{"id":"site_1","name":"Main St","timezone":"UTC","concurrency_controls":true,"allow_standalone":true,"standalone_auth":"cached","standalone_quotas":"snapshot","max_session_minutes":0,"daily_quota_minutes":0,"inactivity_lock_minutes":5,"forced_timeout_minutes":0,"warning_seconds":60,"max_reservations_per_user":3,"max_booking_days_ahead":14,"transaction_on_lock":"pause","created_at":"2025-03-01T09:30:00Z"}`
	principalJSON = `{"id":"prn_1","name":"Alice","role":"user","global":false,"disabled":false,"created_at":"2025-03-01T09:30:00Z"}`
	terminalJSON  = `{"id":"trm_1","name":"Counter 1","site":"site_1","created_at":"2025-03-01T09:30:00Z","online":false,"standalone":false,"locked_groups":[]}`
)

func TestCalls(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		x    exchange
		call func(ctx context.Context, c *client.Client) (any, error)
		want string // JSON of the result; "" to skip
	}{
		{
			name: "health",
			x:    exchange{method: "GET", path: "/healthz", status: 200, resp: `{"ok":true}`},
			call: func(ctx context.Context, c *client.Client) (any, error) { return nil, c.Health(ctx) },
		},
		{
			name: "ready",
			x:    exchange{method: "GET", path: "/readyz", status: 200},
			call: func(ctx context.Context, c *client.Client) (any, error) { return nil, c.Ready(ctx) },
		},
		{
			name: "login",
			x: exchange{method: "POST", path: "/v1/auth/login", body: `{"identity":"alice","password":"pw"}`,
				status: 200, resp: `{"token":"tok","expires_at":"2025-03-01T21:30:00Z","principal":{"id":"prn_1","name":"Alice","role":"user"}}`},
			call: func(ctx context.Context, c *client.Client) (any, error) { return c.Login(ctx, "alice", "pw") },
			want: `{"token":"tok","expires_at":"2025-03-01T21:30:00Z","principal":{"id":"prn_1","name":"Alice","role":"user"}}`,
		},
		{
			name: "logout",
			x:    exchange{method: "POST", path: "/v1/auth/logout", status: 204},
			call: func(ctx context.Context, c *client.Client) (any, error) { return nil, c.Logout(ctx) },
		},
		{
			name: "create principal",
			x: exchange{method: "POST", path: "/v1/principals", body: `{"name":"Alice","role":"user","global":true,"disabled":false}`,
				status: 201, resp: principalJSON},
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.CreatePrincipal(ctx, latchkey.Principal{ID: "ignored", Name: "Alice", Role: latchkey.RoleUser, Global: true})
			},
			want: principalJSON,
		},
		{
			name: "get principal escapes id",
			x:    exchange{method: "GET", path: "/v1/principals/a%2Fb", status: 200, resp: principalJSON},
			call: func(ctx context.Context, c *client.Client) (any, error) { return c.GetPrincipal(ctx, "a/b") },
			want: principalJSON,
		},
		{
			name: "list principals",
			x: exchange{method: "GET", path: "/v1/principals", query: "after=prn_0&limit=2", status: 200,
				resp: `{"items":[` + principalJSON + `],"next":"prn_1"}`},
			call: func(ctx context.Context, c *client.Client) (any, error) {
				items, next, err := c.ListPrincipals(ctx, latchkey.Page{Limit: 2, After: "prn_0"})
				return map[string]any{"items": items, "next": next}, err
			},
			want: `{"items":[` + principalJSON + `],"next":"prn_1"}`,
		},
		{
			name: "update principal sends only set fields",
			x:    exchange{method: "PATCH", path: "/v1/principals/prn_1", body: `{"disabled":true}`, status: 200, resp: principalJSON},
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.UpdatePrincipal(ctx, "prn_1", latchkey.PrincipalUpdate{Disabled: client.Ptr(true)})
			},
			want: principalJSON,
		},
		{
			name: "add identity",
			x: exchange{method: "POST", path: "/v1/principals/prn_1/identities", body: `{"login":"alice","password":"pw"}`,
				status: 201, resp: `{"login":"alice","principal":"prn_1","created_at":"2025-03-01T09:30:00Z"}`},
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.AddIdentity(ctx, "prn_1", "alice", "pw")
			},
			want: `{"login":"alice","principal":"prn_1","created_at":"2025-03-01T09:30:00Z"}`,
		},
		{
			name: "change password",
			x: exchange{method: "POST", path: "/v1/identities/al%20ice/password", body: `{"old_password":"a","new_password":"b"}`,
				status: 204},
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return nil, c.ChangePassword(ctx, "al ice", "a", "b")
			},
		},
		{
			name: "create site sends only set fields",
			x: exchange{method: "POST", path: "/v1/sites", body: `{"name":"Main St","inactivity_lock_minutes":5,"concurrency_controls":false}`,
				status: 201, resp: siteJSON},
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.CreateSite(ctx, client.SiteCreate{Name: "Main St", SiteSettings: latchkey.SiteSettings{InactivityLockMinutes: client.Ptr(5), ConcurrencyControls: client.Ptr(false)}})
			},
			want: siteJSON,
		},
		{
			name: "create full site",
			x: exchange{method: "POST", path: "/v1/sites",
				body:   `{"name":"X","timezone":"UTC","concurrency_controls":true,"allow_standalone":true,"standalone_auth":"cached","standalone_quotas":"snapshot","max_session_minutes":0,"daily_quota_minutes":0,"inactivity_lock_minutes":0,"forced_timeout_minutes":0,"warning_seconds":60,"max_reservations_per_user":3,"max_booking_days_ahead":14,"transaction_on_lock":"pause"}`,
				status: 201, resp: siteJSON},
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.CreateSite(ctx, client.FullSite(latchkey.DefaultSite("X")))
			},
		},
		{
			name: "get site",
			x:    exchange{method: "GET", path: "/v1/sites/site_1", status: 200, resp: siteJSON},
			call: func(ctx context.Context, c *client.Client) (any, error) { return c.GetSite(ctx, "site_1") },
			want: siteJSON,
		},
		{
			name: "list sites",
			x:    exchange{method: "GET", path: "/v1/sites", status: 200, resp: `{"items":[` + siteJSON + `],"next":""}`},
			call: func(ctx context.Context, c *client.Client) (any, error) {
				items, next, err := c.ListSites(ctx, latchkey.Page{})
				return map[string]any{"items": items, "next": next}, err
			},
			want: `{"items":[` + siteJSON + `],"next":""}`,
		},
		{
			name: "update site",
			x:    exchange{method: "PATCH", path: "/v1/sites/site_1", body: `{"timezone":"Europe/Paris","warning_seconds":0}`, status: 200, resp: siteJSON},
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.UpdateSite(ctx, "site_1", latchkey.SiteUpdate{SiteSettings: latchkey.SiteSettings{Timezone: client.Ptr("Europe/Paris"), WarningSeconds: client.Ptr(0)}})
			},
			want: siteJSON,
		},
		{
			name: "register terminal",
			x: exchange{method: "POST", path: "/v1/terminals", body: `{"name":"Counter 1","site":"site_1"}`,
				status: 201, resp: `{"id":"trm_1","name":"Counter 1","site":"site_1","created_at":"2025-03-01T09:30:00Z","token":"ttok","online":false,"standalone":false,"locked_groups":null}`},
			call: func(ctx context.Context, c *client.Client) (any, error) {
				tm, err := c.RegisterTerminal(ctx, "Counter 1", "site_1")
				if err != nil {
					return nil, err
				}
				return tm.Token, nil
			},
			want: `"ttok"`,
		},
		{
			name: "get terminal",
			x:    exchange{method: "GET", path: "/v1/terminals/trm_1", status: 200, resp: terminalJSON},
			call: func(ctx context.Context, c *client.Client) (any, error) { return c.GetTerminal(ctx, "trm_1") },
			want: terminalJSON,
		},
		{
			name: "list terminals",
			x:    exchange{method: "GET", path: "/v1/terminals", query: "limit=10", status: 200, resp: `{"items":[` + terminalJSON + `],"next":""}`},
			call: func(ctx context.Context, c *client.Client) (any, error) {
				items, _, err := c.ListTerminals(ctx, latchkey.Page{Limit: 10})
				return items, err
			},
			want: `[` + terminalJSON + `]`,
		},
		{
			name: "start session",
			x: exchange{method: "POST", path: "/v1/terminals/trm_1/sessions",
				body:   `{"identity":"alice","password":"pw","force":true,"time_sent":"2025-03-01T09:30:00Z"}`,
				status: 201, resp: `{"session":` + sessionJSON + `,"failed":["ses_0"]}`},
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.StartSession(ctx, "trm_1", latchkey.LoginRequest{Identity: "alice", Password: "pw", Force: true,
					TimeSent: t0.In(time.FixedZone("x", 3600))})
			},
			want: `{"session":` + sessionJSON + `,"failed":["ses_0"]}`,
		},
		{
			name: "get session",
			x:    exchange{method: "GET", path: "/v1/sessions/ses_1", status: 200, resp: sessionJSON},
			call: func(ctx context.Context, c *client.Client) (any, error) { return c.GetSession(ctx, "ses_1") },
			want: sessionJSON,
		},
		{
			name: "lock session",
			x: exchange{method: "POST", path: "/v1/sessions/ses_1/lock", body: `{"time_sent":"2025-03-01T09:30:00Z","reason":"manual"}`,
				status: 200, resp: sessionJSON},
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.LockSession(ctx, "ses_1", latchkey.LockRequest{TimeSent: t0, Reason: "manual"})
			},
			want: sessionJSON,
		},
		{
			name: "unlock session",
			x: exchange{method: "POST", path: "/v1/sessions/ses_1/unlock",
				body:   `{"identity":"alice","password":"pw","force":false,"time_sent":"2025-03-01T09:30:00Z"}`,
				status: 200, resp: sessionJSON},
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.UnlockSession(ctx, "ses_1", latchkey.UnlockRequest{Identity: "alice", Password: "pw", TimeSent: t0})
			},
			want: sessionJSON,
		},
		{
			name: "touch session",
			x:    exchange{method: "POST", path: "/v1/sessions/ses_1/touch", body: `{}`, status: 200, resp: sessionJSON},
			call: func(ctx context.Context, c *client.Client) (any, error) { return c.TouchSession(ctx, "ses_1") },
			want: sessionJSON,
		},
		{
			name: "end session",
			x:    exchange{method: "DELETE", path: "/v1/sessions/ses_1", status: 200, resp: sessionJSON},
			call: func(ctx context.Context, c *client.Client) (any, error) { return c.EndSession(ctx, "ses_1") },
			want: sessionJSON,
		},
		{
			name: "post events",
			x: exchange{method: "POST", path: "/v1/terminals/trm_1/events",
				body:   `{"events":[{"id":"e1","event":26,"occurred_at":"2025-03-01T09:30:00Z","identity":"alice","reason":"invalid_credentials"},{"event":24,"occurred_at":"2025-03-01T09:30:00Z"}]}`,
				status: 202, resp: `{"accepted":2}`},
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.PostTerminalEvents(ctx, "trm_1", []latchkey.TerminalEvent{
					{ID: "e1", Event: 26, OccurredAt: t0, Identity: "alice", Reason: "invalid_credentials", TerminalID: "ignored", ReceivedAt: t0},
					{Event: 24, OccurredAt: t0},
				})
			},
			want: `2`,
		},
		{
			name: "list events",
			x: exchange{method: "GET", path: "/v1/terminals/trm_1/events", status: 200,
				resp: `{"items":[{"id":"e1","event":24,"occurred_at":"2025-03-01T09:30:00Z","received_at":"2025-03-01T09:30:00Z","terminal":"trm_1"}],"next":""}`},
			call: func(ctx context.Context, c *client.Client) (any, error) {
				items, _, err := c.ListTerminalEvents(ctx, "trm_1", latchkey.Page{})
				return items, err
			},
			want: `[{"id":"e1","event":24,"occurred_at":"2025-03-01T09:30:00Z","received_at":"2025-03-01T09:30:00Z","terminal":"trm_1"}]`,
		},
		{
			name: "principal sessions",
			x: exchange{method: "GET", path: "/v1/principals/prn_1/sessions", query: "status=active", status: 200,
				resp: `{"items":[` + sessionJSON + `],"next":""}`},
			call: func(ctx context.Context, c *client.Client) (any, error) {
				items, _, err := c.ListPrincipalSessions(ctx, "prn_1", latchkey.SessionActive, latchkey.Page{})
				return items, err
			},
			want: `[` + sessionJSON + `]`,
		},
		{
			name: "audit list",
			x: exchange{method: "GET", path: "/v1/audit", query: "action=session.login&actor=prn_1&after=7&limit=3", status: 200,
				resp: `{"items":[{"seq":8,"at":"2025-03-01T09:30:00Z","actor":"prn_1","action":"session.login","target":"ses_1","details":{"a":1},"prev_hash":"p","hash":"h"}],"next":8}`},
			call: func(ctx context.Context, c *client.Client) (any, error) {
				items, next, err := c.ListAudit(ctx, latchkey.AuditFilter{After: 7, Limit: 3, Actor: "prn_1", Action: "session.login"})
				return map[string]any{"items": items, "next": next}, err
			},
			want: `{"items":[{"seq":8,"at":"2025-03-01T09:30:00Z","actor":"prn_1","action":"session.login","target":"ses_1","details":{"a":1},"prev_hash":"p","hash":"h"}],"next":"8"}`,
		},
		{
			name: "audit verify broken",
			x:    exchange{method: "GET", path: "/v1/audit/verify", status: 200, resp: `{"ok":false,"records":0,"first_bad_seq":4}`},
			call: func(ctx context.Context, c *client.Client) (any, error) { return c.VerifyAudit(ctx) },
			want: `{"ok":false,"records":0,"first_bad_seq":4}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := fakeServer(t, tt.x, "tok")
			c := client.New(srv.URL+"/", client.WithToken("tok"), client.WithHTTPClient(srv.Client()))
			got, err := tt.call(context.Background(), c)
			if err != nil {
				t.Fatalf("error: %v", err)
			}
			if tt.want != "" {
				assertJSON(t, "result", asJSON(t, got), tt.want)
			}
		})
	}
}

func TestErrorShape(t *testing.T) {
	t.Parallel()
	srv := fakeServer(t, exchange{method: "POST", path: "/v1/terminals/trm_1/sessions",
		body:   `{"identity":"alice","password":"pw","force":false,"time_sent":"2025-03-01T09:30:00Z"}`,
		status: 409,
		resp: `{"error":{"code":"concurrent_session","message":"lock it there","details":{"sessions":[` +
			`{"id":"ses_9","terminal":"trm_2","identity":"alice","started_at":"2025-03-01T08:00:00Z","locked_at":null}]}}}`}, "")
	c := client.New(srv.URL)
	_, err := c.StartSession(context.Background(), "trm_1", latchkey.LoginRequest{Identity: "alice", Password: "pw", TimeSent: t0})
	if got := latchkey.ErrorCode(err); got != latchkey.ECONCURRENTSESSION {
		t.Fatalf("code = %q (%v), want concurrent_session", got, err)
	}
	if got := latchkey.ErrorMessage(err); got != "lock it there" {
		t.Errorf("message = %q", got)
	}
	refs := client.ConflictSessions(err)
	want := []latchkey.SessionRef{{ID: "ses_9", TerminalID: "trm_2", Identity: "alice", StartedAt: time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)}}
	if !reflect.DeepEqual(refs, want) {
		t.Errorf("ConflictSessions = %+v, want %+v", refs, want)
	}
}

func TestErrorDetails(t *testing.T) {
	t.Parallel()
	srv := fakeServer(t, exchange{method: "GET", path: "/v1/sites/nope", status: 404,
		resp: `{"error":{"code":"not_found","message":"site nope not found"}}`}, "")
	_, err := client.New(srv.URL).GetSite(context.Background(), "nope")
	if !client.IsNotFound(err) {
		t.Fatalf("err = %v, want not_found", err)
	}
	if client.ConflictSessions(err) != nil {
		t.Error("ConflictSessions of not_found is not nil")
	}
	var le *latchkey.Error
	if !errors.As(err, &le) || le.Details != nil {
		t.Errorf("err = %#v", err)
	}
}

func TestNonAPIError(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		status int
		resp   string
	}{
		{502, "<html>bad gateway</html>"},
		{500, `{"error":{}}`},
		{404, ""},
	} {
		srv := fakeServer(t, exchange{method: "GET", path: "/v1/sessions/s", status: tt.status, resp: tt.resp}, "")
		_, err := client.New(srv.URL).GetSession(context.Background(), "s")
		var se *client.StatusError
		if !errors.As(err, &se) || se.StatusCode != tt.status {
			t.Fatalf("status %d: err = %#v, want *StatusError", tt.status, err)
		}
		if latchkey.ErrorCode(err) != latchkey.EINTERNAL {
			t.Errorf("code = %q", latchkey.ErrorCode(err))
		}
		if !strings.Contains(err.Error(), "status "+itoa(tt.status)) {
			t.Errorf("error %q does not mention the status", err)
		}
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestBadSuccessBody(t *testing.T) {
	t.Parallel()
	srv := fakeServer(t, exchange{method: "GET", path: "/v1/sessions/s", status: 200, resp: "not json"}, "")
	if _, err := client.New(srv.URL).GetSession(context.Background(), "s"); err == nil {
		t.Fatal("no error for a malformed body")
	}
}

func TestIdempotencyKeyAndWithToken(t *testing.T) {
	t.Parallel()
	type seen struct{ auth, key string }
	ch := make(chan seen, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ch <- seen{r.Header.Get("Authorization"), r.Header.Get("Idempotency-Key")}
		w.WriteHeader(204)
	}))
	defer srv.Close()
	c := client.New(srv.URL, client.WithToken("user"))
	tc := c.WithToken("term")
	ctx := client.WithIdempotencyKey(context.Background(), "k-1")
	if err := tc.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	if got := <-ch; got != (seen{"Bearer term", "k-1"}) {
		t.Errorf("copy sent %+v", got)
	}
	if err := c.Logout(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := <-ch; got != (seen{"Bearer user", ""}) {
		t.Errorf("original sent %+v", got)
	}
	if c.Token() != "user" || tc.Token() != "term" {
		t.Errorf("tokens %q %q", c.Token(), tc.Token())
	}
}

func TestTransportError(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	err := client.New(url).Health(context.Background())
	if err == nil || latchkey.ErrorCode(err) != latchkey.EINTERNAL {
		t.Fatalf("err = %v", err)
	}
}
