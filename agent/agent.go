package agent

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"latchkey"
	"latchkey/client"
)

// Agent runs one terminal's instructions and, with a Gateway, is the
// terminal's gateway to the server (gateway.go).
type Agent struct {
	Client   *client.Client // with the terminal's token
	Journal  *Journal
	Executor Executor
	Log      *slog.Logger
	// Trust checks every instruction before it is executed (trust.go);
	// nil: one with the default options (the key pinned on first use, the
	// policy's groups, 1440 minutes at most), made on first use.
	Trust *Trust
	// Gateway (optional) runs alongside the instruction loop; the loop's
	// unreachable polls put it in standalone mode, and a poll answered
	// makes it try to reconnect at once.
	Gateway *Gateway
	// Wait is the long-poll length (default 30 s).
	Wait time.Duration
	// Clock is all the agent's time (default: the machine's): the time
	// memberships are granted and expire by, the expiry ticks, the
	// back-off sleeps, the policy refresh gap, and the Trust it makes when
	// Trust is nil.
	Clock Clock
	// Now, if set, reads the time memberships are granted and expire by
	// in place of Clock's wall clock (the API suite sets it to its fake
	// clock, shared with its server); the intervals, ticks and sleeps stay
	// Clock's.
	Now func() time.Time

	mu sync.Mutex // one change of memberships at a time: instructions and expiry

	trustMu     sync.Mutex
	lastRefresh time.Time // the last policy fetched for the instruction loop
}

// Run polls and executes until ctx ends. Every second (and after every
// poll) it also removes the memberships whose end has passed, by its own
// clock, whether or not the server can be reached.
func (a *Agent) Run(ctx context.Context) error {
	if a.Wait == 0 {
		a.Wait = 30 * time.Second
	}
	go a.expireLoop(ctx)
	if a.Gateway != nil {
		done := make(chan struct{})
		defer func() { <-done }()
		go func() {
			defer close(done)
			a.Gateway.Run(ctx)
		}()
	}
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		ins, err := a.Client.PollInstructions(ctx, a.Wait)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			if a.Gateway != nil {
				a.Gateway.ServerUnreachable(err)
			}
			a.logger().Warn("poll failed; retrying", "err", err, "in", backoff)
			a.sleep(ctx, jitter(backoff))
			backoff = min(2*backoff, 10*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		if a.Gateway != nil {
			a.Gateway.ServerReachable()
		}
		for _, in := range ins {
			if err := a.Handle(ctx, in); err != nil && ctx.Err() == nil {
				a.logger().Error("instruction", "id", in.ID, "err", err)
			}
		}
	}
	return ctx.Err()
}

func (a *Agent) logger() *slog.Logger {
	if a.Log == nil {
		return slog.Default()
	}
	return a.Log
}

// clock is the agent's Clock.
func (a *Agent) clock() Clock {
	if a.Clock == nil {
		return SystemClock{}
	}
	return a.Clock
}

// now is the time memberships are granted and expire by: Now, else the
// clock's.
func (a *Agent) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return a.clock().Wall()
}

// Handle executes one instruction exactly once and replies: a
// re-delivered instruction is not executed again, only its recorded reply
// is sent. The journal is synced before the reply leaves. An instruction
// the agent's Trust refuses is never executed: it is answered with an
// error (and, when the refusal is final, journalled as one).
func (a *Agent) Handle(ctx context.Context, in latchkey.Instruction) error {
	if in.Kind == latchkey.InstrInventory {
		return a.inventory(ctx, in)
	}
	e, err := a.Journal.Lookup(ctx, in.ID)
	if err != nil {
		return err
	}
	if e == nil {
		admitted, note, err := a.admit(ctx, in)
		var refused *Refusal
		switch {
		case errors.As(err, &refused):
			a.logger().Error("instruction refused: not executed", "instruction", in.ID, "kind", in.Kind,
				"login", in.Login, "groups", in.Groups, "reason", refused.Reason)
			e = &Executed{Result: latchkey.ReplyError, Detail: refused.Error()}
			if refused.Final {
				if err := a.recordRefusal(ctx, in, *e); err != nil {
					return err
				}
			}
		case err != nil:
			return err
		default:
			if note != "" {
				a.logger().Warn("instruction clipped", "instruction", in.ID, "note", note)
			}
			done, err := a.execute(ctx, admitted, note)
			if err != nil {
				return err
			}
			e = &done
		}
	}
	return a.reply(ctx, in.ID, latchkey.Reply{Result: e.Result, Detail: e.Detail})
}

// trust returns the agent's Trust, made with the default options on first
// use.
func (a *Agent) trust(ctx context.Context) (*Trust, error) {
	a.trustMu.Lock()
	defer a.trustMu.Unlock()
	if a.Trust == nil {
		t, err := OpenTrust(ctx, a.Journal, TrustOptions{Log: a.Log, Clock: a.clock()})
		if err != nil {
			return nil, err
		}
		a.Trust = t
	}
	return a.Trust, nil
}

