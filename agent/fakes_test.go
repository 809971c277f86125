package agent

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"latchkey"
	"latchkey/client"
	"latchkey/passhash"
)

// fakeClock is a Clock under the test's control: real is the true time
// (the server's clock), wall the PC's wall clock (which a person may set),
// boot the boottime of boot id. Its tickers and After fire only when
// Advance lets their time pass.
type fakeClock struct {
	mu     sync.Mutex
	real   time.Time
	wall   time.Time
	boot   time.Duration
	id     string
	timers []*fakeTimer
}

// fakeTimer is a fakeClock's ticker (every > 0) or After (every 0): it
// fires at boottime at.
type fakeTimer struct {
	f     *fakeClock
	at    time.Duration
	every time.Duration
	c     chan time.Time
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	t.f.timers = slices.DeleteFunc(t.f.timers, func(o *fakeTimer) bool { return o == t })
}

func (f *fakeClock) NewTicker(d time.Duration) Ticker {
	if d <= 0 {
		panic("non-positive interval for NewTicker")
	}
	return f.addTimer(d, d)
}

func (f *fakeClock) After(d time.Duration) <-chan time.Time { return f.addTimer(d, 0).c }

func (f *fakeClock) addTimer(d, every time.Duration) *fakeTimer {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := &fakeTimer{f: f, at: f.boot + d, every: every, c: make(chan time.Time, 1)}
	f.timers = append(f.timers, t)
	return t
}

// fire delivers the ticks due by now (under mu): like time.Ticker, a tick
// the receiver has not taken yet is not queued twice.
func (f *fakeClock) fire() {
	kept := f.timers[:0]
	for _, t := range f.timers {
		if t.at <= f.boot {
			select {
			case t.c <- f.wall:
			default:
			}
			if t.every == 0 {
				continue
			}
			for t.at <= f.boot {
				t.at += t.every
			}
		}
		kept = append(kept, t)
	}
	f.timers = kept
}

func newFakeClock() *fakeClock {
	t0 := time.Date(2030, 3, 4, 9, 0, 0, 0, time.UTC)
	return &fakeClock{real: t0, wall: t0, boot: time.Hour, id: "boot-1"}
}

func (f *fakeClock) Wall() time.Time         { f.mu.Lock(); defer f.mu.Unlock(); return f.wall }
func (f *fakeClock) Boottime() time.Duration { f.mu.Lock(); defer f.mu.Unlock(); return f.boot }
func (f *fakeClock) BootID() string          { f.mu.Lock(); defer f.mu.Unlock(); return f.id }

// Real is the true time (what the server's clock reads).
func (f *fakeClock) Real() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.real }

// Advance lets d pass.
func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.real, f.wall, f.boot = f.real.Add(d), f.wall.Add(d), f.boot+d
	f.fire()
}

// SetWall sets the PC's wall clock.
func (f *fakeClock) SetWall(t time.Time) { f.mu.Lock(); defer f.mu.Unlock(); f.wall = t }

// Reboot starts a new boot after d has passed.
func (f *fakeClock) Reboot(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.real, f.wall, f.boot, f.id = f.real.Add(d), f.wall.Add(d), time.Minute, f.id+"+"
	f.timers = nil // the agent that waited on them is gone
}

// fakeServer is a latchkey server as far as the gateway uses it, which
// can be switched to unreachable (connections dropped) or unavailable
// (503).
type fakeServer struct {
	t     *testing.T
	clock *fakeClock
	srv   *httptest.Server

	mu          sync.Mutex
	down        bool
	unavailable bool
	policy      latchkey.AgentPolicy
	people      map[string]person // by identity
	sessions    map[string]*latchkey.Session
	sessionEnds time.Duration // ends_at of online logons (0: none)
	verdicts    map[string]latchkey.JournalResult
	entries     map[string][]latchkey.JournalEntry // every upload of an entry, by ID
	dropJournal int                                // record, then drop the answer, this many times
	failJournal int                                // answer 500 internal, recording nothing, this many times
	statuses    []latchkey.AgentStatus
	locks       map[string][]time.Time   // lock time_sent by session
	touches     map[string][]time.Time   // when each touch arrived, by session
	notices     []latchkey.Notice        // the log-on answer's notices
	events      []latchkey.TerminalEvent // deferred events stored, repeats (by ID) left out
	endCalls    []string
	key         ed25519.PrivateKey // signs the policy (unsignedPolicy: not)
	unsigned    bool
	replies     map[string][]latchkey.Reply // instruction replies by ID
	policyCalls int
}

