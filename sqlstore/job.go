package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"math/rand/v2"
	"strings"
	"time"

	"latchkey"
)

var _ latchkey.JobService = (*Store)(nil)

// jobsChannel is the PostgreSQL NOTIFY channel that tells every node that
// jobs were enqueued or became claimable, so idle runners claim at once.
const jobsChannel = "latchkey_jobs"

const jobCols = "id, kind, job_key, args, state, run_at, attempts, max_attempts, node, fence, lease_until, error, created_at, updated_at, ended_at, woken"

func scanJob(row interface{ Scan(...any) error }) (latchkey.Job, error) {
	var j latchkey.Job
	var args string
	var runAt, created, updated int64
	var lease, ended sql.NullInt64
	if err := row.Scan(&j.ID, &j.Kind, &j.Key, &args, &j.State, &runAt, &j.Attempts, &j.MaxAttempts, &j.Node, &j.Fence,
		&lease, &j.Error, &created, &updated, &ended, &j.Woken); err != nil {
		return j, err
	}
	if args != "" {
		j.Args = []byte(args)
	}
	j.RunAt, j.CreatedAt, j.UpdatedAt = fromUS(runAt), fromUS(created), fromUS(updated)
	j.LeaseUntil, j.EndedAt = optTime(lease), optTime(ended)
	return j, nil
}

// JobsChanged returns a channel closed when jobs are enqueued or released
// after this call (on any node, on PostgreSQL): a runner waits on it
// instead of polling.
func (s *Store) JobsChanged() <-chan struct{} { return s.jobs.wait() }

// EnqueueJob implements latchkey.JobService.
func (s *Store) EnqueueJob(ctx context.Context, spec latchkey.JobSpec) (latchkey.Job, error) {
	var out latchkey.Job
	err := s.write(ctx, func(t *tx) error {
		var err error
		out, err = t.enqueueJob(spec)
		return err
	})
	return out, err
}

// enqueueJob adds a job in t's transaction, so that it exists if and only
// if t's other writes commit. A job whose key a live job holds is not
// added; that job is returned instead.
func (t *tx) enqueueJob(spec latchkey.JobSpec) (latchkey.Job, error) {
	j, err := latchkey.NewJob(spec, latchkey.NewID("job"), t.now)
	if err != nil {
		return j, err
	}
	res, err := t.exec("INSERT INTO jobs ("+jobCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"+
		" ON CONFLICT (job_key) WHERE job_key <> '' AND state IN ('available', 'running') DO NOTHING", jobArgs(j)...)
	if err != nil {
		return j, err
	}
	if n, err := res.RowsAffected(); err != nil {
		return j, err
	} else if n == 0 { // a live job holds the key
		live, err := scanJob(t.queryRow("SELECT "+jobCols+" FROM jobs WHERE job_key = ? AND state IN ('available', 'running')", j.Key))
		return live, err
	}
	t.jobsChanged = true
	return j, nil
}

func jobArgs(j latchkey.Job) []any {
	return []any{j.ID, string(j.Kind), j.Key, string(j.Args), string(j.State), us(j.RunAt), j.Attempts, j.MaxAttempts, j.Node, j.Fence,
		nullUS(j.LeaseUntil), j.Error, us(j.CreatedAt), us(j.UpdatedAt), nullUS(j.EndedAt), j.Woken}
}

// saveJob writes back a job's mutable fields.
func (t *tx) saveJob(j latchkey.Job) error {
	_, err := t.exec(`UPDATE jobs SET state = ?, run_at = ?, attempts = ?, max_attempts = ?, node = ?, fence = ?, lease_until = ?,
		error = ?, updated_at = ?, ended_at = ?, woken = ? WHERE id = ?`,
		string(j.State), us(j.RunAt), j.Attempts, j.MaxAttempts, j.Node, j.Fence, nullUS(j.LeaseUntil), j.Error,
		us(j.UpdatedAt), nullUS(j.EndedAt), j.Woken, j.ID)
	if err == nil && j.State == latchkey.JobAvailable {
		t.jobsChanged = true
	}
	return err
}

