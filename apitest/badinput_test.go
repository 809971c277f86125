package apitest_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"latchkey"
	"latchkey/client"
	"latchkey/sqlstore/sqlstoretest"
)

// TestHostileInput sends malformed and hostile requests to a real server
// and checks each gets its 4xx with the API's error shape and changes
// nothing.
func TestHostileInput(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 2)
		a := w.mustLogin(0, "alice", false)
		now := w.clock.Now().Format(time.RFC3339)
		t0, t1 := w.terms[0], w.terms[1]
		adminTok := w.admin.Token()
		huge := `{"identity":"alice","password":"` + strings.Repeat("x", 2<<20) + `","time_sent":"` + now + `"}`
		cases := []struct {
			name, method, path, token, ctype, body string
			status                                 int
			code, field                            string
		}{
			{name: "no auth", method: "POST", path: "/v1/terminals/" + t0.ID + "/sessions", token: "", ctype: "application/json",
				body: `{"identity":"alice","password":"` + pw("alice") + `","time_sent":"` + now + `"}`, status: 401, code: "unauthenticated", field: ""},
			{name: "bad token", method: "POST", path: "/v1/sessions/" + a.Session.ID + "/lock", token: "lkt_forged", ctype: "application/json",
				body: `{"time_sent":"` + now + `","reason":"manual"}`, status: 401, code: "unauthenticated", field: ""},
			{name: "bad json", method: "POST", path: "/v1/terminals/" + t0.ID + "/sessions", token: t0.Token, ctype: "application/json",
				body: `{"identity":"alice",`, status: 400, code: "bad_request", field: ""},
			{name: "wrong type", method: "POST", path: "/v1/terminals/" + t0.ID + "/sessions", token: t0.Token, ctype: "application/json",
				body: `{"identity":42,"password":"` + pw("alice") + `","time_sent":"` + now + `"}`, status: 400, code: "bad_request", field: "identity"},
			{name: "wrong type force", method: "POST", path: "/v1/terminals/" + t0.ID + "/sessions", token: t0.Token, ctype: "application/json",
				body: `{"identity":"alice","password":"` + pw("alice") + `","force":"yes","time_sent":"` + now + `"}`, status: 400, code: "bad_request", field: "force"},
			{name: "unknown field", method: "POST", path: "/v1/terminals/" + t0.ID + "/sessions", token: t0.Token, ctype: "application/json",
				body: `{"identity":"alice","password":"` + pw("alice") + `","time_sent":"` + now + `","admin":true}`, status: 400, code: "bad_request", field: "admin"},
			{name: "missing time_sent", method: "POST", path: "/v1/terminals/" + t0.ID + "/sessions", token: t0.Token, ctype: "application/json",
				body: `{"identity":"alice","password":"` + pw("alice") + `"}`, status: 400, code: "bad_request", field: "time_sent"},
			{name: "bad time", method: "POST", path: "/v1/sessions/" + a.Session.ID + "/lock", token: t0.Token, ctype: "application/json",
				body: `{"time_sent":"yesterday","reason":"manual"}`, status: 400, code: "bad_request", field: "time_sent"},
			{name: "bad lock reason", method: "POST", path: "/v1/sessions/" + a.Session.ID + "/lock", token: t0.Token, ctype: "application/json",
				body: `{"time_sent":"` + now + `","reason":"lunch"}`, status: 400, code: "bad_request", field: "reason"},
			{name: "huge body", method: "POST", path: "/v1/terminals/" + t0.ID + "/sessions", token: t0.Token, ctype: "application/json", body: huge, status: 400, code: "bad_request", field: ""},
			{name: "trailing garbage", method: "POST", path: "/v1/sessions/" + a.Session.ID + "/lock", token: t0.Token, ctype: "application/json",
				body: `{"time_sent":"` + now + `","reason":"manual"} {}`, status: 400, code: "bad_request", field: ""},
			{name: "not json", method: "POST", path: "/v1/sessions/" + a.Session.ID + "/lock", token: t0.Token, ctype: "text/plain",
				body: `time_sent=now`, status: 400, code: "bad_request", field: ""},
			{name: "another terminal's session", method: "POST", path: "/v1/sessions/" + a.Session.ID + "/lock", token: t1.Token, ctype: "application/json",
				body: `{"time_sent":"` + now + `","reason":"manual"}`, status: 403, code: "forbidden", field: ""},
			{name: "another terminal's logout", method: "DELETE", path: "/v1/sessions/" + a.Session.ID, token: t1.Token, ctype: "", body: "", status: 403, code: "forbidden", field: ""},
			{name: "log on at another terminal", method: "POST", path: "/v1/terminals/" + t0.ID + "/sessions", token: t1.Token, ctype: "application/json",
				body: `{"identity":"bob","password":"` + pw("bob") + `","time_sent":"` + now + `"}`, status: 403, code: "forbidden", field: ""},
			{name: "terminal token on admin route", method: "POST", path: "/v1/principals", token: t0.Token, ctype: "application/json",
				body: `{"name":"eve","role":"admin"}`, status: 403, code: "forbidden", field: ""},
			{name: "user token on terminal route", method: "POST", path: "/v1/terminals/" + t0.ID + "/sessions", token: adminTok, ctype: "application/json",
				body: `{"identity":"bob","password":"` + pw("bob") + `","time_sent":"` + now + `"}`, status: 403, code: "forbidden", field: ""},
			{name: "unknown session", method: "POST", path: "/v1/sessions/ses_nope/lock", token: t0.Token, ctype: "application/json",
				body: `{"time_sent":"` + now + `","reason":"manual"}`, status: 404, code: "not_found", field: ""},
			{name: "sql metacharacters in identity", method: "POST", path: "/v1/terminals/" + t0.ID + "/sessions", token: t0.Token, ctype: "application/json",
				body: `{"identity":"alice' OR '1'='1","password":"x' OR '1'='1","time_sent":"` + now + `"}`, status: 401, code: "invalid_credentials", field: ""},
			{name: "control characters in name", method: "POST", path: "/v1/sites", token: adminTok, ctype: "application/json",
				body: `{"name":"a\u0000b"}`, status: 400, code: "bad_request", field: "name"},
			{name: "bad role", method: "POST", path: "/v1/principals", token: adminTok, ctype: "application/json",
				body: `{"name":"eve","role":"root"}`, status: 400, code: "bad_request", field: "role"},
			{name: "bad event", method: "POST", path: "/v1/terminals/" + t0.ID + "/events", token: t0.Token, ctype: "application/json",
				body: `{"events":[{"event":99,"occurred_at":"` + now + `"}]}`, status: 400, code: "bad_request", field: "events[0].event"},
			{name: "bad limit", method: "GET", path: "/v1/principals?limit=abc", token: adminTok, ctype: "", body: "", status: 400, code: "bad_request", field: "limit"},
			// The audit list's query (latchkey.ParseAuditQuery), its filters
			// beyond API.md included.
			{name: "audit: bad from", method: "GET", path: "/v1/audit?from=yesterday", token: adminTok, status: 400, code: "bad_request", field: "from"},
			{name: "audit: from after to", method: "GET", path: "/v1/audit?from=2026-12-04T10:00:00Z&to=2026-12-04T09:00:00Z", token: adminTok, status: 400, code: "bad_request", field: "to"},
			{name: "audit: bad before", method: "GET", path: "/v1/audit?before=-2", token: adminTok, status: 400, code: "bad_request", field: "before"},
			{name: "audit: negative limit", method: "GET", path: "/v1/audit?limit=-1", token: adminTok, status: 400, code: "bad_request", field: "limit"},
			{name: "audit: unknown action", method: "GET", path: "/v1/audit?action=x%27%20OR%201=1", token: adminTok, status: 400, code: "bad_request", field: "action"},
			{name: "audit: bad order", method: "GET", path: "/v1/audit?order=sideways", token: adminTok, status: 400, code: "bad_request", field: "order"},
		}
		for _, c := range cases {
			before := w.snapshot()
			req, err := http.NewRequest(c.method, w.url+c.path, strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			if c.token != "" {
				req.Header.Set("Authorization", "Bearer "+c.token)
			}
			if c.ctype != "" {
				req.Header.Set("Content-Type", c.ctype)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var shape struct {
				Error struct {
					Code    string         `json:"code"`
					Message string         `json:"message"`
					Details map[string]any `json:"details"`
				} `json:"error"`
			}
			dec := json.NewDecoder(bytes.NewReader(body))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&shape); err != nil {
				t.Errorf("%s: body %q is not the error shape: %v", c.name, body, err)
				continue
			}
			if resp.StatusCode != c.status || shape.Error.Code != c.code || shape.Error.Message == "" {
				t.Errorf("%s: got %d %s (%s), want %d %s", c.name, resp.StatusCode, shape.Error.Code, shape.Error.Message, c.status, c.code)
			}
			if c.field != "" && shape.Error.Details["field"] != c.field {
				t.Errorf("%s: details.field = %v, want %q", c.name, shape.Error.Details["field"], c.field)
			}
			w.assertUnchanged(before, c.name)
		}
		// SQL metacharacters in names are stored verbatim, not executed.
		evil := `Robert'); DROP TABLE principals;--`
		p, err := w.admin.CreatePrincipal(t.Context(), latchkey.Principal{Name: evil, Role: latchkey.RoleUser})
		if err != nil || p.Name != evil {
			t.Fatalf("create with metacharacters: %+v %v", p, err)
		}
		if got, err := w.admin.GetPrincipal(t.Context(), p.ID); err != nil || got.Name != evil {
			t.Fatalf("read back: %+v %v", got, err)
		}
	})
}

