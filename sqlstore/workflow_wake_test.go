package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"latchkey"
	"latchkey/sqlstore"
	"latchkey/sqlstore/sqlstoretest"
)

// workflowClaim claims the (one, due) workflow job, as a node's runner
// would.
func workflowClaim(t *testing.T, e *reqEnv) latchkey.Job {
	t.Helper()
	claims, err := e.s.ClaimJobs(context.Background(), "node_test", []latchkey.JobKind{latchkey.JobWorkflow}, 10, latchkey.DefaultJobLease)
	if err != nil || len(claims) != 1 {
		t.Fatalf("claim the workflow: %+v, %v", claims, err)
	}
	return claims[0]
}

// dueIn is how long until the workflow job is due (false: none waits).
func dueIn(t *testing.T, s *sqlstore.Store) (time.Duration, bool) {
	t.Helper()
	in, ok, err := s.NextJobIn(context.Background(), []latchkey.JobKind{latchkey.JobWorkflow})
	if err != nil {
		t.Fatal(err)
	}
	return in, ok
}

// An agent's reply that comes while the workflow's job is claimed is not
// lost: whatever the run read, when its claim then snoozes for
// ProvisionWait (as a run that read the check-out before the reply
// committed does) the job is due at once, not ProvisionWait later.
func TestWorkflowReplyDuringARunIsNotLost(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		e := newReqEnv(t, b, false)
		ctx := context.Background()
		r, err := e.s.CreateRequest(ctx, e.ann, latchkey.RequestCreate{GroupSet: e.set.ID, Terminals: e.terms[:1], Minutes: 30})
		if err != nil {
			t.Fatal(err)
		}
		e.runJobs(t) // provisions: the check-out waits for the agent, the job for ProvisionWait
		if in, ok := dueIn(t, e.s); !ok || in != sqlstore.ProvisionWait {
			t.Fatalf("the workflow waiting for the agent is due in %s (%v), want %s", in, ok, sqlstore.ProvisionWait)
		}
		e.clock.Advance(sqlstore.ProvisionWait) // it looks again by itself...
		c := workflowClaim(t, e)
		e.reply(t, e.terms[0], latchkey.ReplyOK) // ...and the reply comes while it runs,
		// after the run read the check-out: it waits again.
		if err := e.s.SnoozeJob(ctx, c, sqlstore.ProvisionWait); err != nil {
			t.Fatal(err)
		}
		if in, ok := dueIn(t, e.s); !ok || in != 0 {
			t.Fatalf("after a reply during a run the workflow is due in %s (%v), want at once", in, ok)
		}
		e.runJobs(t)
		if got, _ := e.request(t, r.ID); got.Status != latchkey.RequestActive {
			t.Fatalf("the request after the reply: %s, want active", got.Status)
		}
	})
}

// A reply that comes while a run's transaction holds the job (the run
// has read the check-out and is about to snooze) waits for it on
// PostgreSQL, then wakes the job the run put to sleep; on SQLite it comes
// after the run (one writer). Either way the job is due at once.
func TestWorkflowReplyDuringARunsTransactionIsNotLost(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		e := newReqEnv(t, b, false)
		ctx := context.Background()
		if _, err := e.s.CreateRequest(ctx, e.ann, latchkey.RequestCreate{GroupSet: e.set.ID, Terminals: e.terms[:1], Minutes: 30}); err != nil {
			t.Fatal(err)
		}
		e.runJobs(t)
		e.clock.Advance(sqlstore.ProvisionWait)
		c := workflowClaim(t, e)
		agent := latchkey.Caller{Role: latchkey.RoleTerminal, TerminalID: e.terms[0]}
		ins, err := e.s.PollInstructions(ctx, agent, 10)
		if err != nil || len(ins) != 1 {
			t.Fatalf("instructions %+v, %v", ins, err)
		}
		replied := make(chan error, 1)
		err = e.s.RunJobStep(ctx, c, func(*sqlstore.Tx, latchkey.Job) error {
			// The run holds the job's row; the reply comes now. It either
			// waits for the run (PostgreSQL, fixed; SQLite) or, as it did,
			// passes the running job by and commits at once.
			go func() {
				replied <- e.s.ReplyInstruction(ctx, agent, ins[0].ID, latchkey.Reply{Result: latchkey.ReplyOK})
			}()
			select {
			case err := <-replied:
				replied <- err
			case <-time.After(300 * time.Millisecond):
			}
			return latchkey.Snooze(sqlstore.ProvisionWait)
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := <-replied; err != nil {
			t.Fatal(err)
		}
		if in, ok := dueIn(t, e.s); !ok || in != 0 {
			t.Fatalf("after a reply during the run's transaction the workflow is due in %s (%v), want at once", in, ok)
		}
	})
}
