package agent

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"latchkey"
	"latchkey/client"
	"latchkey/httplimit"
	"latchkey/passhash"
)

// Modes of the gateway.
const (
	ModeOnline     = "online"
	ModeStandalone = "standalone"
)

// GatewayOptions configure a Gateway. Client and Journal are required.
type GatewayOptions struct {
	Client  *client.Client // with the terminal's token
	Journal *Journal
	// Clock is all the gateway's time (default: the machine's): its
	// trusted clock reads it, Run's ticks and intervals run on it, and so
	// does the Trust it makes when Trust is nil.
	Clock Clock
	Log   *slog.Logger
	// Terminal is the terminal's ID (default: the policy's).
	Terminal string
	// PolicyEvery is how often the policy is refreshed while online
	// (default 1 min); ProbeEvery how often the server is tried while
	// standalone (default 5 s); TickEvery how often limits are checked
	// (default 1 s); CallTimeout bounds one call to the server (default
	// 10 s).
	PolicyEvery, ProbeEvery, TickEvery, CallTimeout time.Duration
	// TouchEvery is how often, at most, activity reported through the
	// socket is sent to the server (default DefaultTouchEvery).
	TouchEvery time.Duration
	// Verify checks a password against a cached verifier (default
	// passhash.Verify).
	Verify func(password, encoded string) bool
	// Socket bounds the clients of the local socket (default
	// DefaultSocketLimits).
	Socket httplimit.Limits
	// Trust checks the policy's signature under the pinned server key
	// (trust.go); nil: one with the default options, on first use.
	Trust *Trust
}

// DefaultSocketLimits bound the gateway's local socket: a request's
// headers and body must arrive within 10 s, an idle connection closes
// after 120 s, and at most 64 connections are open at once (the
// terminal's software needs a few).
var DefaultSocketLimits = httplimit.Limits{ReadTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second, MaxConns: 64}

// Gateway is the terminal's way to the server: the terminal's software
// logs people on, locks, unlocks and logs off through it (served on a
// unix socket, gateway_http.go), and it keeps the terminal usable when
// the server cannot be reached. A call that fails with a transport error
// or unavailable puts it in standalone mode; there it applies the site's
// standalone rules to the policy it cached (gateway_offline.go) and
// journals every session, durably, for upload; it probes the server and
// leaves standalone mode by itself when the server answers again
// (gateway_sync.go). It enforces each session's limit by itself, online
// and offline, on a clock the PC's wall clock cannot move (TrustedClock).
type Gateway struct {
	o      GatewayOptions
	client *client.Client
	j      *Journal
	clock  *TrustedClock
	log    *slog.Logger
	verify func(password, encoded string) bool
	kick   chan struct{}

	op sync.Mutex // one operation at a time: login, lock, unlock, logout, tick, sync

	mu     sync.Mutex // guards what follows; cur is replaced, never changed in place
	mode   string
	since  time.Time
	policy *latchkey.AgentPolicy
	cur    *gwSession
	last   *EndedSession
	// passwords of offline sessions whose password the agent could not
	// check (auth any): in memory only, sent with their upload.
	passwords map[string]string

	// activity is the last activity the terminal's software reported
	// (Touch) and touchSent when activity was last sent to the server.
	activity, touchSent time.Time
	// idle is the last activity the server knows of the session in
	// progress, and idleAsked when the server was last asked whether the
	// forced timeout ended it (gateway_idle.go).
	idle      idleSeen
	idleAsked time.Time
	// eventsWaiting is true while deferred events may wait in the journal
	// (gateway_events.go); eventsSent is when Tick last sent them (under
	// op).
	eventsWaiting bool
	eventsSent    time.Time

	clockSaved time.Time // when the clock's high-water mark was last persisted (under op)
	reported   bool      // the mode was reported to the server since the start (under op)
}

// Journal state keys.
const (
	stateClock  = "clock"
	stateMode   = "mode"
	statePolicy = "policy"
)

type clockState struct {
	Anchor ClockAnchor `json:"anchor"`
	High   time.Time   `json:"high"`
}

type modeState struct {
	Mode  string    `json:"mode"`
	Since time.Time `json:"since"`
}