// policyRefreshGap is the least time between two policy fetches made
// because an instruction named a group the last policy did not list.
const policyRefreshGap = time.Second

// admit fetches a fresh policy when one could change the verdict (none
// verified yet, or a grant of a group the last one did not list: a group
// set made since), then asks the Trust.
func (a *Agent) admit(ctx context.Context, in latchkey.Instruction) (latchkey.Instruction, string, error) {
	t, err := a.trust(ctx)
	if err != nil {
		return in, "", err
	}
	if t.needsPolicy(in) {
		a.trustMu.Lock()
		now := a.clock().Wall()
		due := !t.HasPolicy() || now.Sub(a.lastRefresh) >= policyRefreshGap
		if due {
			a.lastRefresh = now
		}
		a.trustMu.Unlock()
		if due {
			if p, err := a.Client.AgentPolicy(ctx); err != nil {
				a.logger().Warn("policy fetch for an instruction failed", "instruction", in.ID, "err", err)
			} else if err := t.AcceptPolicy(ctx, p); err != nil {
				a.logger().Error("the server's policy is refused", "err", err)
			}
		}
	}
	return t.Admit(in, a.now())
}

// recordRefusal journals a final refusal like an execution: the same
// reply is sent again on a re-delivery, and nothing is executed.
func (a *Agent) recordRefusal(ctx context.Context, in latchkey.Instruction, e Executed) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	m, err := a.Journal.Memberships(ctx)
	if err != nil {
		return err
	}
	return a.Journal.Record(ctx, in.ID, in.Kind, e, m, a.now())
}

// execute applies the instruction's changes and journals them. A crash
// between applying and journalling is safe: the instruction is
// re-delivered, the same changes are computed from the same journal, and
// the executor skips what is already applied.
func (a *Agent) execute(ctx context.Context, in latchkey.Instruction, note string) (Executed, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	m, err := a.Journal.Memberships(ctx)
	if err != nil {
		return Executed{}, err
	}
	now := a.now()
	e := Executed{Result: latchkey.ReplyOK, Detail: note}
	for _, ch := range latchkey.ApplyInstruction(m, in, now) {
		if _, err := a.Executor.Apply(ch, in.ID); err != nil {
			e = Executed{Result: latchkey.ReplyError, Detail: err.Error()}
			if m, err = a.Journal.Memberships(ctx); err != nil { // keep the journal's view: nothing recorded
				return Executed{}, err
			}
			break
		}
	}
	if err := a.Journal.Record(ctx, in.ID, in.Kind, e, m, now); err != nil {
		return Executed{}, err
	}
	a.logger().Info("executed", "instruction", in.ID, "kind", in.Kind, "groups", in.Groups, "login", in.Login, "result", e.Result)
	return e, nil
}

// reply sends the reply, retrying with jittered backoff for a while; if
// it never gets through, the server re-delivers the instruction after its
// lock lapses and the journal answers again.
func (a *Agent) reply(ctx context.Context, id string, r latchkey.Reply) error {
	backoff := 50 * time.Millisecond
	var err error
	for range 8 {
		if err = a.Client.ReplyInstruction(ctx, id, r); err == nil || ctx.Err() != nil {
			return err
		}
		var refused *latchkey.Error
		if errors.As(err, &refused) && refused.Code != latchkey.EUNAVAILABLE {
			return err // the server refused it: retrying will not help
		}
		a.sleep(ctx, jitter(backoff))
		backoff = min(2*backoff, 5*time.Second)
	}
	return err
}

// expireLoop removes expired memberships every second.
func (a *Agent) expireLoop(ctx context.Context) {
	t := a.clock().NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			if err := a.ExpireNow(ctx); err != nil && ctx.Err() == nil {
				a.logger().Error("expire memberships", "err", err)
			}
		}
	}
}

// ExpireNow removes the memberships whose end has passed.
func (a *Agent) ExpireNow(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	m, err := a.Journal.Memberships(ctx)
	if err != nil {
		return err
	}
	now := a.now()
	changes := latchkey.ExpireMemberships(m, now)
	if len(changes) == 0 {
		return nil
	}
	for _, ch := range changes {
		if !latchkey.ValidGroupName(ch.Group) || !latchkey.ValidLogin(ch.Login) {
			// Journalled by an agent that did not check names: never
			// handed to the executor, and not left to block the others.
			a.logger().Error("expired membership with an invalid name: dropped from the journal, not touched",
				"group", ch.Group, "login", ch.Login)
			continue
		}
		if _, err := a.Executor.Apply(ch, "expiry"); err != nil {
			return err
		}
	}
	return a.Journal.Record(ctx, "", "", Executed{}, m, now)
}

func jitter(d time.Duration) time.Duration { return d/2 + rand.N(d/2+1) }

// sleep waits d on the agent's clock, or until ctx ends.
func (a *Agent) sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-a.clock().After(d):
	}
}
