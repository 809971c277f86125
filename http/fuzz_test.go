package http_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"latchkey"
	lkhttp "latchkey/http"
)

// FuzzDecode feeds arbitrary bytes to the decoder of every request type:
// it must never panic, every error must be bad_request naming a field, and
// a body it takes has no key twice in one object and no key in another
// case than its field's, at any depth (encoding/json alone takes both).
func FuzzDecode(f *testing.F) {
	seeds := []string{
		`{"identity":"alice","password":"pw"}`,
		`{"identity":"alice","password":"pw","force":true,"time_sent":"2024-05-01T10:00:00Z"}`,
		`{"time_sent":"2024-05-01T10:00:00.123+02:00","reason":"manual"}`,
		`{"name":"x","role":"user","global":true,"disabled":false}`,
		`{"disabled":true,"role":"admin","global":null}`,
		`{"login":"al","password":"pw"}`,
		`{"old_password":"","new_password":"n"}`,
		`{"name":"b","timezone":"Europe/Oslo","warning_seconds":0,"concurrency_controls":false}`,
		`{"name":"c","site":"s_1"}`,
		`{"events":[{"id":"e","event":26,"occurred_at":"2024-05-01T10:00:00Z","identity":"a","reason":"account_locked"}]}`,
		`{"ttl_seconds":60,"wait":true,"force":false,"note":"editing"}`,
		`{"token":18446744073709551615,"ttl_seconds":86400}`,
		`{"token":3,"leave_queue":true}`,
		`{"items":{"a":"1","b":null},"lock_token":7,"if_version":0,"replace":true}`,
		`{"name":"tools","groups":["wheel","docker"],"max_minutes":30,"eligible":["prn_1"],"approval":false}`,
		`{"terminal":"t","principal":"p","start":"2026-11-29T10:00:00Z","minutes":30}`,
		`{"groupset":"gs_1","terminals":["t1","t2"],"minutes":30,"reason":"patching"}`,
		`{"groupset":"gs_1","terminals":[],"minutes":-1}`, `{"decision":"approve","comment":"ok"}`, `{"decision":"maybe"}`,
		`{"kind":"report","run_at":"2026-12-05T10:00:00Z","every":"24h","params":{"from":"2026-11-01","to":"2026-11-30"}}`,
		`{"kind":"audit_seal","params":null}`, `{"kind":"reconcile","params":{"fix":true}}`,
		`{"name":"t","groups":["wheel"],"approval":true,"approvers":["prn_1","prn_2"]}`,
		`{"entries":[{"id":"ses_1","identity":"alice","started_at":"2026-11-29T10:00:00Z","ended_at":"2026-11-29T10:30:00Z","standalone":true,"verified":true}]}`,
		`{"entries":[{"id":"x","identity":"a","started_at":"bad"}]}`,
		`{"standalone":false,"since":"2026-11-29T10:00:00Z","standalone_from":"2026-11-29T09:00:00Z"}`,
		`{"enabled":false}`, `{"minutes":15}`, `{"result":"done","detail":""}`,
		`{"result":"ok","members":{"wheel":["ann","bob"],"video-users":[]}}`, `{"result":"ok","members":{"-x":["a"]}}`,
		`{"kind":"reconcile","params":{"fix":true,"batch":50,"wait":"30s"}}`,
		`{"name":"ann","role":"user","lock_token":12}`, `{"daily_quota_minutes":60,"lock_token":12}`, `{"enabled":true,"lock_token":3}`,
		`{}`, ``, `null`, `[]`, `{"a":1}`, `{"name":"x"} x`, `{"events":[{"event":"24"}]}`, "{\"name\":\"\xff\"}",
	}
	for _, s := range seeds {
		f.Add(s, "application/json")
	}
	for _, c := range strictCases {
		f.Add(c.body, "application/json")
	}
	f.Add(`{"name":"b"}`, "text/plain")
	f.Add(`{"name":"b"}`, "application/json; charset=utf-8")
	f.Fuzz(func(t *testing.T, body, contentType string) {
		for _, kind := range lkhttp.DecodeKinds {
			err := lkhttp.Decode(kind, contentType, []byte(body))
			if err == nil {
				// Every field name of every request type is lower-case
				// ASCII; only config's items and an inventory reply's
				// members (group names) are maps whose keys are data.
				if problem := keyProblem([]byte(body), kind != "config" && kind != "reply"); problem != "" {
					t.Fatalf("%s took %q: %s", kind, body, problem)
				}
				continue
			}
			var e *latchkey.Error
			if !errors.As(err, &e) {
				t.Fatalf("%s: %T %v is not a *latchkey.Error", kind, err, err)
			}
			if e.Code != latchkey.EBADREQUEST {
				t.Fatalf("%s: code %q, want bad_request (%v)", kind, e.Code, err)
			}
			if f, ok := e.Details["field"].(string); !ok || f == "" {
				t.Fatalf("%s: %v has no details.field", kind, err)
			}
		}
	})
}

