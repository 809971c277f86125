package http_test

import (
	"errors"
	"strings"
	"testing"

	"latchkey"
)

func keyed(r req, key string) req {
	r.headers = map[string]string{"Idempotency-Key": key}
	return r
}

func TestIdempotentReplay(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := keyed(req{method: "POST", path: "/v1/sites", token: adminToken, body: `{"name":"b"}`}, "key-1")
	first := e.do(r)
	second := e.do(r)
	if first.Code != 201 || second.Code != 201 || first.Body.String() != second.Body.String() {
		t.Fatalf("first %d %s, repeat %d %s", first.Code, first.Body, second.Code, second.Body)
	}
	if first.Header().Get("Idempotent-Replayed") != "" || second.Header().Get("Idempotent-Replayed") != "true" {
		t.Fatalf("Idempotent-Replayed: first %q, repeat %q", first.Header().Get("Idempotent-Replayed"), second.Header().Get("Idempotent-Replayed"))
	}
	if ct := second.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("replay Content-Type %q", ct)
	}
	if n := len(e.st.recorded("CreateSite")); n != 1 {
		t.Fatalf("CreateSite ran %d times, want once", n)
	}
	begin := e.st.recorded("BeginIdempotent")[0]
	if scope := begin.args[0].(string); scope != "p_admin POST /v1/sites" {
		t.Fatalf("scope %q", scope)
	}

	// The same key with another body is refused and changes nothing.
	w := e.do(keyed(req{method: "POST", path: "/v1/sites", token: adminToken, body: `{"name":"c"}`}, "key-1"))
	if w.Code != 409 || errorOf(t, w).Details["reason"] != "idempotency_key_reused" {
		t.Fatalf("reused key: %d %s", w.Code, w.Body)
	}
	// Another caller's key space is its own.
	w = e.do(keyed(req{method: "POST", path: "/v1/sites", token: delegateToken, body: `{"name":"b"}`}, "key-1"))
	if w.Code != 201 || w.Header().Get("Idempotent-Replayed") != "" {
		t.Fatalf("other caller: %d %s", w.Code, w.Body)
	}
	if n := len(e.st.recorded("CreateSite")); n != 2 {
		t.Fatalf("CreateSite ran %d times, want 2", n)
	}
	// Without a key nothing is remembered.
	e.do(req{method: "POST", path: "/v1/sites", token: adminToken, body: `{"name":"b"}`})
	if n := len(e.st.recorded("BeginIdempotent")); n != 4 {
		t.Fatalf("BeginIdempotent calls %d, want 4", n)
	}
}

func TestIdempotentErrorsAreReplayed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.st.hook = func(m string) error {
		if m == "StartSession" {
			return latchkey.Errorf(latchkey.ECONCURRENTSESSION, "elsewhere")
		}
		return nil
	}
	r := keyed(req{method: "POST", path: "/v1/terminals/t_1/sessions", token: terminalToken, body: credentials}, "k")
	a, b := e.do(r), e.do(r)
	if a.Code != 409 || b.Code != 409 || a.Body.String() != b.Body.String() || b.Header().Get("Idempotent-Replayed") != "true" {
		t.Fatalf("first %d %s, repeat %d %s", a.Code, a.Body, b.Code, b.Body)
	}
	if n := len(e.st.recorded("StartSession")); n != 1 {
		t.Fatalf("StartSession ran %d times", n)
	}
	if scope := e.st.recorded("BeginIdempotent")[0].args[0]; scope != "t_1 POST /v1/terminals/t_1/sessions" {
		t.Fatalf("scope %q", scope)
	}
}

func TestIdempotent5xxIsAbandoned(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	fail := true
	e.st.hook = func(m string) error {
		if m == "CreatePrincipal" && fail {
			return errors.New("database went away")
		}
		return nil
	}
	r := keyed(req{method: "POST", path: "/v1/principals", token: adminToken, body: `{"name":"x","role":"user"}`}, "k")
	if w := e.do(r); w.Code != 500 {
		t.Fatalf("first: %d %s", w.Code, w.Body)
	}
	if len(e.st.recorded("AbandonIdempotent")) != 1 || len(e.st.recorded("FinishIdempotent")) != 0 {
		t.Fatalf("a 500 must abandon the key, not store it: %+v", e.st.recorded(""))
	}
	fail = false
	if w := e.do(r); w.Code != 201 || w.Header().Get("Idempotent-Replayed") != "" {
		t.Fatalf("retry after 500: %d %s", w.Code, w.Body)
	}
}