// TestIdempotencyNeverStoresTokens: answers that carry a bearer token are
// never kept for replay (tokens are stored only hashed); every other
// mutating call replays its first answer for a repeated key.
func TestIdempotencyNeverStoresTokens(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 1)
		post := func(path, token, key, body string) (int, string) {
			req, _ := http.NewRequest("POST", w.url+path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", key)
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			out, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(out)
		}
		body := `{"name":"kiosk","site":"` + w.site.ID + `"}`
		if code, out := post("/v1/terminals", w.admin.Token(), "k1", body); code != 400 || !strings.Contains(out, "Idempotency-Key") {
			t.Fatalf("register with a key: %d %s", code, out)
		}
		c1, out1 := post("/v1/auth/login", "", "k2", `{"identity":"alice","password":"`+pw("alice")+`"}`)
		c2, out2 := post("/v1/auth/login", "", "k2", `{"identity":"alice","password":"`+pw("alice")+`"}`)
		if c1 != 200 || c2 != 200 || out1 == out2 {
			t.Fatalf("logins with one key: %d %d, same answer %v (a replay would hold a token)", c1, c2, out1 == out2)
		}
		// An ordinary create replays.
		c1, out1 = post("/v1/sites", w.admin.Token(), "k3", `{"name":"annex"}`)
		c2, out2 = post("/v1/sites", w.admin.Token(), "k3", `{"name":"annex"}`)
		if c1 != 201 || c2 != 201 || out1 != out2 {
			t.Fatalf("site create replay: %d %d\n%s\n%s", c1, c2, out1, out2)
		}
		sites, _, _ := w.admin.ListSites(t.Context(), latchkey.Page{})
		if len(sites) != 2 {
			t.Fatalf("%d sites after a replayed create, want 2", len(sites))
		}
	})
}