// wakeJob applies latchkey.WakeJob's change, in t, to the live job with
// key (TestWakeFollowsTheRule checks the two agree): an available job
// sleeping past now is due now, a running one is marked woken, so that
// its claim's snooze ends at once. One statement, so that on PostgreSQL a
// wake-up that meets a run's transaction holding the job's row (holdJob)
// waits for it and then applies to the row that run left: woken if it
// still runs, due now if it went to sleep, nothing if it ended. (A wake
// that passed a running job by, as one limited to available jobs did,
// was lost when the run had read the store before the waking change
// committed: the run then slept its full snooze.)
func (t *tx) wakeJob(key string) error {
	var state latchkey.JobState
	err := t.queryRow(`UPDATE jobs SET run_at = CASE WHEN state = 'available' THEN ? ELSE run_at END,
		woken = CASE WHEN state = 'running' THEN TRUE ELSE woken END
		WHERE job_key = ? AND ((state = 'available' AND run_at > ?) OR (state = 'running' AND woken = FALSE)) RETURNING state`,
		us(t.now), key, us(t.now)).Scan(&state)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return err
	}
	// A job made due is claimed at once; a running one's snooze will say.
	t.jobsChanged = t.jobsChanged || state == latchkey.JobAvailable
	return nil
}

// lockJob reads a job, locking its row until t ends.
func (t *tx) lockJob(id string) (latchkey.Job, error) {
	j, err := scanJob(t.queryRow("SELECT "+jobCols+" FROM jobs WHERE id = ?"+t.s.d.forUpdate(), id))
	return j, notFound(err, "job %s not found", id)
}

// holdJob checks, in t, that claim is still its job's current claim,
// and locks the job's row until t commits, so that no other node can
// take the job over before t's effects and the job's completion commit.
// A claim that lost its job gets ErrStaleFence and t must be undone.
func (t *tx) holdJob(claim latchkey.Job) (latchkey.Job, error) {
	j, err := t.lockJob(claim.ID)
	if err != nil {
		return j, err
	}
	if j.State != latchkey.JobRunning || j.Fence != claim.Fence {
		return j, latchkey.ErrStaleFence
	}
	return j, nil
}

