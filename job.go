package latchkey

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// A Job is one unit of background work kept in the store: a check-out's
// expiry, a sweep, a workflow step, a scheduled task. Any node may run
// it. A node claims a job with a lease and a fencing number; the job's
// effect and its completion commit in one transaction that carries the
// fence, and the store refuses a stale fence, so a node that was paused
// past its lease can neither finish nor redo a step another node took
// over (DESIGN.md "Jobs and workflows").
type Job struct {
	ID   string  `json:"id"`
	Kind JobKind `json:"kind"`
	// Key makes the job unique: enqueueing a second job with the key of
	// one not yet ended does nothing (empty: no key).
	Key   string          `json:"key,omitempty"`
	Args  json.RawMessage `json:"args,omitempty"`
	State JobState        `json:"state"`
	// RunAt is when the job may next run: its schedule, or after a
	// failure the end of its back-off.
	RunAt       time.Time `json:"run_at"`
	Attempts    int       `json:"attempts"`
	MaxAttempts int       `json:"max_attempts"`
	// Node and Fence name the current (or last) claim; LeaseUntil is when
	// an unfinished claim lapses and another node may take the job over.
	Node       string     `json:"node,omitempty"`
	Fence      int64      `json:"fence"`
	LeaseUntil *time.Time `json:"lease_until,omitempty"`
	// Woken says a wake-up came while the job ran (WakeJob): its claim's
	// snooze ends at once, for the run may have read what it waits for
	// before the change that woke it.
	Woken bool `json:"woken,omitempty"`
	// Error is the last attempt's error, kept until the job is done.
	Error     string     `json:"error,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
	EndedAt   *time.Time `json:"ended_at,omitempty"`
}

// JobKind names what a job does; each kind has one handler.
type JobKind string

// The kinds of job the server runs.
const (
	// JobCheckoutExpire checks a check-out in when its time runs out (one
	// per check-out, due at its end; an extension makes it wait longer).
	JobCheckoutExpire JobKind = "checkout.expire"
	// JobCheckoutWarn warns a check-out's person before its end.
	JobCheckoutWarn JobKind = "checkout.warn"
	// JobWorkflow runs a workflow's steps (one per workflow): it runs
	// what it can, then sleeps until a decision, an agent's reply or a
	// deadline wakes it.
	JobWorkflow JobKind = "workflow"
	// JobTask runs one scheduled task (one per task).
	JobTask JobKind = "task"
	// The sweeps: one job of each kind in the cluster, run again and
	// again (it snoozes between runs).
	JobSweepSessions    JobKind = "sweep.sessions"    // idle timeouts, limits
	JobSweepLocks       JobKind = "sweep.locks"       // lock lease expiry
	JobSweepIdempotency JobKind = "sweep.idempotency" // old Idempotency-Key records
)

// JobState is where a job is in its life.
type JobState string

// Job states. available → running → done; a failed attempt goes back to
// available after its back-off, or to failed when it has used its
// attempts; an admin may retry a failed job (available again).
const (
	JobAvailable JobState = "available"
	JobRunning   JobState = "running"
	JobDone      JobState = "done"
	JobFailed    JobState = "failed"
	JobCancelled JobState = "cancelled"
)

// JobStates lists every job state.
var JobStates = []JobState{JobAvailable, JobRunning, JobDone, JobFailed, JobCancelled}

// Valid says whether s is a job state.
func (s JobState) Valid() bool {
	for _, x := range JobStates {
		if s == x {
			return true
		}
	}
	return false
}

// Ended says whether a job in state s will not run again by itself.
func (s JobState) Ended() bool { return s == JobDone || s == JobFailed || s == JobCancelled }

// Job defaults and bounds.
const (
	// DefaultJobMaxAttempts is how many times a job is tried before it
	// ends failed (a claim that lapses because its node died counts too,
	// so a job that kills its node cannot loop for ever).
	DefaultJobMaxAttempts = 25
	// DefaultJobLease is how long a claim lasts without being extended;
	// a runner extends its claims well before (every third of it).
	DefaultJobLease = 3 * time.Second
	// MaxJobError bounds the error text kept on a job.
	MaxJobError = 2000
)

// Job retry bounds: a failed attempt is retried after JobBackoff.
const (
	JobRetryBase = time.Second
	JobRetryMax  = 5 * time.Minute
)

// JobBackoff is the wait before retry number attempt (1, 2, ...) of a
// failed job: base × 2^(attempt-1), at most JobRetryMax, times a jitter
// in [0.5, 1) from rnd (a value in [0, 1)) so that many jobs failing
// together do not retry together.
func JobBackoff(attempt int, rnd float64) time.Duration {
	d := JobRetryBase
	for i := 1; i < attempt && d < JobRetryMax; i++ {
		d *= 2
	}
	d = min(d, JobRetryMax)
	return time.Duration(float64(d) * (0.5 + rnd/2))
}

// ErrStaleFence is what a node gets when it acts on a claim it no longer
// holds: the lease lapsed and another node claimed the job, or the job
// ended. Its work must be dropped, never retried.
var ErrStaleFence = Errorf(ECONFLICT, "the job was taken over by another node or has ended")

// IsStaleFence says whether err is (or wraps) ErrStaleFence.
func IsStaleFence(err error) bool { return errors.Is(err, ErrStaleFence) }

// Claimable says whether a node may claim the job now: it is available
// and due, or it runs under a claim that lapsed (its node died or
// stalled) and may be taken over.
func (j Job) Claimable(now time.Time) bool {
	switch j.State {
	case JobAvailable:
		return !now.Before(j.RunAt)
	case JobRunning:
		return j.LeaseUntil == nil || !now.Before(*j.LeaseUntil)
	}
	return false
}

// ClaimJob gives the job to node until now+lease under a new fencing
// number; it counts as an attempt. It refuses a job that is not
// Claimable.
func ClaimJob(j Job, node string, now time.Time, lease time.Duration) (Job, error) {
	if !j.Claimable(now) {
		return j, Errorf(ECONFLICT, "job %s is %s and not claimable", j.ID, j.State)
	}
	until := now.Add(lease)
	j.State, j.Node, j.Fence, j.LeaseUntil = JobRunning, node, j.Fence+1, &until
	j.Attempts++
	j.UpdatedAt = now
	return j, nil
}

// holds says whether a claim with fence is the job's current one.
func (j Job) holds(fence int64) bool { return j.State == JobRunning && j.Fence == fence }

// ExtendJobLease renews the claim with fence until now+lease. A lapsed
// lease may be renewed while nobody took the job over: the fence, not the
// clock, says who owns it.
func ExtendJobLease(j Job, fence int64, now time.Time, lease time.Duration) (Job, error) {
	if !j.holds(fence) {
		return j, ErrStaleFence
	}
	until := now.Add(lease)
	j.LeaseUntil, j.UpdatedAt = &until, now
	return j, nil
}

// CompleteJob ends the claim with fence: the job is done.
func CompleteJob(j Job, fence int64, now time.Time) (Job, error) {
	if !j.holds(fence) {
		return j, ErrStaleFence
	}
	j.State, j.LeaseUntil, j.Error, j.UpdatedAt, j.EndedAt, j.Woken = JobDone, nil, "", now, &now, false
	return j, nil
}

// FailJob records a failed attempt of the claim with fence: the job is
// available again after JobBackoff (rnd in [0, 1) is its jitter), or
// failed for good when it has used its attempts.
func FailJob(j Job, fence int64, cause string, now time.Time, rnd float64) (Job, error) {
	if !j.holds(fence) {
		return j, ErrStaleFence
	}
	j.Error, j.LeaseUntil, j.UpdatedAt, j.Woken = truncateJobError(cause), nil, now, false
	if j.Attempts >= j.MaxAttempts {
		j.State, j.EndedAt = JobFailed, &now
		return j, nil
	}
	j.State, j.RunAt = JobAvailable, now.Add(JobBackoff(j.Attempts, rnd))
	return j, nil
}

// SnoozeJob puts the claim with fence back for d without counting an
// attempt: the job waits for something (an agent's reply) rather than
// failing. A job woken while it ran (Woken) is due at once instead: what
// it waits for may have come after its run looked.
func SnoozeJob(j Job, fence int64, d time.Duration, now time.Time) (Job, error) {
	if !j.holds(fence) {
		return j, ErrStaleFence
	}
	if j.Woken {
		d = 0
	}
	j.State, j.RunAt, j.LeaseUntil, j.UpdatedAt, j.Woken = JobAvailable, now.Add(max(d, 0)), nil, now, false
	j.Attempts--
	return j, nil
}

// WakeJob is a wake-up of j at now: what it waits for happened (a
// decision, an agent's reply, a cancellation). An available job sleeping
// past now is due now. A running job is marked Woken, so that its claim's
// snooze ends at once: its run may have read the store before the change
// that woke it committed, and would otherwise sleep through it (a
// failure keeps its back-off; the retry looks again anyway). Any other
// job is left alone. changed says whether j changed. It touches neither
// the claim nor UpdatedAt.
func WakeJob(j Job, now time.Time) (Job, bool) {
	switch {
	case j.State == JobAvailable && j.RunAt.After(now):
		j.RunAt = now
		return j, true
	case j.State == JobRunning && !j.Woken:
		j.Woken = true
		return j, true
	}
	return j, false
}

// RetryJob makes a failed or cancelled job available now, with its
// attempts counted afresh: an admin's retry after fixing the cause.
func RetryJob(j Job, now time.Time) (Job, error) {
	if j.State != JobFailed && j.State != JobCancelled {
		return j, Errorf(ECONFLICT, "job %s is %s: only a failed or cancelled job can be retried", j.ID, j.State).
			With("state", string(j.State))
	}
	j.State, j.RunAt, j.Attempts, j.EndedAt, j.UpdatedAt = JobAvailable, now, 0, nil, now
	return j, nil
}

// CancelJob ends a job that has not ended; a running claim's fence goes
// stale with it.
func CancelJob(j Job, now time.Time) (Job, error) {
	if j.State.Ended() {
		return j, Errorf(ECONFLICT, "job %s has already ended (%s)", j.ID, j.State).With("state", string(j.State))
	}
	j.State, j.LeaseUntil, j.UpdatedAt, j.EndedAt, j.Woken = JobCancelled, nil, now, &now, false
	return j, nil
}

func truncateJobError(s string) string {
	if len(s) <= MaxJobError {
		return s
	}
	return s[:MaxJobError]
}

// JobSpec is a job to enqueue.
type JobSpec struct {
	Kind JobKind
	Key  string
	Args any
	// RunAt is when it may first run (zero: now).
	RunAt time.Time
	// MaxAttempts (zero: DefaultJobMaxAttempts).
	MaxAttempts int
}

// NewJob makes the job of spec, available at its RunAt (now if zero).
func NewJob(spec JobSpec, id string, now time.Time) (Job, error) {
	if spec.Kind == "" {
		return Job{}, fmt.Errorf("job without a kind")
	}
	var args json.RawMessage
	if spec.Args != nil {
		b, err := json.Marshal(spec.Args)
		if err != nil {
			return Job{}, fmt.Errorf("job %s args: %w", spec.Kind, err)
		}
		args = b
	}
	run := spec.RunAt
	if run.IsZero() {
		run = now
	}
	maxAttempts := spec.MaxAttempts
	if maxAttempts <= 0 {
		maxAttempts = DefaultJobMaxAttempts
	}
	return Job{ID: id, Kind: spec.Kind, Key: spec.Key, Args: args, State: JobAvailable, RunAt: run,
		MaxAttempts: maxAttempts, CreatedAt: now, UpdatedAt: now}, nil
}

// Snooze is the error a job handler returns to have its job run again
// after the duration, without counting a failed attempt.
type Snooze time.Duration

func (s Snooze) Error() string { return fmt.Sprintf("snoozed for %s", time.Duration(s)) }

// JobFilter selects jobs in a list.
type JobFilter struct {
	State JobState
	Kind  JobKind
	Page
}

// JobService keeps the jobs and hands them to the nodes that run them.
type JobService interface {
	// EnqueueJob adds a job (nothing if one with its key has not ended).
	EnqueueJob(ctx context.Context, spec JobSpec) (Job, error)
	// ClaimJobs claims up to limit claimable jobs of the kinds for node.
	ClaimJobs(ctx context.Context, node string, kinds []JobKind, limit int, lease time.Duration) ([]Job, error)
	// ExtendJobLeases renews the node's claims; it returns the claims it
	// could not renew (ErrStaleFence: they were taken over or ended).
	ExtendJobLeases(ctx context.Context, claims []Job, lease time.Duration) (lost []Job, err error)
	// CompleteJob, FailJob and SnoozeJob end a claim; ErrStaleFence when
	// it is no longer the job's.
	CompleteJob(ctx context.Context, claim Job) error
	// CompleteJobs completes many claims at once, each under its own
	// fence, as CompleteJob would one by one; it returns the claims it
	// did not complete (no longer their job's, or of no job), which is no
	// error.
	CompleteJobs(ctx context.Context, claims []Job) (lost []Job, err error)
	FailJob(ctx context.Context, claim Job, cause error) error
	SnoozeJob(ctx context.Context, claim Job, d time.Duration) error
	// Jobs lists jobs (admin); RetryJob and CancelJob act on one (admin;
	// conflict when its state does not allow it).
	Jobs(ctx context.Context, c Caller, f JobFilter) ([]Job, string, error)
	Job(ctx context.Context, c Caller, id string) (Job, error)
	RetryJob(ctx context.Context, c Caller, id string) (Job, error)
	CancelJob(ctx context.Context, c Caller, id string) (Job, error)
}

// Ending a claim: a handler whose work commits with the job's completion
// (a step in a fenced transaction) ends its claim itself; a handler whose
// work leaves nothing in the store to commit returns nil and leaves the
// completion to its runner, which completes many such claims in one
// statement. The runner tells the two apart with a ClaimWatch on the
// handler's context: the store notes on it (ClaimEnding) every attempt to
// end the claim, whether or not it succeeds, so that a claim whose
// handler tried to end it is never completed behind its back.

// ClaimWatch says whether a claim's handler tried to end the claim.
type ClaimWatch struct {
	id     string
	fence  int64
	ending atomic.Bool
}

type claimWatchKey struct{}

// WatchClaim returns ctx with a watch on claim for its handler.
func WatchClaim(ctx context.Context, claim Job) (context.Context, *ClaimWatch) {
	w := &ClaimWatch{id: claim.ID, fence: claim.Fence}
	return context.WithValue(ctx, claimWatchKey{}, w), w
}

// ClaimEnding notes on ctx's watch, when it watches claim, that claim is
// being ended; the store calls it before it ends a claim.
func ClaimEnding(ctx context.Context, claim Job) {
	if w, ok := ctx.Value(claimWatchKey{}).(*ClaimWatch); ok && w.id == claim.ID && w.fence == claim.Fence {
		w.ending.Store(true)
	}
}

// Ending says whether the handler tried to end the claim (ClaimEnding).
func (w *ClaimWatch) Ending() bool { return w.ending.Load() }
