package http_test

import (
	"strings"
	"testing"

	"latchkey"
	lkhttp "latchkey/http"
)

// strictCase is a body that encoding/json alone would take, and the field
// the strict decoder must name when it refuses it.
type strictCase struct {
	kind, body, field, reason string
}

var strictCases = []strictCase{
	// The hole: the last of two passwords wins, or "Password" fills password.
	{"session_login", `{"identity":"alice","password":"wrong","password":"pw-alice","time_sent":"` + validTime + `"}`, "password", "duplicate_key"},
	{"session_login", `{"identity":"alice","Password":"pw-alice","time_sent":"` + validTime + `"}`, "Password", "wrong_case"},
	{"login", `{"IDENTITY":"alice","password":"pw-alice"}`, "IDENTITY", "wrong_case"},
	{"login", `{"identity":"alice","identity":"bob","password":"pw-alice"}`, "identity", "duplicate_key"},
	{"unlock", `{"identity":"alice","password":"x","Force":true,"time_sent":"` + validTime + `"}`, "Force", "wrong_case"},
	{"identity", `{"login":"al","password":"long-enough-1","Login":"root"}`, "Login", "wrong_case"},
	{"password", `{"old_password":"a","new_password":"long-enough-1","new_password":"x"}`, "new_password", "duplicate_key"},
	{"principal", `{"name":"x","role":"user","Role":"admin"}`, "Role", "wrong_case"},
	{"principal_patch", `{"role":"user","role":"admin"}`, "role", "duplicate_key"},
	{"site", `{"name":"b","Timezone":"UTC"}`, "Timezone", "wrong_case"},
	{"site_patch", `{"name":"b","name":"c"}`, "name", "duplicate_key"},
	{"terminal", `{"name":"c","site":"s_1","SITE":"s_2"}`, "SITE", "wrong_case"},
	// At every depth: array elements, nested objects and map values.
	{"events", `{"events":[{"id":"e","event":24,"occurred_at":"` + validTime + `"},{"id":"f","Event":25,"occurred_at":"` + validTime + `"}]}`, "events[1].Event", "wrong_case"},
	{"events", `{"events":[{"id":"e","event":24,"event":26,"occurred_at":"` + validTime + `"}]}`, "events[0].event", "duplicate_key"},
	{"journal", `{"entries":[{"id":"x","identity":"bob","started_at":"` + validTime + `","standalone":true,"Password":"p"}]}`, "entries[0].Password", "wrong_case"},
	{"journal", `{"entries":[{"id":"x","identity":"bob","identity":"alice","started_at":"` + validTime + `","standalone":true}]}`, "entries[0].identity", "duplicate_key"},
	{"config", `{"items":{"a":"1","a":"2"}}`, "items.a", "duplicate_key"},
	{"config", `{"Items":{"a":"1"}}`, "Items", "wrong_case"},
	{"groupset", `{"name":"tools","groups":["wheel"],"Eligible":["p"]}`, "Eligible", "wrong_case"},
	{"checkout", `{"groupset":"g","terminal":"t","terminal":"u"}`, "terminal", "duplicate_key"},
	{"lock_acquire", `{"ttl_seconds":60,"Force":true}`, "Force", "wrong_case"},
	{"lock_release", `{"token":3,"token":4}`, "token", "duplicate_key"},
	{"reservation", `{"terminal":"t","start":"` + validTime + `","Minutes":30}`, "Minutes", "wrong_case"},
	{"agent_status", `{"standalone":false,"standalone":true}`, "standalone", "duplicate_key"},
	{"offline_logon", `{"Enabled":true}`, "Enabled", "wrong_case"},
	{"extend", `{"minutes":15,"minutes":1500}`, "minutes", "duplicate_key"},
	{"reply", `{"result":"ok","Detail":"x"}`, "Detail", "wrong_case"},
	{"principal", `{"name":"ann","role":"user","lock_token":3,"Lock_token":4}`, "Lock_token", "wrong_case"},
	{"principal_patch", `{"disabled":true,"lock_token":3,"lock_token":4}`, "lock_token", "duplicate_key"},
	{"site_patch", `{"daily_quota_minutes":60,"LOCK_TOKEN":3}`, "LOCK_TOKEN", "wrong_case"},
	{"identity", `{"login":"ann","password":"pw-ann-pw-ann","lock_token":1,"lock_token":2}`, "lock_token", "duplicate_key"},
	{"reply", `{"result":"ok","members":{"wheel":["ann"],"wheel":[]}}`, "members.wheel", "duplicate_key"},
	{"reply", `{"result":"ok","Members":{"wheel":["ann"]}}`, "Members", "wrong_case"},
	{"lock", `{"time_sent":"` + validTime + `","reason":"manual","Reason":"inactivity"}`, "Reason", "wrong_case"},
	{"lock_keepalive", `{"token":1,"ttl_seconds":5,"ttl_seconds":500}`, "ttl_seconds", "duplicate_key"},
	{"touch", `{"X":1,"X":2}`, "X", "duplicate_key"},
	{"logout", `{"a":1,"a":2}`, "a", "duplicate_key"},
	{"request", `{"groupset":"g","terminals":["t"],"Minutes":5}`, "Minutes", "wrong_case"},
	{"decide", `{"decision":"deny","decision":"approve"}`, "decision", "duplicate_key"},
	{"task", `{"kind":"report","params":{"from":"2026-11-01","from":"2026-11-02","to":"2026-11-30"}}`, "params.from", "duplicate_key"},
	{"task", `{"kind":"report","params":{"frOm":"2026-01-01","to":"2026-01-10"}}`, "params.frOm", "wrong_case"}, // found by FuzzDecode
}