// ClaimJobs implements latchkey.JobService: first jobs whose claim lapsed
// (their node died or stalled), then due ones, oldest first. One
// statement claims the batch: it applies latchkey.ClaimJob's change
// (running, this node, the next fence, one more attempt, the lease) to
// the rows its subqueries pick (TestClaimFollowsTheRule checks the two
// agree). On PostgreSQL the rows are taken with FOR UPDATE SKIP LOCKED,
// so nodes claiming at once take different jobs without waiting on each
// other, and the statement runs on its own (see statement); SQLite has
// one writer.
func (s *Store) ClaimJobs(ctx context.Context, node string, kinds []latchkey.JobKind, limit int, lease time.Duration) ([]latchkey.Job, error) {
	if limit <= 0 || len(kinds) == 0 {
		return nil, nil
	}
	// Not through write on PostgreSQL, so freshen here: a claim of lapsed
	// leases right after an outage must see the silence given back first.
	if err := s.freshen(ctx); err != nil {
		return nil, err
	}
	in := "kind IN (?" + strings.Repeat(", ?", len(kinds)-1) + ")"
	pick := func(now time.Time, n int) []any {
		args := []any{us(now)}
		for _, k := range kinds {
			args = append(args, string(k))
		}
		return append(args, n)
	}
	lapsed := "SELECT id FROM jobs WHERE state = 'running' AND lease_until <= ? AND " + in + " ORDER BY lease_until LIMIT ?"
	due := "SELECT id FROM jobs WHERE state = 'available' AND run_at <= ? AND " + in + " ORDER BY run_at LIMIT ?"
	const set = "UPDATE jobs SET state = 'running', node = ?, fence = fence + 1, attempts = attempts + 1, lease_until = ?, updated_at = ? WHERE id IN "
	var out []latchkey.Job
	scan := func(rows rowSet) error {
		for rows.Next() {
			j, err := scanJob(rows)
			if err != nil {
				return err
			}
			out = append(out, j)
		}
		return rows.Err()
	}
	if s.d.skipLocked() != "" {
		// Both kinds of job in one statement: the due rows are read (and
		// locked) only as far as the lapsed ones leave room under limit.
		now := s.now()
		args := append(pick(now, limit), pick(now, limit)...)
		args = append(args, node, us(now.Add(lease)), us(now), limit)
		q := "WITH lapsed AS (" + lapsed + s.d.skipLocked() + "), due AS (" + due + s.d.skipLocked() + ") " +
			set + "(SELECT id FROM lapsed UNION ALL SELECT id FROM due LIMIT ?) RETURNING " + jobCols
		err := s.statement(ctx, q, args, func(rows rowSet) error { out = out[:0]; return scan(rows) })
		return out, err
	}
	err := s.write(ctx, func(t *tx) error {
		out = out[:0]
		for _, q := range []string{lapsed, due} {
			if len(out) >= limit {
				break
			}
			args := append([]any{node, us(t.now.Add(lease)), us(t.now)}, pick(t.now, limit-len(out))...)
			rows, err := t.query(set+"("+q+") RETURNING "+jobCols, args...)
			if err != nil {
				return err
			}
			err = scan(rows)
			if cerr := rows.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// ExtendJobLeases implements latchkey.JobService.
func (s *Store) ExtendJobLeases(ctx context.Context, claims []latchkey.Job, lease time.Duration) ([]latchkey.Job, error) {
	var lost []latchkey.Job
	err := s.write(ctx, func(t *tx) error {
		lost = lost[:0]
		for _, c := range claims {
			res, err := t.exec("UPDATE jobs SET lease_until = ?, updated_at = ? WHERE id = ? AND state = 'running' AND fence = ?",
				us(t.now.Add(lease)), us(t.now), c.ID, c.Fence)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 0 {
				lost = append(lost, c)
			}
		}
		return nil
	})
	return lost, err
}

// finishJob runs step, then applies end to the job, in one transaction
// that holds the claim's fence: either the step's effects and the job's
// new state commit together, or neither does.
func (s *Store) finishJob(ctx context.Context, claim latchkey.Job, step func(t *tx, j latchkey.Job) error,
	end func(j latchkey.Job, now time.Time) (latchkey.Job, error)) error {
	latchkey.ClaimEnding(ctx, claim)
	return s.write(ctx, func(t *tx) error {
		j, err := t.holdJob(claim)
		if err != nil {
			return err
		}
		if step != nil {
			if err := step(t, j); err != nil {
				return err
			}
		}
		ended, err := end(j, t.now)
		if err != nil {
			return err
		}
		if ended.State == latchkey.JobFailed {
			t.record("system", "", latchkey.ActionJobFail, j.ID, map[string]any{"kind": j.Kind, "attempts": j.Attempts, "error": ended.Error})
		}
		return t.saveJob(ended)
	})
}

// RunJobStep runs a job's step and completes the job in one transaction
// holding the claim's fence (ErrStaleFence when the claim lost its job:
// nothing was written). A step that returns latchkey.Snooze commits its
// writes and has the job run again after the snooze.
func (s *Store) runJobStep(ctx context.Context, claim latchkey.Job, step func(t *tx, j latchkey.Job) error) error {
	var snooze latchkey.Snooze
	err := s.finishJob(ctx, claim, func(t *tx, j latchkey.Job) error {
		err := step(t, j)
		if errors.As(err, &snooze) {
			return nil
		}
		snooze = -1
		return err
	}, func(j latchkey.Job, now time.Time) (latchkey.Job, error) {
		if snooze >= 0 {
			return latchkey.SnoozeJob(j, j.Fence, time.Duration(snooze), now)
		}
		return latchkey.CompleteJob(j, j.Fence, now)
	})
	return err
}

// EndClaim ends a claim its handler did not end, as the handler's error
// says: nothing for none or for a lost claim (ErrStaleFence), a snooze for
// latchkey.Snooze, else a failed attempt (retried after its back-off, or
// failed for good). A claim lost meanwhile is no error.
func (s *Store) EndClaim(ctx context.Context, claim latchkey.Job, cause error) error {
	var snooze latchkey.Snooze
	var err error
	switch {
	case cause == nil, latchkey.IsStaleFence(cause):
		return nil
	case errors.As(cause, &snooze):
		err = s.SnoozeJob(ctx, claim, time.Duration(snooze))
	default:
		err = s.FailJob(ctx, claim, cause)
	}
	if latchkey.IsStaleFence(err) {
		return nil
	}
	return err
}

// completeJob applies latchkey.CompleteJob's change to the job of one
// claim (ID, fence) where the claim still holds.
const completeJob = "UPDATE jobs SET state = 'done', lease_until = NULL, error = '', updated_at = ?, ended_at = ?, woken = FALSE WHERE id = ? AND state = 'running' AND fence = ?"

// CompleteJob implements latchkey.JobService. With no step to run first,
// one statement applies latchkey.CompleteJob's change where the claim's
// fence still holds (TestCompleteFollowsTheRule checks they agree).
func (s *Store) CompleteJob(ctx context.Context, claim latchkey.Job) error {
	latchkey.ClaimEnding(ctx, claim)
	return s.write(ctx, func(t *tx) error {
		res, err := t.exec(completeJob, us(t.now), us(t.now), claim.ID, claim.Fence)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			if _, err := t.lockJob(claim.ID); err != nil {
				return err // not found
			}
			return latchkey.ErrStaleFence
		}
		return nil
	})
}

// CompleteJobs implements latchkey.JobService: the runner's batched
// completion of the claims whose handlers ended with nothing to commit.
// Each claim is checked against its own fence, by the one rule of
// CompleteJob (TestCompleteJobsFollowsTheRule checks they agree): on
// PostgreSQL in one statement over the claims' IDs and fences as arrays,
// on SQLite (one writer, no network) statement by statement in one
// transaction. A claim that lost its job is returned, not completed.
func (s *Store) CompleteJobs(ctx context.Context, claims []latchkey.Job) ([]latchkey.Job, error) {
	if len(claims) == 0 {
		return nil, nil
	}
	var lost []latchkey.Job
	if !s.d.arrays() {
		err := s.write(ctx, func(t *tx) error {
			lost = lost[:0]
			for _, c := range claims {
				res, err := t.exec(completeJob, us(t.now), us(t.now), c.ID, c.Fence)
				if err != nil {
					return err
				}
				if n, err := res.RowsAffected(); err != nil {
					return err
				} else if n == 0 {
					lost = append(lost, c)
				}
			}
			return nil
		})
		return lost, err
	}
	ids, fences := make([]string, len(claims)), make([]int64, len(claims))
	for i, c := range claims {
		ids[i], fences[i] = c.ID, c.Fence
	}
	type claimKey struct {
		id    string
		fence int64
	}
	completed := make(map[claimKey]bool, len(claims))
	now := us(s.now())
	err := s.statement(ctx, `UPDATE jobs SET state = 'done', lease_until = NULL, error = '', updated_at = ?, ended_at = ?, woken = FALSE
		FROM unnest(CAST(? AS TEXT[]), CAST(? AS BIGINT[])) AS c(id, fence)
		WHERE jobs.id = c.id AND jobs.state = 'running' AND jobs.fence = c.fence RETURNING c.id, c.fence`,
		[]any{now, now, ids, fences}, func(rows rowSet) error {
			clear(completed)
			for rows.Next() {
				var k claimKey
				if err := rows.Scan(&k.id, &k.fence); err != nil {
					return err
				}
				completed[k] = true
			}
			return rows.Err()
		})
	if err != nil {
		return nil, err
	}
	for _, c := range claims {
		if !completed[claimKey{c.ID, c.Fence}] {
			lost = append(lost, c)
		}
	}
	return lost, nil
}

// statement runs one write statement on its own, outside the committers,
// as a transaction of its own (PostgreSQL only: SQLite's one writer
// connection belongs to its committer). It is for the job engine's claims
// and batched completions: one statement each, with no audit record and
// nothing to notify, so a transaction around it (BEGIN and COMMIT, two
// more round trips) and a place in a group commit (a savepoint, two
// more) only cost time. Like an operation of the committers, it runs to
// the end once started, whatever happens to ctx, and it is rerun when it
// lost a race (a deadlock, a serialisation failure).
func (s *Store) statement(ctx context.Context, q string, args []any, read func(rowSet) error) error {
	q = s.d.rebind(q)
	var err error
	for attempt := 0; attempt < 20; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(attempt*attempt) * time.Millisecond):
			}
			s.retries.Add(1)
		}
		if err = ctx.Err(); err != nil {
			return err
		}
		err = func() error {
			rows, err := s.w.QueryContext(context.WithoutCancel(ctx), q, args...)
			if err != nil {
				return err
			}
			defer rows.Close()
			if err := read(rows); err != nil {
				return err
			}
			return rows.Close()
		}()
		if err == nil || !s.d.retryable(err) {
			return err
		}
	}
	return err
}

