package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"latchkey"
)

// A check-out's time is kept by two jobs enqueued with it: its expiry
// warning and its check-in when it runs out (JobCheckoutWarn and
// JobCheckoutExpire, keyed by the check-out). Each job wakes at its due
// time; if the check-out was extended meanwhile it sleeps (snoozes) until
// the new time, and if it was checked in there is nothing left to do. The
// job engine retries a failed check-in with back-off, without holding up
// the other check-outs.

func checkoutJobKey(kind latchkey.JobKind, checkout string) string {
	return string(kind) + ":" + checkout
}

// checkoutJobArgs are the arguments of a check-out job.
type checkoutJobArgs struct {
	Checkout string `json:"checkout"`
}

// enqueueCheckoutJobs adds (in t) the jobs that keep check-out x's time:
// the check-in at its end and, when warnings are on, the warning before
// it. A job already waiting is kept (it reads the new end when it wakes).
func (t *tx) enqueueCheckoutJobs(x latchkey.Checkout) error {
	args := checkoutJobArgs{Checkout: x.ID}
	if _, err := t.enqueueJob(latchkey.JobSpec{Kind: latchkey.JobCheckoutExpire, Key: checkoutJobKey(latchkey.JobCheckoutExpire, x.ID),
		Args: args, RunAt: x.ExpiresAt}); err != nil {
		return err
	}
	if w := t.s.opts.CheckoutWarning; w > 0 {
		if _, err := t.enqueueJob(latchkey.JobSpec{Kind: latchkey.JobCheckoutWarn, Key: checkoutJobKey(latchkey.JobCheckoutWarn, x.ID),
			Args: args, RunAt: x.ExpiresAt.Add(-w)}); err != nil {
			return err
		}
	}
	return nil
}

// lockJobCheckout reads and locks the check-out a job is about.
func (t *tx) lockJobCheckout(j latchkey.Job) (latchkey.Checkout, error) {
	var a checkoutJobArgs
	if err := json.Unmarshal(j.Args, &a); err != nil || a.Checkout == "" {
		return latchkey.Checkout{}, fmt.Errorf("job %s: bad arguments %q", j.ID, j.Args)
	}
	x, err := scanCheckout(t.queryRow("SELECT "+checkoutCols+" FROM checkouts WHERE id = ?"+t.s.d.forUpdate(), a.Checkout))
	return x, notFound(err, "check-out %s not found", a.Checkout)
}

// expireCheckout is the handler of JobCheckoutExpire: it checks the
// check-out in when its time has run out, in the transaction that
// completes the job. acted says whether it did.
func (s *Store) expireCheckout(ctx context.Context, claim latchkey.Job) (acted bool, err error) {
	err = s.runJobStep(ctx, claim, func(t *tx, j latchkey.Job) error {
		acted = false
		x, err := t.lockJobCheckout(j)
		if err != nil {
			return err
		}
		switch {
		case !x.CanCheckIn():
			return nil // checked in or failed meanwhile
		case !x.Expired(t.now):
			return latchkey.Snooze(x.ExpiresAt.Sub(t.now)) // extended
		}
		_, err = t.checkin(x, latchkey.CheckinExpired, "system")
		acted = err == nil
		return err
	})
	return acted, err
}

// warnCheckout is the handler of JobCheckoutWarn: it announces that the
// check-out is about to end (checkout.warn), once per end.
func (s *Store) warnCheckout(ctx context.Context, claim latchkey.Job) (acted bool, err error) {
	err = s.runJobStep(ctx, claim, func(t *tx, j latchkey.Job) error {
		acted = false
		x, err := t.lockJobCheckout(j)
		if err != nil {
			return err
		}
		var warned bool
		if err := t.queryRow("SELECT warned FROM checkouts WHERE id = ?", x.ID).Scan(&warned); err != nil {
			return err
		}
		w := t.s.opts.CheckoutWarning
		switch {
		case w <= 0:
			return nil // warnings are off
		case warned || !x.CanCheckIn() || !t.now.Before(x.ExpiresAt):
			return nil // warned already, over, or too late to warn
		case !x.WarningDue(w, t.now):
			return latchkey.Snooze(x.ExpiresAt.Add(-w).Sub(t.now)) // extended
		}
		if _, err := t.exec("UPDATE checkouts SET warned = TRUE WHERE id = ?", x.ID); err != nil {
			return err
		}
		acted = true
		t.record("system", x.Terminal, latchkey.ActionCheckoutWarn, x.ID, map[string]any{"principal": x.Principal, "expires_at": x.ExpiresAt})
		return nil
	})
	return acted, err
}

// checkoutJobs are the handlers of the check-out jobs.
func (s *Store) checkoutJobs() map[latchkey.JobKind]func(context.Context, latchkey.Job) (bool, error) {
	return map[latchkey.JobKind]func(context.Context, latchkey.Job) (bool, error){
		latchkey.JobCheckoutWarn:   s.warnCheckout,
		latchkey.JobCheckoutExpire: s.expireCheckout,
	}
}

// SweepCheckouts implements latchkey.CheckoutService: it runs the due
// check-out jobs here and now (RunDueJobs), counting those that acted.
func (s *Store) SweepCheckouts(ctx context.Context) (int, error) {
	handlers := s.checkoutJobs()
	n := 0
	err := s.runDue(ctx, "sweep", []latchkey.JobKind{latchkey.JobCheckoutWarn, latchkey.JobCheckoutExpire},
		func(ctx context.Context, c latchkey.Job) error {
			acted, err := handlers[c.Kind](ctx, c)
			if acted {
				n++
			}
			return err
		})
	return n, err
}

// RunDueJobs claims the due jobs of the kinds (all the store's kinds when
// none is named) and runs them here and now, one by one, as a node's
// runner would: for tests, and for an operator who wants them run at
// once. A job that fails is failed with back-off and the others go on;
// the errors are returned together.
func (s *Store) RunDueJobs(ctx context.Context, node string, kinds ...latchkey.JobKind) error {
	handlers := s.JobHandlers()
	if len(kinds) == 0 {
		for k := range handlers {
			kinds = append(kinds, k)
		}
	}
	return s.runDue(ctx, node, kinds, func(ctx context.Context, c latchkey.Job) error { return handlers[c.Kind](ctx, c) })
}

func (s *Store) runDue(ctx context.Context, node string, kinds []latchkey.JobKind, run func(context.Context, latchkey.Job) error) error {
	var failed error
	for {
		claims, err := s.ClaimJobs(ctx, node, kinds, 100, latchkey.DefaultJobLease)
		if err != nil || len(claims) == 0 {
			return errors.Join(failed, err)
		}
		for _, c := range claims {
			err := run(ctx, c)
			var snooze latchkey.Snooze
			if err != nil && !latchkey.IsStaleFence(err) && !errors.As(err, &snooze) {
				failed = errors.Join(failed, fmt.Errorf("%s %s: %w", c.Kind, c.Key, err))
			}
			if err := s.EndClaim(ctx, c, err); err != nil {
				failed = errors.Join(failed, err)
			}
		}
	}
}

// JobHandlers are the handlers of the jobs the store defines, for a
// node's runner (worker.Handler is their type).
func (s *Store) JobHandlers() map[latchkey.JobKind]func(context.Context, latchkey.Job) error {
	out := map[latchkey.JobKind]func(context.Context, latchkey.Job) error{}
	for k, h := range s.checkoutJobs() {
		out[k] = func(ctx context.Context, c latchkey.Job) error { _, err := h(ctx, c); return err }
	}
	out[latchkey.JobWorkflow] = s.runWorkflow
	out[latchkey.JobTask] = s.runTask
	return out
}