// OpenGateway loads the gateway's state from the journal: the clock's
// anchor, the mode, the cached policy and the session in progress. A
// session of an earlier boot has ended (the PC restarted): it is recorded
// as ended at the clock's last high-water mark, to be reported.
func OpenGateway(ctx context.Context, o GatewayOptions) (*Gateway, error) {
	if o.Client == nil || o.Journal == nil {
		return nil, errors.New("gateway: a client and a journal are required")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.PolicyEvery, time.Minute)
	def(&o.ProbeEvery, 5*time.Second)
	def(&o.TickEvery, time.Second)
	def(&o.CallTimeout, 10*time.Second)
	def(&o.TouchEvery, DefaultTouchEvery)
	if o.Clock == nil {
		o.Clock = SystemClock{}
	}
	if o.Socket == (httplimit.Limits{}) {
		o.Socket = DefaultSocketLimits
	}
	g := &Gateway{o: o, client: o.Client, j: o.Journal, log: o.Log, verify: o.Verify,
		kick: make(chan struct{}, 1), mode: ModeOnline, passwords: map[string]string{},
		eventsWaiting: true} // events an earlier run left are looked for once
	if g.log == nil {
		g.log = slog.Default()
	}
	if g.verify == nil {
		g.verify = func(password, encoded string) bool {
			ok, err := passhash.Verify(password, encoded)
			return ok && err == nil
		}
	}
	var cs clockState
	if _, err := g.j.getState(ctx, stateClock, &cs); err != nil {
		return nil, err
	}
	g.clock = NewTrustedClock(o.Clock, cs.Anchor, cs.High)
	var ms modeState
	if found, err := g.j.getState(ctx, stateMode, &ms); err != nil {
		return nil, err
	} else if found && ms.Mode == ModeStandalone {
		g.mode, g.since = ms.Mode, ms.Since
	}
	var p latchkey.AgentPolicy
	if found, err := g.j.getState(ctx, statePolicy, &p); err != nil {
		return nil, err
	} else if found {
		g.policy = &p
	}
	if o.Trust == nil {
		t, err := OpenTrust(ctx, o.Journal, TrustOptions{Log: g.log, Clock: o.Clock})
		if err != nil {
			return nil, err
		}
		g.o.Trust = t
	}
	s, err := g.j.openSession(ctx)
	if err != nil {
		return nil, err
	}
	if s != nil {
		if _, same := g.clock.Since(s.StartBoot, s.BootID); same {
			g.cur = s
		} else if err := g.endAfterReboot(ctx, *s, cs.High); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// endAfterReboot records the end of a session of an earlier boot: at the
// last time the agent is known to have been running, or its limit if
// earlier.
func (g *Gateway) endAfterReboot(ctx context.Context, s gwSession, high time.Time) error {
	at := high
	if at.Before(s.StartedAt) {
		at = s.StartedAt
	}
	if !s.EndsAt.IsZero() && s.EndsAt.Before(at) {
		at = s.EndsAt
	}
	st, ok := next(s.State, evEndUntold)
	if !ok {
		return refusedTransition(s.ID, s.State, evEndUntold)
	}
	s.State, s.EndedAt, s.EndReason = st, &at, "reboot"
	g.log.Info("session of an earlier boot ended", "session", s.ID, "at", at)
	return g.j.saveSession(ctx, &s)
}

// Clock returns the gateway's trusted clock.
func (g *Gateway) Clock() *TrustedClock { return g.clock }

// Mode returns online or standalone.
func (g *Gateway) Mode() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.mode
}

// Run contacts the server at once, then until ctx ends checks the
// session's limit every TickEvery, refreshes the policy every PolicyEvery
// while online and probes the server every ProbeEvery while standalone.
func (g *Gateway) Run(ctx context.Context) error {
	g.Sync(ctx)
	clock := g.o.Clock
	last := clock.Wall()
	t := clock.NewTicker(g.o.TickEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			g.op.Lock()
			g.saveClock(context.WithoutCancel(ctx), true)
			g.op.Unlock()
			return ctx.Err()
		case <-g.kick:
			g.Sync(ctx)
			last = clock.Wall()
		case <-t.C():
		}
		g.Tick(ctx)
		every := g.o.PolicyEvery
		if g.Mode() == ModeStandalone {
			every = g.o.ProbeEvery
		}
		if clock.Wall().Sub(last) >= every && ctx.Err() == nil {
			g.Sync(ctx)
			last = clock.Wall()
		}
	}
}

// ServerUnreachable tells the gateway that another call to the server
// (the instruction poll) failed: a transport error or unavailable puts it
// in standalone mode.
func (g *Gateway) ServerUnreachable(err error) {
	if IsOffline(err) {
		g.goStandalone(context.Background(), err)
	}
}

// ServerReachable tells the gateway that another call to the server
// succeeded: in standalone mode it tries to reconnect at once.
func (g *Gateway) ServerReachable() {
	if g.Mode() != ModeStandalone {
		return
	}
	select {
	case g.kick <- struct{}{}:
	default:
	}
}

