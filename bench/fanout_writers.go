package bench

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"latchkey"
	"latchkey/client"
)

// fanoutWriter is one client of the fan-out benchmark that makes events:
// a delegate cycling its own locks (acquire → release, a new lock each
// cycle), or a terminal cycling a person's session (login → lock → unlock
// → logout). Each call makes one event, named by its action and target
// (the lock, or the session), which is unique in a run.
type fanoutWriter struct {
	c    *client.Client // the delegate's, or the terminal's token
	name string         // for messages
	// A lock writer's locks are locks/N; a session writer has its terminal
	// and its person's identity.
	locks                     string
	terminal, login, password string
	base                      time.Time

	// answers holds, for each event a call made, when its answer came
	// (from base).
	answers map[string]time.Duration
	calls   int
	// What an interrupted cycle left: given up by close.
	heldLock    string
	heldToken   uint64
	openSession string
}

// setupFanoutWriters creates cfg.Writers/2 lock writers (delegates) and
// the rest session writers (a site, and for each a terminal and a
// person, as the sessions benchmark sets them up). The writers made are
// returned even with an error, so that they can be logged out.
func setupFanoutWriters(ctx context.Context, admin *client.Client, cfg FanoutConfig) ([]*fanoutWriter, error) {
	nLock := cfg.Writers / 2
	writers := make([]*fanoutWriter, nLock)
	err := parallel(ctx, 8, nLock, func(ctx context.Context, i int) error {
		login := fmt.Sprintf("%s-writer-%d", cfg.Prefix, i)
		c, _, err := newDelegate(ctx, admin, login)
		if err == nil {
			writers[i] = &fanoutWriter{c: c, name: login, locks: fmt.Sprintf("%s/fanout/%d", cfg.Prefix, i)}
		}
		return err
	})
	if err == nil {
		var terms []*worker
		terms, err = setup(ctx, admin, SessionsConfig{Prefix: cfg.Prefix, Terminals: cfg.Writers - nLock})
		for _, t := range terms {
			writers = append(writers, &fanoutWriter{c: t.c, name: t.name, terminal: t.terminal, login: t.login, password: t.password})
		}
	}
	made := writers[:0]
	for _, w := range writers {
		if w != nil {
			w.answers = map[string]time.Duration{}
			made = append(made, w)
		}
	}
	if err != nil {
		return made, fmt.Errorf("bench: set up the writers: %w", err)
	}
	return made, nil
}

// runFanoutWriters has the writers make cfg.Events calls, call i due at
// i ÷ cfg.Rate after the start, each writer one call at a time; a cycle
// under way when the last call is made is finished without waiting. It
// prints the calls and deliveries so far every 5 s.
func runFanoutWriters(ctx context.Context, writers []*fanoutWriter, cfg FanoutConfig, base time.Time,
	delivered *atomic.Int64, progress io.Writer) error {
	interval := time.Duration(float64(time.Second) / cfg.Rate)
	var next, calls atomic.Int64
	start := time.Now()
	// turn waits for the next call's time; false once every call was due.
	turn := func(ctx context.Context) bool {
		i := next.Add(1) - 1
		if i >= int64(cfg.Events) {
			return false
		}
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-ctx.Done():
				return false
			case <-t.C:
			}
		}
		return true
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(5 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				fmt.Fprintf(progress, "  %3.0fs: %d calls, %d deliveries\n", time.Since(start).Seconds(), calls.Load(), delivered.Load())
			}
		}
	}()
	err := parallel(ctx, len(writers), len(writers), func(ctx context.Context, i int) error {
		w := writers[i]
		w.base = base
		for k := 0; turn(ctx); k++ {
			if err := w.cycle(ctx, k, turn, &calls); err != nil {
				return err
			}
		}
		return ctx.Err()
	})
	close(done)
	wg.Wait()
	return err
}