// TestStrictKeys: every request decoder refuses duplicate keys and keys in
// another case, at every depth, naming the key.
func TestStrictKeys(t *testing.T) {
	t.Parallel()
	covered := map[string]bool{}
	for _, c := range strictCases {
		covered[c.kind] = true
		err := lkhttp.Decode(c.kind, "application/json", []byte(c.body))
		d := latchkey.ErrorDetails(err)
		if latchkey.ErrorCode(err) != latchkey.EBADREQUEST || d["field"] != c.field || d["reason"] != c.reason {
			t.Errorf("%s %s: got %v (details %v), want bad_request field %q reason %s", c.kind, c.body, err, d, c.field, c.reason)
		}
	}
	for _, k := range lkhttp.DecodeKinds {
		if !covered[k] {
			t.Errorf("decoder %s has no strictness case", k)
		}
	}
}

// TestStrictKeysChangeNothing sends refused bodies through the server: the
// store is never called.
func TestStrictKeysChangeNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	reqs := []req{
		{method: "POST", path: "/v1/terminals/t_1/sessions", token: terminalToken, body: strictCases[0].body},
		{method: "POST", path: "/v1/terminals/t_1/sessions", token: terminalToken, body: strictCases[1].body},
		{method: "POST", path: "/v1/principals/p_1/identities", token: adminToken, body: `{"login":"al","password":"long-enough-1","Login":"root"}`},
		{method: "POST", path: "/v1/auth/login", body: strictCases[2].body},
	}
	for _, r := range reqs {
		w := e.do(r)
		if w.Code != 400 || errorOf(t, w).Code != "bad_request" {
			t.Fatalf("%s %s: %d %s", r.method, r.path, w.Code, w.Body)
		}
		if !strings.Contains(errorOf(t, w).Message, `"`) {
			t.Errorf("message %q does not quote the key", errorOf(t, w).Message)
		}
	}
	for _, m := range []string{"StartSession", "AddIdentity", "Login"} {
		if n := len(e.st.recorded(m)); n != 0 {
			t.Errorf("%s ran %d times on refused bodies", m, n)
		}
	}
}
