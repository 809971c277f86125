package apitest_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"latchkey"
	"latchkey/client"
	"latchkey/sqlstore/sqlstoretest"
)

// TestStrictJSONKeys is hole 9's JSON half through the API on both stores:
// a duplicate key (encoding/json kept the last: a wrong password followed
// by the right one logged on) or a key in another case (encoding/json
// matched "Password" to password) is 400 bad_request naming the key, at
// any depth, and changes nothing, not even a failed-attempt count.
func TestStrictJSONKeys(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		ctx := context.Background()
		w := newWorld(t, b, client.SiteCreate{}, 1)
		now := w.clock.Now().Format(time.RFC3339)
		term := w.tc[0].Token()
		logon := "/v1/terminals/" + w.terms[0].ID + "/sessions"
		cases := []struct {
			token, method, path, body, field, reason string
		}{
			{token: term, method: "POST", path: logon, body: `{"identity":"bob","password":"wrong","password":"` + pw("bob") + `","time_sent":"` + now + `"}`, field: "password", reason: "duplicate_key"},
			{token: term, method: "POST", path: logon, body: `{"identity":"bob","Password":"` + pw("bob") + `","time_sent":"` + now + `"}`, field: "Password", reason: "wrong_case"},
			{token: term, method: "POST", path: logon, body: `{"identity":"bob","password":"` + pw("bob") + `","time_sent":"` + now + `","FORCE":true}`, field: "FORCE", reason: "wrong_case"},
			{token: term, method: "POST", path: "/v1/agent/journal", body: `{"entries":[{"id":"off-1","identity":"bob","started_at":"` + now + `","standalone":true,"Identity":"alice"}]}`, field: "entries[0].Identity", reason: "wrong_case"},
			{token: w.admin.Token(), method: "POST", path: "/v1/principals/" + w.bob.ID + "/identities", body: `{"login":"bob2","password":"bob2-password","login":"admin2"}`, field: "login", reason: "duplicate_key"},
			{token: w.admin.Token(), method: "PATCH", path: "/v1/principals/" + w.bob.ID, body: `{"Role":"admin"}`, field: "Role", reason: "wrong_case"},
			{token: w.admin.Token(), method: "PUT", path: "/v1/config/branding", body: `{"items":{"title":"a","title":"b"}}`, field: "items.title", reason: "duplicate_key"},
		}
		before := w.snapshot()
		for _, c := range cases {
			code, out := w.rawAs(c.token, c.method, c.path, c.body)
			var e struct {
				Error struct {
					Code    string         `json:"code"`
					Details map[string]any `json:"details"`
				} `json:"error"`
			}
			_ = json.Unmarshal([]byte(out), &e)
			if code != 400 || e.Error.Code != "bad_request" || e.Error.Details["field"] != c.field || e.Error.Details["reason"] != c.reason {
				t.Fatalf("%s %s %s: %d %s, want 400 naming %s (%s)", c.method, c.path, c.body, code, out, c.field, c.reason)
			}
		}
		w.assertUnchanged(before, "refused bodies")
		recs, _, err := w.admin.ListAudit(ctx, latchkey.AuditFilter{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if isRefusal(string(r.Action)) {
				t.Fatalf("a refused body reached the rules: %s %s", r.Action, r.Target)
			}
		}
		if p, err := w.admin.GetPrincipal(ctx, w.bob.ID); err != nil || p.Role != latchkey.RoleUser {
			t.Fatalf("bob: %+v %v", p, err)
		}
		if c, err := w.admin.GetConfig(ctx, "branding"); err != nil || c.Version != 0 {
			t.Fatalf("config: %+v %v", c, err)
		}
		if _, err := client.New(w.url).Login(ctx, "bob2", "bob2-password"); latchkey.ErrorCode(err) != latchkey.EINVALIDCREDENTIALS {
			t.Fatalf("a refused identity exists: %v", err)
		}
		// The right body still works.
		w.mustLogin(0, "bob", false)
	})
}
