package http_test

import (
	"fmt"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"latchkey"
	lkhttp "latchkey/http"
)

// credentialRoute is one call that checks a password, and the store
// method that would hash it.
type credentialRoute struct {
	name, method string
	req          func(identity, remote string) req
}

var credentialRoutes = []credentialRoute{
	{"auth login", "Login", func(id, remote string) req {
		return req{method: "POST", path: "/v1/auth/login", remote: remote,
			body: `{"identity":"` + id + `","password":"wrong-password"}`}
	}},
	{"session login", "StartSession", func(id, remote string) req {
		return req{method: "POST", path: "/v1/terminals/t_1/sessions", token: terminalToken, remote: remote,
			body: `{"identity":"` + id + `","password":"wrong-password","time_sent":"` + validTime + `"}`}
	}},
	{"session unlock", "UnlockSession", func(id, remote string) req {
		return req{method: "POST", path: "/v1/sessions/ss_1/unlock", token: terminalToken, remote: remote,
			body: `{"identity":"` + id + `","password":"wrong-password","time_sent":"` + validTime + `"}`}
	}},
	{"password change", "ChangePassword", func(id, remote string) req {
		return req{method: "POST", path: "/v1/identities/" + id + "/password", token: userToken, remote: remote,
			body: `{"old_password":"wrong-password","new_password":"new-password-1"}`}
	}},
}

// throttleEnv is a server whose store refuses every password, on a clock
// the test moves.
func throttleEnv(t *testing.T, opts lkhttp.Options) (*env, *fakeClock) {
	t.Helper()
	clk := &fakeClock{now: t0}
	opts.Now = clk.Now
	e := newEnvWith(t, opts)
	e.st.err = latchkey.Errorf(latchkey.EINVALIDCREDENTIALS, "wrong identity or password")
	return e, clk
}

// wantThrottled checks a 429 rate_limited answer with its Retry-After.
func wantThrottled(t *testing.T, e *env, r req, scope string, retryAfter int) {
	t.Helper()
	w := e.do(r)
	if w.Code != 429 {
		t.Fatalf("status %d, want 429: %s", w.Code, w.Body)
	}
	ae := errorOf(t, w)
	if ae.Code != latchkey.ERATELIMITED || ae.Details["scope"] != scope {
		t.Fatalf("error %+v, want rate_limited by %s", ae, scope)
	}
	if got := w.Header().Get("Retry-After"); got != strconv.Itoa(retryAfter) {
		t.Fatalf("Retry-After %q, want %d", got, retryAfter)
	}
	if ae.Details["retry_after_seconds"] != float64(retryAfter) {
		t.Fatalf("details %v: want retry_after_seconds %d", ae.Details, retryAfter)
	}
}

// TestLoginThrottleByAddress: after 10 failed password checks in a minute
// from one address, the 11th gets 429 with Retry-After and never reaches
// the store (so no password is hashed); another address is not held back,
// and the address may try again when the minute has passed. Every call
// that checks a password is throttled.
func TestLoginThrottleByAddress(t *testing.T) {
	t.Parallel()
	for _, rt := range credentialRoutes {
		t.Run(rt.name, func(t *testing.T) {
			t.Parallel()
			e, clk := throttleEnv(t, lkhttp.Options{})
			const attacker = "198.51.100.7:40000"
			for i := 0; i < 10; i++ {
				if w := e.do(rt.req(fmt.Sprint("victim", i), attacker)); w.Code != 401 {
					t.Fatalf("attempt %d: %d %s", i+1, w.Code, w.Body)
				}
				clk.Add(time.Second)
			}
			wantThrottled(t, e, rt.req("victim99", "198.51.100.7:40001"), "address", 50)
			if n := len(e.st.recorded(rt.method)); n != 10 {
				t.Fatalf("the store checked %d passwords, want 10: the throttled one must not be hashed", n)
			}
			if w := e.do(rt.req("victim99", "203.0.113.5:1")); w.Code != 401 {
				t.Fatalf("another address: %d, want 401", w.Code)
			}
			clk.Add(50 * time.Second)
			if w := e.do(rt.req("victim99", attacker)); w.Code != 401 {
				t.Fatalf("after the window: %d, want 401", w.Code)
			}
		})
	}
}

