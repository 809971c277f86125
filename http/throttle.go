package http

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Window is the login throttle's rule for one key (a client address or an
// identity): at most Limit failed password checks within any span of Per.
// A key that reached it gets no further check until enough of its failures
// are older than Per. Checks still running are not failures yet, so
// legitimate logons at once from one address (terminals behind one NAT)
// are not held back; but at most InFlight run at once per key, which bounds
// how many guesses a burst of concurrent requests gets past the limit.
type Window struct {
	Limit    int           // failures allowed within Per; 0 → the default, < 0 → no throttle
	Per      time.Duration // the sliding window
	InFlight int           // checks running at once per key; 0 → DefaultInFlight
}

// DefaultInFlight is how many password checks of one key may run at once.
const DefaultInFlight = 100

// Defaults of the login throttle (docs/security.md, "Throttling and slow
// clients"). An address gets 10 failures a minute. An identity gets 20 in
// 15 minutes: above the store's lockout (5 in a row), so a person who
// mistypes meets the lockout first, yet bounding how fast many addresses
// together can guess one identity's password on one node.
var (
	DefaultAddressWindow  = Window{Limit: 10, Per: time.Minute}
	DefaultIdentityWindow = Window{Limit: 20, Per: 15 * time.Minute}
	// NoThrottle turns a throttle off.
	NoThrottle = Window{Limit: -1}
)

// Off reports whether w throttles nothing.
func (w Window) Off() bool { return w.Limit < 0 }

// String is the flag form: "10/1m0s", or "off".
func (w Window) String() string {
	if w.Off() {
		return "off"
	}
	return strconv.Itoa(w.Limit) + "/" + w.Per.String()
}

// ParseWindow reads a throttle flag: "N/DURATION" (e.g. "10/1m"), or "off".
func ParseWindow(s string) (Window, error) {
	if s == "off" {
		return NoThrottle, nil
	}
	n, d, ok := strings.Cut(s, "/")
	if !ok {
		return Window{}, fmt.Errorf("want N/DURATION (e.g. 10/1m) or off, got %q", s)
	}
	limit, err := strconv.Atoi(n)
	if err != nil || limit < 1 || limit > 1_000_000 {
		return Window{}, fmt.Errorf("%q: the number of failures must be 1 to 1000000", s)
	}
	per, err := time.ParseDuration(d)
	if err != nil || per < time.Second || per > 24*time.Hour {
		return Window{}, fmt.Errorf("%q: the window must be a duration from 1s to 24h", s)
	}
	return Window{Limit: limit, Per: per}, nil
}

// attempts is what a throttle knows of one key.
type attempts struct {
	failures []time.Time // within the window, oldest first, at most Limit of them
	inflight int         // checks admitted and not yet ended
}

// admit decides whether one more check may run for a key in state a at
// now. When it may not, wait is how long until one may (whole seconds, at
// least one): until the oldest failure that counts leaves the window, or a
// second when only the checks in flight hold it back.
func (w Window) admit(a attempts, now time.Time) (wait time.Duration, ok bool) {
	if w.Off() {
		return 0, true
	}
	recent := w.recent(a.failures, now)
	if n := len(recent); n >= w.Limit {
		return roundUpSeconds(recent[n-w.Limit].Add(w.Per).Sub(now)), false
	}
	inFlight := w.InFlight
	if inFlight <= 0 {
		inFlight = DefaultInFlight
	}
	if a.inflight >= inFlight {
		return time.Second, false
	}
	return 0, true
}

// record adds a failure at now to failures, keeping those still within
// the window, at most Limit (older ones no longer matter to admit).
func (w Window) record(failures []time.Time, now time.Time) []time.Time {
	if w.Off() {
		return nil
	}
	kept := append(w.recent(failures, now), now)
	if len(kept) > w.Limit {
		kept = kept[len(kept)-w.Limit:]
	}
	return append(failures[:0], kept...)
}

// recent returns the failures within the window ending at now: those
// after now-Per.
func (w Window) recent(failures []time.Time, now time.Time) []time.Time {
	start := now.Add(-w.Per)
	i := 0
	for i < len(failures) && !failures[i].After(start) {
		i++
	}
	return failures[i:]
}

func roundUpSeconds(d time.Duration) time.Duration {
	if d < time.Second {
		return time.Second
	}
	return (d + time.Second - 1).Truncate(time.Second)
}

// defaultThrottleKeys bounds how many keys a throttle remembers.
const defaultThrottleKeys = 50_000

// throttle applies a Window to many keys, in this node's memory: a guard
// against guessing, not a record (the store's durable lockout of an
// identity is what holds across nodes and restarts). It is safe for
// concurrent use.
type throttle struct {
	rule    Window
	now     func() time.Time
	maxKeys int

	mu        sync.Mutex
	keys      map[string]*attempts
	lastSweep time.Time
}

func newThrottle(rule Window, now func() time.Time, maxKeys int) *throttle {
	if rule.Limit == 0 || !rule.Off() && rule.Per <= 0 {
		panic("throttle: the window's defaults must be applied first")
	}
	if maxKeys <= 0 {
		maxKeys = defaultThrottleKeys
	}
	return &throttle{rule: rule, now: now, maxKeys: maxKeys, keys: map[string]*attempts{}}
}

// begin admits one check for key, which then counts as in flight until
// end; or refuses it with the wait.
func (t *throttle) begin(key string) (wait time.Duration, ok bool) {
	if t.rule.Off() {
		return 0, true
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	a := t.keys[key]
	if a == nil {
		a = &attempts{}
	}
	if wait, ok = t.rule.admit(*a, now); !ok {
		return wait, false
	}
	if t.keys[key] == nil {
		t.makeRoom(now)
		t.keys[key] = a
	}
	a.inflight++
	return 0, true
}

// end ends a check begun for key, counting it if it failed.
func (t *throttle) end(key string, failed bool) {
	if t.rule.Off() {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	a := t.keys[key]
	if a == nil { // evicted meanwhile (only under a flood of keys)
		if !failed {
			return
		}
		a = &attempts{inflight: 1}
		t.makeRoom(t.now())
		t.keys[key] = a
	}
	a.inflight--
	if failed {
		a.failures = t.rule.record(a.failures, t.now())
	}
	if a.inflight == 0 && len(a.failures) == 0 {
		delete(t.keys, key)
	}
}

// makeRoom keeps the map bounded. Once per window, and at most once a
// second while the map is full, it forgets keys whose failures all left
// the window; a map still full loses one entry (Go's map order: an
// arbitrary one). So a flood of distinct keys costs memory up to maxKeys,
// never more, and weakens only this node's throttle (the store's lockout
// still guards each identity).
func (t *throttle) makeRoom(now time.Time) {
	since := now.Sub(t.lastSweep)
	if since >= t.rule.Per || len(t.keys) >= t.maxKeys && since >= time.Second {
		t.lastSweep = now
		for k, a := range t.keys {
			if a.inflight == 0 && len(t.rule.recent(a.failures, now)) == 0 {
				delete(t.keys, k)
			}
		}
	}
	for k := range t.keys {
		if len(t.keys) < t.maxKeys {
			break
		}
		delete(t.keys, k)
	}
}

// size is how many keys t remembers (for tests).
func (t *throttle) size() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.keys)
}