type person struct {
	principal, password string
	role                latchkey.Role
}

func newFakeServer(t *testing.T, clock *fakeClock) *fakeServer {
	f := &fakeServer{t: t, clock: clock, people: map[string]person{}, sessions: map[string]*latchkey.Session{},
		verdicts: map[string]latchkey.JournalResult{}, entries: map[string][]latchkey.JournalEntry{},
		locks: map[string][]time.Time{}, touches: map[string][]time.Time{}, replies: map[string][]latchkey.Reply{}}
	_, f.key, _ = ed25519.GenerateKey(nil)
	site := latchkey.DefaultSite("branch")
	site.ID = "sit_1"
	f.policy = latchkey.AgentPolicy{Site: site, Terminal: "ter_1"}
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

// addPerson adds a person and (cache) their offline verifier to the policy.
func (f *fakeServer) addPerson(identity, principal, password string, role latchkey.Role, cache bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.people[identity] = person{principal, password, role}
	if cache {
		v, err := passhash.Test.Hash(password)
		if err != nil {
			f.t.Fatal(err)
		}
		f.policy.Verifiers = append(f.policy.Verifiers, latchkey.CachedVerifier{Login: identity, Principal: principal,
			Role: role, Verifier: v, ExpiresAt: f.clock.Real().Add(30 * 24 * time.Hour)})
	}
}

func (f *fakeServer) setDown(down bool) { f.mu.Lock(); f.down = down; f.mu.Unlock() }
func (f *fakeServer) set503(on bool)    { f.mu.Lock(); f.unavailable = on; f.mu.Unlock() }
func (f *fakeServer) site(change func(*latchkey.Site)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(&f.policy.Site)
}

func (f *fakeServer) client() *client.Client {
	return client.New(f.srv.URL, client.WithToken("terminal-token"))
}

func (f *fakeServer) session(id string) *latchkey.Session {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s, ok := f.sessions[id]; ok {
		c := *s
		return &c
	}
	return nil
}

func (f *fakeServer) uploads(id string) []latchkey.JournalEntry {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]latchkey.JournalEntry(nil), f.entries[id]...)
}

