package agent

import (
	"context"
	"time"

	"latchkey"
)

// Activity from the terminal's software (issue 14): the counter app
// reports the person's activity through the socket (POST /touch), and the
// gateway passes it on to the server, batched, so that a busy clerk is
// not locked or logged off by the inactivity and forced timeouts, which
// otherwise see only log-ons, locks and unlocks.

// DefaultTouchEvery is how often, at most, the gateway sends activity to
// the server: the timeouts are minutes, and a clerk typing makes many
// touches a second.
const DefaultTouchEvery = 30 * time.Second

// touchDue says whether activity at activity is to be sent at now, the
// last one having been sent at sent: there is activity newer than what
// was sent, and the last send is at least every ago (the first is due at
// once).
func touchDue(activity, sent, now time.Time, every time.Duration) bool {
	return activity.After(sent) && (sent.IsZero() || now.Sub(sent) >= every)
}

// Touch records activity at the terminal: the session in progress must be
// unlocked (activity on a locked counter is nobody's). The server hears of
// it now or, batched, within TouchEvery (Tick sends what waits); while
// standalone it is not sent, since the server's timeouts do not run on an
// offline session.
func (g *Gateway) Touch(ctx context.Context) (Status, error) {
	g.op.Lock()
	defer g.op.Unlock()
	s := g.current()
	switch {
	case s == nil:
		return Status{}, latchkey.Errorf(latchkey.ECONFLICT, "no session is in progress at this terminal")
	case s.LockedAt != nil:
		return Status{}, latchkey.Errorf(latchkey.ECONFLICT, "the terminal is locked: activity counts once it is unlocked")
	}
	g.mu.Lock()
	g.activity = g.clock.Now()
	g.mu.Unlock()
	g.sendTouch(ctx, *s)
	return g.Status(ctx), nil
}

// sendTouch sends the activity waiting, if it is due and the server knows
// the session (under op). A session the server has ended is dropped; an
// unreachable server leaves the activity for later.
func (g *Gateway) sendTouch(ctx context.Context, s gwSession) {
	g.mu.Lock()
	activity, sent := g.activity, g.touchSent
	g.mu.Unlock()
	if !touchDue(activity, sent, g.clock.Now(), g.o.TouchEvery) {
		return
	}
	g.sendTouchNow(ctx, s)
}

// sendTouchNow sends the activity waiting now, batched or not (under op).
func (g *Gateway) sendTouchNow(ctx context.Context, s gwSession) {
	now := g.clock.Now()
	if !g.online() || !s.State.known() || s.LockedAt != nil {
		return
	}
	srv, err := call(g, ctx, func(c context.Context) (*latchkey.Session, error) { return g.client.TouchSession(c, s.ID) })
	if err != nil {
		if !isUnreachable(err) {
			g.log.Warn("touch refused", "session", s.ID, "err", err)
			if err := g.dropIfGone(ctx, s, err); err != nil {
				g.log.Error("end session", "session", s.ID, "err", err)
			}
		}
		return
	}
	g.mu.Lock()
	g.touchSent = now
	g.mu.Unlock()
	g.seen(s.ID, srv.LastActivityAt)
}