// TestLoginThrottleByIdentity: failures on one identity from many
// addresses are limited too (20 in 15 minutes by default); another
// identity is not.
func TestLoginThrottleByIdentity(t *testing.T) {
	t.Parallel()
	for _, rt := range credentialRoutes {
		t.Run(rt.name, func(t *testing.T) {
			t.Parallel()
			e, clk := throttleEnv(t, lkhttp.Options{})
			for i := 0; i < 20; i++ {
				if w := e.do(rt.req("alice", fmt.Sprintf("198.51.100.%d:1", i))); w.Code != 401 {
					t.Fatalf("attempt %d: %d %s", i+1, w.Code, w.Body)
				}
			}
			clk.Add(time.Minute)
			wantThrottled(t, e, rt.req("alice", "203.0.113.1:1"), "identity", 14*60)
			if n := len(e.st.recorded(rt.method)); n != 20 {
				t.Fatalf("the store checked %d passwords, want 20", n)
			}
			if w := e.do(rt.req("bob", "203.0.113.1:1")); w.Code != 401 {
				t.Fatalf("another identity: %d, want 401", w.Code)
			}
		})
	}
}

// TestLoginThrottleCountsOnlyFailures: successful logons and other
// refusals are not counted.
func TestLoginThrottleCountsOnlyFailures(t *testing.T) {
	t.Parallel()
	e, _ := throttleEnv(t, lkhttp.Options{})
	e.st.err = nil
	for i := 0; i < 30; i++ {
		if w := e.do(credentialRoutes[0].req("alice", "198.51.100.7:1")); w.Code != 200 {
			t.Fatalf("login %d: %d %s", i+1, w.Code, w.Body)
		}
	}
	e.st.err = latchkey.Errorf(latchkey.EACCOUNTLOCKED, "locked")
	for i := 0; i < 30; i++ {
		if w := e.do(credentialRoutes[1].req("alice", "198.51.100.7:1")); w.Code != 423 {
			t.Fatalf("locked %d: %d %s", i+1, w.Code, w.Body)
		}
	}
}

// TestLoginThrottleConcurrent: many logons at once from one address
// (terminals behind one NAT) are not held back while none fails; a burst of
// concurrent guesses gets no more checks than the in-flight cap.
func TestLoginThrottleConcurrent(t *testing.T) {
	t.Parallel()
	burst := func(e *env, n int, gateAt int) map[int]int {
		t.Helper()
		gate := make(chan struct{})
		var entered sync.WaitGroup
		entered.Add(gateAt)
		var once sync.Once
		var mu sync.Mutex
		inStore := 0
		e.st.hook = func(string) error {
			mu.Lock()
			inStore++
			if inStore <= gateAt {
				entered.Done()
			}
			mu.Unlock()
			<-gate
			return nil
		}
		codes := make(chan int, n)
		for i := 0; i < n; i++ {
			go func() { codes <- e.do(credentialRoutes[0].req(fmt.Sprint("u", i), "198.51.100.7:1")).Code }()
		}
		count := map[int]int{}
		for i := 0; i < n-gateAt; i++ { // the ones beyond the cap are answered while the others wait in the store
			select {
			case c := <-codes:
				count[c]++
			case <-time.After(10 * time.Second):
				t.Fatalf("answers so far %v", count)
			}
		}
		entered.Wait()
		once.Do(func() { close(gate) })
		for i := 0; i < gateAt; i++ {
			count[<-codes]++
		}
		return count
	}

	e, _ := throttleEnv(t, lkhttp.Options{})
	e.st.err = nil
	if got := burst(e, 64, 64); got[200] != 64 {
		t.Fatalf("64 good logons at once from one address: %v, want all 200", got)
	}

	e, _ = throttleEnv(t, lkhttp.Options{AddressThrottle: lkhttp.Window{Limit: 10, Per: time.Minute, InFlight: 10}})
	if got := burst(e, 30, 10); got[429] != 20 || got[401] != 10 {
		t.Fatalf("answers %v, want 10 checked (401) and 20 throttled (429)", got)
	}
	if w := e.do(credentialRoutes[0].req("late", "198.51.100.7:1")); w.Code != 429 {
		t.Fatalf("after 10 failures: %d, want 429", w.Code)
	}
}

