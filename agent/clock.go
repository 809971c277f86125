package agent

import (
	"sync"
	"time"
)

// Clock is all the time the agent reads or waits on: the instruction
// loop (Agent.Clock), the gateway (GatewayOptions.Clock, which its
// TrustedClock reads) and the Trust (TrustOptions.Clock). Nothing in the
// agent calls time.Now, time.Since, time.After or time.NewTicker itself,
// so a test that injects a fake drives all of the agent's time. (The
// deadlines of I/O, context.WithTimeout on a call to the server, the
// socket's shutdown or a group tool, stay the machine's: they bound real
// waits, not the agent's time.) SystemClock is the machine's.
//
// Wall is the machine's wall clock (which anyone at the PC may change);
// the system's readings carry Go's monotonic reading too, so the
// difference of two of them (an interval the agent waits out) is immune
// to a wall clock change, as time.Since is. Boottime is the time since
// boot including suspend (CLOCK_BOOTTIME, which nobody can set) and
// BootID the identity of the current boot (a new one after every
// reboot). NewTicker and After are time.NewTicker and time.After.
type Clock interface {
	Wall() time.Time
	Boottime() time.Duration
	BootID() string
	NewTicker(d time.Duration) Ticker
	After(d time.Duration) <-chan time.Time
}

// Ticker is a Clock's ticker: C delivers the ticks, Stop ends them.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

// NewTicker implements Clock: time.NewTicker.
func (SystemClock) NewTicker(d time.Duration) Ticker { return systemTicker{time.NewTicker(d)} }

// After implements Clock: time.After.
func (SystemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

type systemTicker struct{ t *time.Ticker }

func (s systemTicker) C() <-chan time.Time { return s.t.C }
func (s systemTicker) Stop()               { s.t.Stop() }

// ClockAnchor ties the server's time to a boottime reading of one boot:
// at boottime Boot of boot BootID the server's clock read Server.
type ClockAnchor struct {
	Server time.Time     `json:"server"`
	Boot   time.Duration `json:"boot"`
	BootID string        `json:"boot_id"`
}

// valid reports whether the anchor can extrapolate the server's time at
// boottime boot of boot id.
func (a ClockAnchor) valid(boot time.Duration, id string) bool {
	return !a.Server.IsZero() && a.BootID == id && boot >= a.Boot
}

// TrustedClock is the agent's clock for sessions: time offline must not be
// extendable by setting the PC's wall clock back. While the boot of its
// anchor lasts it reads the server's time at the anchor plus the boottime
// since; after a reboot (or before any anchor) it reads the wall clock,
// but never earlier than the latest time it has handed out (its
// high-water mark, persisted by the agent). It is safe for concurrent
// use.
type TrustedClock struct {
	src    Clock
	mu     sync.Mutex
	anchor ClockAnchor
	high   time.Time
}

// NewTrustedClock returns a clock over src with a persisted anchor and
// high-water mark (either may be zero).
func NewTrustedClock(src Clock, anchor ClockAnchor, high time.Time) *TrustedClock {
	if src == nil {
		src = SystemClock{}
	}
	return &TrustedClock{src: src, anchor: anchor, high: high.UTC()}
}

// Now returns the trusted time (UTC).
func (c *TrustedClock) Now() time.Time {
	boot, id := c.src.Boottime(), c.src.BootID()
	c.mu.Lock()
	defer c.mu.Unlock()
	var t time.Time
	if c.anchor.valid(boot, id) {
		t = c.anchor.Server.Add(boot - c.anchor.Boot)
	} else {
		t = c.src.Wall()
		if t.Before(c.high) {
			t = c.high
		}
	}
	if t.After(c.high) {
		c.high = t
	}
	return t.UTC()
}

// Anchored reports whether the clock reads server time (an anchor of the
// current boot).
func (c *TrustedClock) Anchored() bool {
	boot, id := c.src.Boottime(), c.src.BootID()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.anchor.valid(boot, id)
}

// SetAnchor anchors the clock at the server time server, read now, and
// returns the anchor (for persisting).
func (c *TrustedClock) SetAnchor(server time.Time) ClockAnchor {
	a := ClockAnchor{Server: server.UTC(), Boot: c.src.Boottime(), BootID: c.src.BootID()}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.anchor = a
	return a
}

// State returns the anchor and the high-water mark, for persisting.
func (c *TrustedClock) State() (ClockAnchor, time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.anchor, c.high
}

// Boot returns the boottime reading and the boot's identity: sessions
// measure their length on it.
func (c *TrustedClock) Boot() (time.Duration, string) {
	return c.src.Boottime(), c.src.BootID()
}

// Since returns how long ago (in boottime) the reading boot of boot id
// was, and false if that was in another boot.
func (c *TrustedClock) Since(boot time.Duration, id string) (time.Duration, bool) {
	now, cur := c.src.Boottime(), c.src.BootID()
	if cur != id || now < boot {
		return 0, false
	}
	return now - boot, true
}