// keyProblem walks a JSON body (independently of the decoder) and names
// the first key that appears twice in one object or, with lowerOnly, that
// is not lower-case ASCII letters, digits and underscores.
func keyProblem(body []byte, lowerOnly bool) string {
	dec := json.NewDecoder(bytes.NewReader(body))
	var stack []map[string]bool // keys seen per open object; nil for arrays
	expectKey := func() bool { return len(stack) > 0 && stack[len(stack)-1] != nil }
	for i := 0; i < len(body)+1; i++ {
		if expectKey() && !dec.More() {
			// the object ends: its '}' comes next
		} else if expectKey() {
			tok, err := dec.Token()
			if err != nil {
				return ""
			}
			key, _ := tok.(string)
			if stack[len(stack)-1][key] {
				return "duplicate key " + key
			}
			stack[len(stack)-1][key] = true
			if lowerOnly {
				for _, r := range key {
					if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
						return "key in another case or alphabet: " + key
					}
				}
			}
		}
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, map[string]bool{})
		case json.Delim('['):
			stack = append(stack, nil)
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
	}
	return ""
}

// FuzzBlankedRequest: the form an idempotency record is keyed on is taken
// for every well-formed body and only for those (a malformed one is
// refused before anything is kept), is itself valid JSON, and holds no
// value under a key that names a password, at any depth and in any case.
func FuzzBlankedRequest(f *testing.F) {
	for _, s := range []string{
		`{"identity":"alice","password":"Tango-s3cret-91","time_sent":"2024-05-01T10:00:00Z"}`,
		`{"entries":[{"id":"x","password":"p"},{"PassWord":{"nested":["p"]}}]}`,
		`{"old_password":"a","new_password":"b"}`, `[1,2.50,-0,1e3,true,null,"\u00e9"]`, ``, ` `, `{`, `{} {}`, `"password"`,
		"2" + strings.Repeat("0", 320), `{"n":1e400}`,
	} {
		f.Add(s)
	}
	for _, c := range strictCases {
		f.Add(c.body)
	}
	f.Fuzz(func(t *testing.T, body string) {
		out, ok := lkhttp.BlankedRequest([]byte(body))
		empty := len(bytes.TrimSpace([]byte(body))) == 0
		if ok != (empty || json.Valid([]byte(body))) {
			t.Fatalf("%q: taken %v, valid JSON %v", body, ok, json.Valid([]byte(body)))
		}
		if !ok || empty {
			return
		}
		var v any
		dec := json.NewDecoder(bytes.NewReader(out))
		dec.UseNumber() // a number beyond float64 is valid JSON (found by the fuzzer: 2e308 written out)
		if err := dec.Decode(&v); err != nil || !json.Valid(out) {
			t.Fatalf("%q gives invalid JSON %q: %v", body, out, err)
		}
		var check func(v any)
		check = func(v any) {
			switch x := v.(type) {
			case map[string]any:
				for k, val := range x {
					if strings.Contains(strings.ToLower(k), "password") && val != "<blank>" {
						t.Fatalf("%q: %s kept as %v in %q", body, k, val, out)
					}
					check(val)
				}
			case []any:
				for _, e := range x {
					check(e)
				}
			}
		}
		check(v)
	})
}