func apiError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": msg, "details": map[string]any{}}})
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		panic(http.ErrAbortHandler) // the connection drops: a transport error
	}
	if f.unavailable {
		apiError(w, 503, latchkey.EUNAVAILABLE, "store unreachable")
		return
	}
	now := f.clock.Real()
	body, _ := io.ReadAll(r.Body)
	path := r.URL.Path
	sessionID := func(suffix string) string {
		return strings.TrimSuffix(strings.TrimPrefix(path, "/v1/sessions/"), suffix)
	}
	active := func(id string) *latchkey.Session {
		s := f.sessions[id]
		if s == nil {
			apiError(w, 404, latchkey.ENOTFOUND, "no such session")
			return nil
		}
		if s.Status != latchkey.SessionActive {
			apiError(w, 409, latchkey.ECONFLICT, "session is "+string(s.Status))
			return nil
		}
		return s
	}
	switch {
	case r.Method == "GET" && path == "/v1/agent/policy":
		f.policyCalls++
		p := f.policy
		p.IssuedAt = now
		if !f.unsigned {
			if err := p.Sign(f.key); err != nil {
				f.t.Error(err)
			}
		}
		reply(w, 200, p)
	case r.Method == "POST" && strings.HasPrefix(path, "/v1/agent/instructions/") && strings.HasSuffix(path, "/reply"):
		var in struct{ Result, Detail string }
		json.Unmarshal(body, &in)
		id := strings.TrimSuffix(strings.TrimPrefix(path, "/v1/agent/instructions/"), "/reply")
		f.replies[id] = append(f.replies[id], latchkey.Reply{Result: latchkey.ReplyResult(in.Result), Detail: in.Detail})
		reply(w, 200, map[string]string{})
	case r.Method == "POST" && path == "/v1/agent/status":
		var st latchkey.AgentStatus
		json.Unmarshal(body, &st)
		f.statuses = append(f.statuses, st)
		reply(w, 200, latchkey.Terminal{ID: "ter_1", Standalone: st.Standalone})
	case r.Method == "POST" && path == "/v1/terminals/ter_1/sessions":
		var in latchkey.LoginRequest
		json.Unmarshal(body, &in)
		p, ok := f.people[in.Identity]
		if !ok || p.password != in.Password {
			apiError(w, 401, latchkey.EINVALIDCREDENTIALS, "wrong identity or password")
			return
		}
		var failed []string
		for _, s := range f.sessions {
			if s.Status == latchkey.SessionActive && s.TerminalID == "ter_1" {
				s.Status, s.EndReason = latchkey.SessionFailed, latchkey.EndTerminalCleanup
				failed = append(failed, s.ID)
			}
		}
		s := &latchkey.Session{ID: latchkey.NewID("ses"), PrincipalID: p.principal, Identity: in.Identity,
			TerminalID: "ter_1", Status: latchkey.SessionActive, StartedAt: now, LastActivityAt: now}
		if f.sessionEnds > 0 {
			ends, warn := now.Add(f.sessionEnds), now.Add(f.sessionEnds-time.Minute)
			s.EndsAt, s.WarnAt, s.Limit = &ends, &warn, latchkey.LimitMaxSession
		}
		f.sessions[s.ID] = s
		reply(w, 201, latchkey.LoginResult{Session: *s, Failed: failed, Notices: f.notices})
	case r.Method == "GET" && strings.HasPrefix(path, "/v1/sessions/"):
		if s := f.sessions[sessionID("")]; s != nil {
			reply(w, 200, s)
		} else {
			apiError(w, 404, latchkey.ENOTFOUND, "no such session")
		}
	case r.Method == "POST" && strings.HasSuffix(path, "/lock"):
		var in latchkey.LockRequest
		json.Unmarshal(body, &in)
		if s := active(sessionID("/lock")); s != nil {
			if err, ok := latchkey.DecideTransactionOnLock(f.policy.Site, in.Reason, in.InTransaction).(*latchkey.Error); ok && s.LockedAt == nil {
				reply(w, 409, latchkey.ErrorBody{Error: latchkey.ErrorFields{Code: err.Code, Message: err.Message, Details: err.Details}})
				return
			}
			f.locks[s.ID] = append(f.locks[s.ID], in.TimeSent)
			if s.LockedAt == nil {
				t := in.TimeSent.UTC()
				s.LockedAt, s.LastActivityAt = &t, now
			}
			reply(w, 200, s)
		}
	case r.Method == "POST" && path == "/v1/terminals/ter_1/events":
		var in struct {
			Events []latchkey.TerminalEvent `json:"events"`
		}
		json.Unmarshal(body, &in)
		stored := 0
		for _, e := range in.Events {
			if !slices.ContainsFunc(f.events, func(o latchkey.TerminalEvent) bool { return e.ID != "" && o.ID == e.ID }) {
				f.events = append(f.events, e)
				stored++
			}
		}
		reply(w, 202, map[string]int{"stored": stored})
	case r.Method == "POST" && strings.HasSuffix(path, "/touch"):
		if s := active(sessionID("/touch")); s != nil {
			f.touches[s.ID] = append(f.touches[s.ID], now)
			s.LastActivityAt = now
			reply(w, 200, s)
		}
	case r.Method == "POST" && strings.HasSuffix(path, "/unlock"):
		var in latchkey.UnlockRequest
		json.Unmarshal(body, &in)
		if s := active(sessionID("/unlock")); s != nil {
			if p, ok := f.people[in.Identity]; !ok || p.password != in.Password || p.principal != s.PrincipalID {
				apiError(w, 401, latchkey.EINVALIDCREDENTIALS, "wrong identity or password")
				return
			}
			s.LockedAt, s.LastActivityAt = nil, now
			reply(w, 200, s)
		}
	case r.Method == "DELETE" && strings.HasPrefix(path, "/v1/sessions/"):
		f.endCalls = append(f.endCalls, sessionID(""))
		if s := active(sessionID("")); s != nil {
			s.Status, s.EndedAt, s.EndReason = latchkey.SessionEnded, &now, latchkey.EndLogout
			reply(w, 200, s)
		}
	case r.Method == "POST" && path == "/v1/agent/journal" && f.failJournal > 0:
		f.failJournal--
		apiError(w, 500, latchkey.EINTERNAL, "internal error")
	case r.Method == "POST" && path == "/v1/agent/journal":
		var in struct {
			Entries []latchkey.JournalEntry `json:"entries"`
		}
		json.Unmarshal(body, &in)
		results := []latchkey.JournalResult{}
		for _, e := range in.Entries {
			results = append(results, f.journal(e))
		}
		if f.dropJournal > 0 {
			f.dropJournal--
			panic(http.ErrAbortHandler) // recorded, but the answer is lost
		}
		reply(w, 200, map[string]any{"results": results})
	default:
		apiError(w, 404, latchkey.ENOTFOUND, "no route "+r.Method+" "+path)
	}
}