// IsOffline reports whether err means the server could not be reached:
// a transport error (anything but an API error) or the API's unavailable.
// Any other API error is a real answer.
func IsOffline(err error) bool {
	if err == nil {
		return false
	}
	var e *latchkey.Error
	if errors.As(err, &e) {
		return e.Code == latchkey.EUNAVAILABLE
	}
	return true
}

// goStandalone enters standalone mode (once) and records it.
func (g *Gateway) goStandalone(ctx context.Context, cause error) {
	g.mu.Lock()
	if g.mode == ModeStandalone {
		g.mu.Unlock()
		return
	}
	g.mode, g.since = ModeStandalone, g.clock.Now()
	st := modeState{g.mode, g.since}
	g.mu.Unlock()
	g.log.Warn("server unreachable: standalone mode", "err", cause)
	if err := g.j.putState(context.WithoutCancel(ctx), stateMode, st); err != nil {
		g.log.Error("journal mode", "err", err)
	}
}

// goOnline leaves standalone mode and records it.
func (g *Gateway) goOnline(ctx context.Context, at time.Time) error {
	g.mu.Lock()
	g.mode, g.since = ModeOnline, at
	st := modeState{g.mode, g.since}
	g.mu.Unlock()
	g.log.Info("server reachable: online")
	return g.j.putState(ctx, stateMode, st)
}

func (g *Gateway) online() bool { return g.Mode() == ModeOnline }

// callCtx bounds one call to the server; it does not end with the request
// that caused it, so that a caller going away does not look like an
// unreachable server.
func (g *Gateway) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), g.o.CallTimeout)
}

// current returns the session in progress (a value that is never changed
// in place), or nil.
func (g *Gateway) current() *gwSession {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.cur
}

func (g *Gateway) cachedPolicy() *latchkey.AgentPolicy {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.policy
}

// store journals s (one synced commit) and makes it the session in
// progress, or, when it has ended, no longer.
func (g *Gateway) store(ctx context.Context, s gwSession) error {
	if err := g.j.saveSession(context.WithoutCancel(ctx), &s); err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case s.EndedAt == nil:
		g.cur = &s
	case g.cur != nil && g.cur.ID == s.ID:
		g.cur = nil
		g.last = &EndedSession{ID: s.ID, Identity: s.Identity, Reason: s.EndReason, At: *s.EndedAt}
		delete(g.passwords, s.ID)
	}
	return nil
}

// sessionNow is the time by s's own clock: its start plus the boottime
// since (the trusted clock if the boot has changed).
func (g *Gateway) sessionNow(s *gwSession) time.Time {
	if d, ok := g.clock.Since(s.StartBoot, s.BootID); ok {
		return s.StartedAt.Add(d)
	}
	return g.clock.Now()
}

// Tick ends the session in progress when its limit has come (logged off
// by the agent itself, online or not), sends the activity waiting when it
// is due, and persists the clock's high-water mark now and then.
func (g *Gateway) Tick(ctx context.Context) {
	g.op.Lock()
	defer g.op.Unlock()
	if s := g.current(); s != nil && !s.EndsAt.IsZero() && !g.sessionNow(s).Before(s.EndsAt) {
		kind := endLimit
		if s.State == stateWarned {
			kind = endVerdict
		}
		g.log.Info("session limit reached: logging off", "session", s.ID, "limit", s.Limit)
		if err := g.endSession(ctx, *s, s.EndsAt, s.Limit, kind); err != nil {
			g.log.Error("end session", "session", s.ID, "err", err)
		}
	}
	if s := g.current(); s != nil {
		g.sendTouch(ctx, *s) // batched activity whose time has come
	}
	if s := g.current(); s != nil {
		g.tickIdle(ctx, *s) // the forced timeout's warning and end
	}
	g.tickEvents(ctx)
	g.saveClock(ctx, false)
}

// saveClock persists the clock's anchor and its high-water mark, moved up
// to now (at most every 10 s unless now is set).
func (g *Gateway) saveClock(ctx context.Context, now bool) {
	if !now && g.o.Clock.Wall().Sub(g.clockSaved) < 10*time.Second {
		return
	}
	g.clock.Now() // moves the high-water mark up to now
	a, high := g.clock.State()
	if err := g.j.putState(context.WithoutCancel(ctx), stateClock, clockState{a, high}); err != nil {
		g.log.Error("journal clock", "err", err)
		return
	}
	g.clockSaved = g.o.Clock.Wall()
}