// TestLoginThrottleTrustedProxy: X-Forwarded-For names the client only
// when the connection comes from a trusted proxy.
func TestLoginThrottleTrustedProxy(t *testing.T) {
	t.Parallel()
	fwd := func(client string) req {
		r := credentialRoutes[0].req("alice", "10.0.0.1:5000")
		r.headers = map[string]string{"X-Forwarded-For": client}
		return r
	}
	e, _ := throttleEnv(t, lkhttp.Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	for i := 0; i < 10; i++ {
		e.do(fwd("198.51.100.7"))
	}
	wantThrottled(t, e, fwd("198.51.100.7"), "address", 60)
	if w := e.do(fwd("198.51.100.8")); w.Code != 401 {
		t.Fatalf("another client behind the proxy: %d, want 401", w.Code)
	}

	e, _ = throttleEnv(t, lkhttp.Options{}) // no trusted proxy: the header is the client's word
	for i := 0; i < 10; i++ {
		e.do(fwd(fmt.Sprint("198.51.100.", i)))
	}
	wantThrottled(t, e, fwd("198.51.100.200"), "address", 60)
}

// TestLoginThrottleConfigured: the windows are options; NoThrottle turns
// one off.
func TestLoginThrottleConfigured(t *testing.T) {
	t.Parallel()
	e, _ := throttleEnv(t, lkhttp.Options{AddressThrottle: lkhttp.Window{Limit: 3, Per: 10 * time.Second}, IdentityThrottle: lkhttp.NoThrottle})
	for i := 0; i < 3; i++ {
		e.do(credentialRoutes[0].req("alice", "198.51.100.7:1"))
	}
	wantThrottled(t, e, credentialRoutes[0].req("alice", "198.51.100.7:1"), "address", 10)
	for i := 0; i < 40; i++ { // the identity is never held back
		if w := e.do(credentialRoutes[0].req("alice", fmt.Sprintf("203.0.113.%d:1", i))); w.Code != 401 {
			t.Fatalf("attempt %d: %d", i, w.Code)
		}
	}
}

// TestStaffResetNotThrottled: a reset by staff checks no password, so an
// identity held back by the throttle can still be reset.
func TestStaffResetNotThrottled(t *testing.T) {
	t.Parallel()
	e, _ := throttleEnv(t, lkhttp.Options{IdentityThrottle: lkhttp.Window{Limit: 1, Per: time.Hour}})
	e.do(credentialRoutes[3].req("alice", "198.51.100.7:1"))
	wantThrottled(t, e, credentialRoutes[3].req("alice", "198.51.100.8:1"), "identity", 3600)
	e.st.err = nil
	w := e.do(req{method: "POST", path: "/v1/identities/alice/password", token: delegateToken, remote: "198.51.100.9:1",
		body: `{"new_password":"new-password-1"}`})
	if w.Code != 204 {
		t.Fatalf("reset by a delegate: %d %s", w.Code, w.Body)
	}
}

// TestThrottledNotReplayed: a 429 is not kept for an Idempotency-Key, so
// a retry with the same key after the wait runs again.
func TestThrottledNotReplayed(t *testing.T) {
	t.Parallel()
	e, clk := throttleEnv(t, lkhttp.Options{AddressThrottle: lkhttp.Window{Limit: 1, Per: time.Minute}})
	e.st.err = nil // the idempotency records work; only the password is wrong
	e.st.hook = func(method string) error {
		if method == "StartSession" {
			return latchkey.Errorf(latchkey.EINVALIDCREDENTIALS, "wrong identity or password")
		}
		return nil
	}
	keyed := func(key string) req {
		r := credentialRoutes[1].req("alice", "198.51.100.7:1")
		r.headers = map[string]string{"Idempotency-Key": key}
		return r
	}
	if w := e.do(keyed("k1")); w.Code != 401 {
		t.Fatalf("first: %d %s", w.Code, w.Body)
	}
	wantThrottled(t, e, keyed("k2"), "address", 60)
	clk.Add(time.Minute)
	if w := e.do(keyed("k2")); w.Code != 401 || w.Header().Get("Idempotent-Replayed") != "" {
		t.Fatalf("retry after the wait: %d %v %s, want the call run again", w.Code, w.Header(), w.Body)
	}
}
