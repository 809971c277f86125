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
			{"no auth", "POST", "/v1/terminals/" + t0.ID + "/sessions", "", "application/json",
				`{"identity":"alice","password":"` + pw("alice") + `","time_sent":"` + now + `"}`, 401, "unauthenticated", ""},
			{"bad token", "POST", "/v1/sessions/" + a.Session.ID + "/lock", "lkt_forged", "application/json",
				`{"time_sent":"` + now + `","reason":"manual"}`, 401, "unauthenticated", ""},
			{"bad json", "POST", "/v1/terminals/" + t0.ID + "/sessions", t0.Token, "application/json",
				`{"identity":"alice",`, 400, "bad_request", ""},
			{"wrong type", "POST", "/v1/terminals/" + t0.ID + "/sessions", t0.Token, "application/json",
				`{"identity":42,"password":"` + pw("alice") + `","time_sent":"` + now + `"}`, 400, "bad_request", "identity"},
			{"wrong type force", "POST", "/v1/terminals/" + t0.ID + "/sessions", t0.Token, "application/json",
				`{"identity":"alice","password":"` + pw("alice") + `","force":"yes","time_sent":"` + now + `"}`, 400, "bad_request", "force"},
			{"unknown field", "POST", "/v1/terminals/" + t0.ID + "/sessions", t0.Token, "application/json",
				`{"identity":"alice","password":"` + pw("alice") + `","time_sent":"` + now + `","admin":true}`, 400, "bad_request", "admin"},
			{"missing time_sent", "POST", "/v1/terminals/" + t0.ID + "/sessions", t0.Token, "application/json",
				`{"identity":"alice","password":"` + pw("alice") + `"}`, 400, "bad_request", "time_sent"},
			{"bad time", "POST", "/v1/sessions/" + a.Session.ID + "/lock", t0.Token, "application/json",
				`{"time_sent":"yesterday","reason":"manual"}`, 400, "bad_request", "time_sent"},
			{"bad lock reason", "POST", "/v1/sessions/" + a.Session.ID + "/lock", t0.Token, "application/json",
				`{"time_sent":"` + now + `","reason":"lunch"}`, 400, "bad_request", "reason"},
			{"huge body", "POST", "/v1/terminals/" + t0.ID + "/sessions", t0.Token, "application/json", huge, 400, "bad_request", ""},
			{"trailing garbage", "POST", "/v1/sessions/" + a.Session.ID + "/lock", t0.Token, "application/json",
				`{"time_sent":"` + now + `","reason":"manual"} {}`, 400, "bad_request", ""},
			{"not json", "POST", "/v1/sessions/" + a.Session.ID + "/lock", t0.Token, "text/plain",
				`time_sent=now`, 400, "bad_request", ""},
			{"another terminal's session", "POST", "/v1/sessions/" + a.Session.ID + "/lock", t1.Token, "application/json",
				`{"time_sent":"` + now + `","reason":"manual"}`, 403, "forbidden", ""},
			{"another terminal's logout", "DELETE", "/v1/sessions/" + a.Session.ID, t1.Token, "", "", 403, "forbidden", ""},
			{"log on at another terminal", "POST", "/v1/terminals/" + t0.ID + "/sessions", t1.Token, "application/json",
				`{"identity":"bob","password":"` + pw("bob") + `","time_sent":"` + now + `"}`, 403, "forbidden", ""},
			{"terminal token on admin route", "POST", "/v1/principals", t0.Token, "application/json",
				`{"name":"eve","role":"admin"}`, 403, "forbidden", ""},
			{"user token on terminal route", "POST", "/v1/terminals/" + t0.ID + "/sessions", adminTok, "application/json",
				`{"identity":"bob","password":"` + pw("bob") + `","time_sent":"` + now + `"}`, 403, "forbidden", ""},
			{"unknown session", "POST", "/v1/sessions/ses_nope/lock", t0.Token, "application/json",
				`{"time_sent":"` + now + `","reason":"manual"}`, 404, "not_found", ""},
			{"sql metacharacters in identity", "POST", "/v1/terminals/" + t0.ID + "/sessions", t0.Token, "application/json",
				`{"identity":"alice' OR '1'='1","password":"x' OR '1'='1","time_sent":"` + now + `"}`, 401, "invalid_credentials", ""},
			{"control characters in name", "POST", "/v1/sites", adminTok, "application/json",
				`{"name":"a\u0000b"}`, 400, "bad_request", "name"},
			{"bad role", "POST", "/v1/principals", adminTok, "application/json",
				`{"name":"eve","role":"root"}`, 400, "bad_request", "role"},
			{"bad event", "POST", "/v1/terminals/" + t0.ID + "/events", t0.Token, "application/json",
				`{"events":[{"event":99,"occurred_at":"` + now + `"}]}`, 400, "bad_request", "events[0].event"},
			{"bad limit", "GET", "/v1/principals?limit=abc", adminTok, "", "", 400, "bad_request", "limit"},
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