// FailJob implements latchkey.JobService.
func (s *Store) FailJob(ctx context.Context, claim latchkey.Job, cause error) error {
	msg := "failed"
	if cause != nil {
		msg = cause.Error()
	}
	rnd := rand.Float64()
	return s.finishJob(ctx, claim, nil, func(j latchkey.Job, now time.Time) (latchkey.Job, error) {
		return latchkey.FailJob(j, claim.Fence, msg, now, rnd)
	})
}

// SnoozeJob implements latchkey.JobService.
func (s *Store) SnoozeJob(ctx context.Context, claim latchkey.Job, d time.Duration) error {
	return s.finishJob(ctx, claim, nil, func(j latchkey.Job, now time.Time) (latchkey.Job, error) {
		return latchkey.SnoozeJob(j, claim.Fence, d, now)
	})
}

// Jobs implements latchkey.JobService (admins).
func (s *Store) Jobs(ctx context.Context, c latchkey.Caller, f latchkey.JobFilter) ([]latchkey.Job, string, error) {
	if err := latchkey.CanManageJobs(c); err != nil {
		return nil, "", err
	}
	if f.State != "" && !f.State.Valid() {
		return nil, "", latchkey.Errorf(latchkey.EBADREQUEST, "unknown job state %q", f.State).With("field", "state")
	}
	q, args := "SELECT "+jobCols+" FROM jobs WHERE TRUE", []any{}
	if f.State != "" {
		q += " AND state = ?"
		args = append(args, string(f.State))
	}
	if f.Kind != "" {
		q += " AND kind = ?"
		args = append(args, string(f.Kind))
	}
	q += " AND id > ?" // list adds the cursor and the limit
	return list(ctx, s, q, f.Page, scanJob, func(j latchkey.Job) string { return j.ID }, args...)
}