// cycle runs one cycle of w's calls, each but the first waiting for its
// turn (the first has had it).
func (w *fanoutWriter) cycle(ctx context.Context, k int, turn func(context.Context) bool, calls *atomic.Int64) error {
	var steps []func(context.Context) (latchkey.Action, string, error)
	if w.terminal == "" {
		steps = w.lockSteps(fmt.Sprintf("%s/%d", w.locks, k))
	} else {
		steps = w.sessionSteps()
	}
	for i, step := range steps {
		if i > 0 && !turn(ctx) && ctx.Err() != nil {
			return ctx.Err()
		}
		cctx, cancel := context.WithTimeout(ctx, CallTimeout)
		action, target, err := step(cctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("bench: %s %s by %s: %w", action, target, w.name, err)
		}
		w.answers[eventKey(action, target)] = time.Since(w.base)
		w.calls++
		calls.Add(1)
	}
	return nil
}

// lockSteps acquire lock name and release it.
func (w *fanoutWriter) lockSteps(name string) []func(context.Context) (latchkey.Action, string, error) {
	ttl := int(LockLease / time.Second)
	return []func(context.Context) (latchkey.Action, string, error){
		func(ctx context.Context) (latchkey.Action, string, error) {
			r, err := w.c.AcquireLock(ctx, name, latchkey.AcquireRequest{TTLSeconds: &ttl})
			switch {
			case err != nil:
			case r.Mode != latchkey.LockExclusive || r.Token == 0:
				err = fmt.Errorf("answered %s with token %d (held by %s): want a grant", r.Mode, r.Token, holderName(r))
			default:
				w.heldLock, w.heldToken = name, r.Token
			}
			return latchkey.ActionLockAcquire, name, err
		},
		func(ctx context.Context) (latchkey.Action, string, error) {
			err := w.c.ReleaseLock(ctx, name, w.heldToken, false)
			if err == nil {
				w.heldLock, w.heldToken = "", 0
			}
			return latchkey.ActionLockRelease, name, err
		},
	}
}

// sessionSteps log the writer's person on at its terminal, lock the
// session, unlock it and log off.
func (w *fanoutWriter) sessionSteps() []func(context.Context) (latchkey.Action, string, error) {
	return []func(context.Context) (latchkey.Action, string, error){
		func(ctx context.Context) (latchkey.Action, string, error) {
			r, err := w.c.StartSession(ctx, w.terminal, latchkey.LoginRequest{Identity: w.login, Password: w.password, TimeSent: time.Now()})
			if err != nil {
				return latchkey.ActionSessionLogin, w.login, err
			}
			w.openSession = r.Session.ID
			return latchkey.ActionSessionLogin, r.Session.ID, nil
		},
		func(ctx context.Context) (latchkey.Action, string, error) {
			_, err := w.c.LockSession(ctx, w.openSession, latchkey.LockRequest{TimeSent: time.Now(), Reason: latchkey.LockManual})
			return latchkey.ActionSessionLock, w.openSession, err
		},
		func(ctx context.Context) (latchkey.Action, string, error) {
			_, err := w.c.UnlockSession(ctx, w.openSession, latchkey.UnlockRequest{Identity: w.login, Password: w.password, TimeSent: time.Now()})
			return latchkey.ActionSessionUnlock, w.openSession, err
		},
		func(ctx context.Context) (latchkey.Action, string, error) {
			id := w.openSession
			_, err := w.c.EndSession(ctx, id)
			if err == nil {
				w.openSession = ""
			}
			return latchkey.ActionSessionLogout, id, err
		},
	}
}

// closeWriters gives up what an interrupted cycle left (a lock, a session)
// and logs the lock writers' delegates off.
func closeWriters(ctx context.Context, writers []*fanoutWriter) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if w.heldLock != "" {
				w.c.ReleaseLock(ctx, w.heldLock, w.heldToken, false)
			}
			if w.openSession != "" {
				w.c.EndSession(ctx, w.openSession)
			}
			if w.terminal == "" {
				w.c.Logout(ctx)
			}
		}()
	}
	wg.Wait()
}

// logoutAll revokes the tokens of the clients (nil ones skipped).
func logoutAll(ctx context.Context, clients []*client.Client) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_ = parallel(ctx, 8, len(clients), func(ctx context.Context, i int) error {
		if clients[i] != nil {
			clients[i].Logout(ctx)
		}
		return nil
	})
}