func TestIdempotentPanicAbandons(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.st.hook = func(m string) error {
		if m == "CreateSite" {
			panic("boom")
		}
		return nil
	}
	w := e.do(keyed(req{method: "POST", path: "/v1/sites", token: adminToken, body: `{"name":"c"}`}, "k"))
	if w.Code != 500 || errorOf(t, w).Code != "internal" {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if len(e.st.recorded("AbandonIdempotent")) != 1 {
		t.Fatalf("panic did not abandon the key: %+v", e.st.recorded(""))
	}
}

func TestIdempotentInProgress(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.st.hook = func(m string) error {
		if m == "BeginIdempotent" {
			return latchkey.Errorf(latchkey.ECONFLICT, "in progress").With("reason", "idempotency_key_in_progress")
		}
		return nil
	}
	w := e.do(keyed(req{method: "DELETE", path: "/v1/sessions/ss_1", token: terminalToken}, "k"))
	if w.Code != 409 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if n := len(e.st.recorded("EndSession")); n != 0 {
		t.Fatalf("handler ran while the key was in progress")
	}
}

func TestIdempotentNoContentAndSecretAnswers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := keyed(req{method: "POST", path: "/v1/auth/logout", token: userToken}, "k")
	a, b := e.do(r), e.do(r)
	if a.Code != 204 || b.Code != 204 || b.Body.Len() != 0 || b.Header().Get("Idempotent-Replayed") != "true" {
		t.Fatalf("logout: %d %q, repeat %d %q", a.Code, a.Body, b.Code, b.Body)
	}
	// A login's answer carries a token, which is never stored: the key is
	// ignored and the login runs each time.
	login := keyed(req{method: "POST", path: "/v1/auth/login", body: `{"identity":"alice","password":"pw"}`}, "k")
	if a, b := e.do(login), e.do(login); a.Code != 200 || b.Code != 200 || b.Header().Get("Idempotent-Replayed") != "" {
		t.Fatalf("keyed logins: %d, %d replayed=%q", a.Code, b.Code, b.Header().Get("Idempotent-Replayed"))
	}
	if n := len(e.st.recorded("Login")); n != 2 {
		t.Fatalf("%d logins ran, want 2", n)
	}
	// A terminal registration refuses the key rather than store its token.
	reg := keyed(req{method: "POST", path: "/v1/terminals", token: adminToken, body: `{"name":"c","site":"s"}`}, "k")
	if w := e.do(reg); w.Code != 400 || errorOf(t, w).Details["field"] != "Idempotency-Key" || len(e.st.recorded("RegisterTerminal")) != 0 {
		t.Fatalf("keyed register: %d %s", w.Code, w.Body)
	}
	var scopes []string
	for _, c := range e.st.recorded("BeginIdempotent") {
		scopes = append(scopes, c.args[0].(string))
	}
	if got := strings.Join(scopes, "|"); got != "p_user POST /v1/auth/logout|p_user POST /v1/auth/logout" {
		t.Fatalf("scopes %s", got)
	}
	// GET ignores the header.
	e.do(keyed(req{method: "GET", path: "/v1/sites", token: adminToken}, strings.Repeat("x", 500)))
	if n := len(e.st.recorded("BeginIdempotent")); n != 2 {
		t.Fatalf("GET used the key")
	}
}