// journal records one entry as the server would: once per ID.
func (f *fakeServer) journal(e latchkey.JournalEntry) latchkey.JournalResult {
	f.entries[e.ID] = append(f.entries[e.ID], e)
	if e.Session != "" {
		if s := f.sessions[e.Session]; s != nil && s.Status == latchkey.SessionActive && e.EndedAt != nil {
			s.Status, s.EndedAt, s.EndReason = latchkey.SessionEnded, e.EndedAt, latchkey.EndLogout
		}
		return latchkey.JournalResult{ID: e.ID, Verdict: latchkey.VerdictOK, Session: e.Session}
	}
	s := f.sessions[e.ID]
	if s == nil {
		s = &latchkey.Session{ID: e.ID, PrincipalID: f.people[e.Identity].principal, Identity: e.Identity,
			TerminalID: "ter_1", Status: latchkey.SessionActive, StartedAt: e.StartedAt, Standalone: true, LockedAt: e.LockedAt}
		f.sessions[e.ID] = s
	}
	if e.EndedAt != nil {
		if s.Status == latchkey.SessionActive {
			s.Status, s.EndedAt = latchkey.SessionEnded, e.EndedAt
		}
		return latchkey.JournalResult{ID: e.ID, Verdict: latchkey.VerdictOK, Session: e.ID}
	}
	r, ok := f.verdicts[e.Identity]
	if !ok {
		r = latchkey.JournalResult{Verdict: latchkey.VerdictOK}
		if p, known := f.people[e.Identity]; !e.Verified && (!known || p.password != e.Password) {
			r = latchkey.JournalResult{Verdict: latchkey.VerdictLogoff, Reason: "invalid_identity"}
		}
	}
	r.ID, r.Session = e.ID, e.ID
	if r.Verdict == latchkey.VerdictLogoff {
		s.Status, s.EndedAt = latchkey.SessionEnded, &e.StartedAt
	}
	return r
}

// testGateway opens a gateway on dir against the fake server.
func testGateway(t *testing.T, f *fakeServer, dir string) (*Gateway, *Journal) {
	t.Helper()
	j, err := OpenJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	g, err := OpenGateway(context.Background(), GatewayOptions{Client: f.client(), Journal: j, Clock: f.clock,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), CallTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return g, j
}

// codeOf returns err's API code ("" for nil).
func codeOf(err error) string { return latchkey.ErrorCode(err) }

// aliceGateway is the common start of a test: a fake server that knows
// alice (cached for offline logon, password pw-a) and a gateway in a
// fresh state directory that has fetched its policy.
// touchesOf are the touches the server received for session id.
func (f *fakeServer) touchesOf(id string) []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.touches[id])
}

func aliceGateway(t *testing.T) (*fakeClock, *fakeServer, *Gateway, *Journal, string) {
	fc := newFakeClock()
	f := newFakeServer(t, fc)
	f.addPerson("alice", "pri_a", "pw-a", latchkey.RoleUser, true)
	dir := t.TempDir()
	g, j := testGateway(t, f, dir)
	g.Sync(bg)
	return fc, f, g, j, dir
}