// Job implements latchkey.JobService (admins).
func (s *Store) Job(ctx context.Context, c latchkey.Caller, id string) (latchkey.Job, error) {
	if err := latchkey.CanManageJobs(c); err != nil {
		return latchkey.Job{}, err
	}
	j, err := scanJob(s.queryRow(ctx, "SELECT "+jobCols+" FROM jobs WHERE id = ?", id))
	return j, notFound(err, "job %s not found", id)
}

// RetryJob implements latchkey.JobService (admins).
func (s *Store) RetryJob(ctx context.Context, c latchkey.Caller, id string) (latchkey.Job, error) {
	return s.adminJob(ctx, c, id, latchkey.ActionJobRetry, latchkey.RetryJob)
}

// CancelJob implements latchkey.JobService (admins).
func (s *Store) CancelJob(ctx context.Context, c latchkey.Caller, id string) (latchkey.Job, error) {
	return s.adminJob(ctx, c, id, latchkey.ActionJobCancel, latchkey.CancelJob)
}

func (s *Store) adminJob(ctx context.Context, c latchkey.Caller, id string, action latchkey.Action,
	decide func(latchkey.Job, time.Time) (latchkey.Job, error)) (latchkey.Job, error) {
	if err := latchkey.CanManageJobs(c); err != nil {
		return latchkey.Job{}, err
	}
	var out latchkey.Job
	err := s.write(ctx, func(t *tx) error {
		j, err := t.lockJob(id)
		if err != nil {
			return err
		}
		if out, err = decide(j, t.now); err != nil {
			return err
		}
		if err := t.saveJob(out); err != nil {
			if t.s.d.uniqueViolation(err) { // a live job holds its key again
				return latchkey.Errorf(latchkey.ECONFLICT, "another job with key %q is waiting or running", j.Key).With("reason", "key_in_use")
			}
			return err
		}
		t.record(c.PrincipalID, "", action, j.ID, map[string]any{"kind": j.Kind, "state": j.State})
		return nil
	})
	return out, err
}

// NextJobIn says how long until the next available job of the kinds is
// due by the store's clock (ok false: none is waiting), so that an idle
// runner wakes for it on time rather than at its next poll.
func (s *Store) NextJobIn(ctx context.Context, kinds []latchkey.JobKind) (time.Duration, bool, error) {
	if len(kinds) == 0 {
		return 0, false, nil
	}
	args := []any{}
	for _, k := range kinds {
		args = append(args, string(k))
	}
	var next sql.NullInt64
	if err := s.queryRow(ctx, "SELECT MIN(run_at) FROM jobs WHERE state = 'available' AND kind IN (?"+strings.Repeat(", ?", len(kinds)-1)+")",
		args...).Scan(&next); err != nil {
		return 0, false, err
	}
	if !next.Valid {
		return 0, false, nil
	}
	return max(fromUS(next.Int64).Sub(s.now()), 0), true, nil
}
