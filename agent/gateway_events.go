package agent

import (
	"context"
	"strconv"
	"time"

	"latchkey"
)

// eventsEvery is how often, at most, Tick sends the deferred events that
// wait while the server can be reached (a sync sends them too).
const eventsEvery = 5 * time.Second

// deferredEvent is event 24 or 25 of session s at at. Its ID is made
// from the session, the event and the time, so the same lock reported
// twice (its own report failed after it) is one event.
func deferredEvent(event int, s gwSession, at time.Time) latchkey.TerminalEvent {
	kind := map[int]string{latchkey.EventPositionLocked: "lock", latchkey.EventPositionUnlocked: "unlock"}[event]
	return latchkey.TerminalEvent{ID: kind + "-" + s.ID + "-" + strconv.FormatInt(at.UnixMicro(), 36),
		Event: event, OccurredAt: at.UTC(), Identity: s.Identity}
}

// raise queues a deferred event in the journal (under op). A journal that
// cannot take it is logged: the lock or unlock itself stands.
func (g *Gateway) raise(ctx context.Context, e latchkey.TerminalEvent) {
	if err := g.j.queueEvent(context.WithoutCancel(ctx), e); err != nil {
		g.log.Error("deferred event not recorded", "event", e.Event, "id", e.ID, "err", err)
		return
	}
	g.mu.Lock()
	g.eventsWaiting = true
	g.mu.Unlock()
}

// sendEvents sends the deferred events waiting, in batches, and forgets
// those the server stored (under op). Only an unreachable server stops
// it with an error; a batch the server refuses is logged and kept.
func (g *Gateway) sendEvents(ctx context.Context) error {
	g.mu.Lock()
	waiting := g.eventsWaiting
	g.mu.Unlock()
	if !waiting {
		return nil
	}
	dctx := context.WithoutCancel(ctx)
	for {
		es, err := g.j.queuedEvents(dctx, latchkey.MaxEventBatch)
		if err != nil {
			return err
		}
		if len(es) == 0 {
			g.mu.Lock()
			g.eventsWaiting = false
			g.mu.Unlock()
			return nil
		}
		term, err := g.terminalID(ctx)
		if err != nil {
			return err
		}
		_, err = call(g, ctx, func(c context.Context) (int, error) { return g.client.PostTerminalEvents(c, term, es) })
		if isUnreachable(err) {
			return err
		}
		if err != nil {
			g.log.Error("deferred events refused; kept to send again", "events", len(es), "err", err)
			return nil
		}
		if err := g.j.dropEvents(dctx, es); err != nil {
			return err
		}
	}
}

// tickEvents sends the deferred events waiting, every eventsEvery at most
// while online (under op).
func (g *Gateway) tickEvents(ctx context.Context) {
	now := g.o.Clock.Wall()
	if !g.online() || now.Sub(g.eventsSent) < eventsEvery {
		return
	}
	g.eventsSent = now
	if err := g.sendEvents(ctx); err != nil && !isUnreachable(err) {
		g.log.Error("deferred events", "err", err)
	}
}