// TestIdempotencyRequestHasNoPasswords: what the store gets of a keyed
// request (and keys its record on) has every password blanked, on every
// route whose body carries one, at any depth and in any case.
func TestIdempotencyRequestHasNoPasswords(t *testing.T) {
	t.Parallel()
	const secret = "Tango-s3cret-91"
	bodies := []req{
		{method: "POST", path: "/v1/terminals/t_1/sessions", token: terminalToken,
			body: `{"identity":"alice","password":"` + secret + `","time_sent":"` + validTime + `"}`},
		{method: "POST", path: "/v1/sessions/ss_1/unlock", token: terminalToken,
			body: `{"identity":"alice","password":"` + secret + `","time_sent":"` + validTime + `"}`},
		{method: "POST", path: "/v1/principals/p_1/identities", token: adminToken, body: `{"login":"al","password":"` + secret + `"}`},
		{method: "POST", path: "/v1/identities/al/password", token: userToken, body: `{"old_password":"` + secret + `","new_password":"` + secret + `x"}`},
		{method: "POST", path: "/v1/agent/journal", token: terminalToken,
			body: `{"entries":[{"id":"j1","identity":"bob","started_at":"` + validTime + `","standalone":true,"password":"` + secret + `"}]}`},
		// A body the decoder refuses is blanked too (its 400 is kept).
		{method: "POST", path: "/v1/principals/p_1/identities", token: adminToken, body: `{"login":"al","PassWord":{"x":["` + secret + `"]}}`},
	}
	for i, r := range bodies {
		e := newEnv(t)
		first := e.do(keyed(r, "k"))
		begin := e.st.recorded("BeginIdempotent")
		if len(begin) != 1 {
			t.Fatalf("%s: BeginIdempotent calls %d", r.path, len(begin))
		}
		got := begin[0].args[2].(string)
		if strings.Contains(got, secret) || strings.Contains(got, "Tango") || !strings.Contains(got, `"<blank>"`) {
			t.Fatalf("%s: the store got %s", r.path, got)
		}
		if first.Code >= 500 {
			continue // the stub does not serve this route: nothing to replay
		}
		// A retry is replayed. A reuse of the key with only another
		// password cannot be told from a retry: it gets the first answer.
		other := r
		other.body = strings.ReplaceAll(r.body, secret, "another-password")
		again := e.do(keyed(other, "k"))
		if again.Code != first.Code || again.Body.String() != first.Body.String() || again.Header().Get("Idempotent-Replayed") != "true" {
			t.Fatalf("case %d %s: first %d %s, retry %d %s", i, r.path, first.Code, first.Body, again.Code, again.Body)
		}
	}
}

func TestIdempotencyBlankedRequestIsCanonical(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.do(keyed(req{method: "POST", path: "/v1/sites", token: adminToken, body: `{"name":"b","warning_seconds":60}`}, "k"))
	b := e.do(keyed(req{method: "POST", path: "/v1/sites", token: adminToken, body: " {\n \"name\" : \"b\", \"warning_seconds\": 60 }\n"}, "k"))
	if a.Code != 201 || b.Header().Get("Idempotent-Replayed") != "true" {
		t.Fatalf("white space made another request: %d, %d %s", a.Code, b.Code, b.Body)
	}
	if got := e.st.recorded("BeginIdempotent")[0].args[2].(string); got != `{"name":"b","warning_seconds":60}` {
		t.Fatalf("canonical form %s", got)
	}
	// A number keeps its spelling: 60 and 6e1 are different requests.
	if w := e.do(keyed(req{method: "POST", path: "/v1/sites", token: adminToken, body: `{"name":"b","warning_seconds":6e1}`}, "k")); w.Code != 409 {
		t.Fatalf("another spelling: %d %s", w.Code, w.Body)
	}
}

// TestIdempotencyMalformedBody: a keyed body that is not one JSON value is
// refused before the store sees anything of it.
func TestIdempotencyMalformedBody(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, body := range []string{`{"login":"al","password":"Tango-s3cret-91"`, `{"login":"al"} {"password":"x"}`, `password=x`} {
		w := e.do(keyed(req{method: "POST", path: "/v1/principals/p_1/identities", token: adminToken, body: body}, "k"))
		if w.Code != 400 || errorOf(t, w).Details["field"] != "body" {
			t.Fatalf("%s: %d %s", body, w.Code, w.Body)
		}
	}
	w := e.do(keyed(req{method: "DELETE", path: "/v1/reservations/r_1", token: adminToken, body: `{`}, "k"))
	if w.Code != 400 {
		t.Fatalf("keyed delete with a broken body: %d %s", w.Code, w.Body)
	}
	if n := len(e.st.recorded("BeginIdempotent")) + len(e.st.recorded("AddIdentity")) + len(e.st.recorded("DeleteReservation")); n != 0 {
		t.Fatalf("the store was called %d times", n)
	}
}
