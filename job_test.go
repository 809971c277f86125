package latchkey_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"latchkey"
)

var jt0 = time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)

func at(d time.Duration) *time.Time { t := jt0.Add(d); return &t }

// A job in each state, as the store would hold it.
func jobIn(state latchkey.JobState, attempts int, fence int64, lease *time.Time) latchkey.Job {
	return latchkey.Job{ID: "job_1", Kind: "noop", State: state, RunAt: jt0, Attempts: attempts, MaxAttempts: 3,
		Node: "node_a", Fence: fence, LeaseUntil: lease, CreatedAt: jt0, UpdatedAt: jt0}
}

func TestJobClaimable(t *testing.T) {
	for _, c := range []struct {
		name string
		job  latchkey.Job
		now  time.Time
		want bool
	}{
		{name: "available and due", job: jobIn(latchkey.JobAvailable, 0, 0, nil), now: jt0, want: true},
		{name: "available, not yet due", job: jobIn(latchkey.JobAvailable, 0, 0, nil), now: jt0.Add(-time.Millisecond), want: false},
		{name: "running, lease live", job: jobIn(latchkey.JobRunning, 1, 1, at(time.Second)), now: jt0.Add(999 * time.Millisecond), want: false},
		{name: "running, lease lapsed: taken over", job: jobIn(latchkey.JobRunning, 1, 1, at(time.Second)), now: jt0.Add(time.Second), want: true},
		{name: "done", job: jobIn(latchkey.JobDone, 1, 1, nil), now: jt0.Add(time.Hour), want: false},
		{name: "failed", job: jobIn(latchkey.JobFailed, 3, 3, nil), now: jt0.Add(time.Hour), want: false},
		{name: "cancelled", job: jobIn(latchkey.JobCancelled, 0, 0, nil), now: jt0.Add(time.Hour), want: false},
	} {
		if got := c.job.Claimable(c.now); got != c.want {
			t.Errorf("%s: Claimable = %v, want %v", c.name, got, c.want)
		}
	}
}

// Each claim raises the fence and counts an attempt; every later step of
// the claim must carry that fence, and an older one is refused.
func TestJobClaimFencing(t *testing.T) {
	j := jobIn(latchkey.JobAvailable, 0, 0, nil)
	a, err := latchkey.ClaimJob(j, "node_a", jt0, 3*time.Second)
	if err != nil || a.State != latchkey.JobRunning || a.Fence != 1 || a.Attempts != 1 || a.Node != "node_a" || !a.LeaseUntil.Equal(jt0.Add(3*time.Second)) {
		t.Fatalf("claim: %+v, %v", a, err)
	}
	if _, err := latchkey.ClaimJob(a, "node_b", jt0.Add(time.Second), 3*time.Second); latchkey.ErrorCode(err) != latchkey.ECONFLICT {
		t.Fatalf("claim of a live claim: %v, want conflict", err)
	}
	// node_a stalls past its lease; node_b takes the job over.
	b, err := latchkey.ClaimJob(a, "node_b", jt0.Add(3*time.Second), 3*time.Second)
	if err != nil || b.Fence != 2 || b.Attempts != 2 || b.Node != "node_b" {
		t.Fatalf("takeover: %+v, %v", b, err)
	}
	now := jt0.Add(4 * time.Second)
	stale := a.Fence
	for name, step := range map[string]func() error{
		"extend":   func() error { _, err := latchkey.ExtendJobLease(b, stale, now, time.Second); return err },
		"complete": func() error { _, err := latchkey.CompleteJob(b, stale, now); return err },
		"fail":     func() error { _, err := latchkey.FailJob(b, stale, "x", now, 0); return err },
		"snooze":   func() error { _, err := latchkey.SnoozeJob(b, stale, time.Second, now); return err },
	} {
		if err := step(); !latchkey.IsStaleFence(err) {
			t.Errorf("%s with the stale fence: %v, want ErrStaleFence", name, err)
		}
	}
	done, err := latchkey.CompleteJob(b, b.Fence, now)
	if err != nil || done.State != latchkey.JobDone || done.EndedAt == nil || !done.EndedAt.Equal(now) || done.LeaseUntil != nil {
		t.Fatalf("complete: %+v, %v", done, err)
	}
	// An ended job holds no claim: even its last fence is stale.
	if _, err := latchkey.CompleteJob(done, b.Fence, now); !latchkey.IsStaleFence(err) {
		t.Errorf("complete twice: %v, want ErrStaleFence", err)
	}
}

// A lapsed lease may still be renewed while nobody took the job over: the
// fence decides, not the clock.
func TestExtendJobLease(t *testing.T) {
	j, _ := latchkey.ClaimJob(jobIn(latchkey.JobAvailable, 0, 0, nil), "node_a", jt0, time.Second)
	late := jt0.Add(5 * time.Second)
	x, err := latchkey.ExtendJobLease(j, j.Fence, late, 3*time.Second)
	if err != nil || !x.LeaseUntil.Equal(late.Add(3*time.Second)) || x.Fence != j.Fence || x.Attempts != j.Attempts {
		t.Fatalf("extend: %+v, %v", x, err)
	}
}

func TestFailJob(t *testing.T) {
	for _, c := range []struct {
		name      string
		attempts  int // before the claim
		rnd       float64
		wantState latchkey.JobState
		wantRunAt time.Time
	}{
		{name: "first failure backs off a second (jitter 0: half)", attempts: 0, rnd: 0, wantState: latchkey.JobAvailable, wantRunAt: jt0.Add(500 * time.Millisecond)},
		{name: "second failure: two seconds, full jitter", attempts: 1, rnd: 0.999999, wantState: latchkey.JobAvailable, wantRunAt: jt0.Add(2 * time.Second).Add(-time.Microsecond)},
		{name: "last attempt used: failed for good", attempts: 2, rnd: 0, wantState: latchkey.JobFailed, wantRunAt: jt0},
	} {
		j, _ := latchkey.ClaimJob(jobIn(latchkey.JobAvailable, c.attempts, 5, nil), "node_a", jt0, time.Second)
		f, err := latchkey.FailJob(j, j.Fence, "boom", jt0, c.rnd)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if f.State != c.wantState || f.Error != "boom" || f.LeaseUntil != nil {
			t.Errorf("%s: %+v", c.name, f)
		}
		if d := f.RunAt.Sub(c.wantRunAt); d < -time.Microsecond || d > time.Microsecond {
			t.Errorf("%s: run at %s, want %s", c.name, f.RunAt, c.wantRunAt)
		}
		if (f.State == latchkey.JobFailed) != (f.EndedAt != nil) {
			t.Errorf("%s: ended_at %v in state %s", c.name, f.EndedAt, f.State)
		}
	}
	j, _ := latchkey.ClaimJob(jobIn(latchkey.JobAvailable, 0, 0, nil), "node_a", jt0, time.Second)
	f, _ := latchkey.FailJob(j, j.Fence, strings.Repeat("e", 5000), jt0, 0)
	if len(f.Error) != latchkey.MaxJobError {
		t.Errorf("error of %d bytes kept, want it cut to %d", len(f.Error), latchkey.MaxJobError)
	}
}

// A snooze waits without using an attempt.
func TestSnoozeJob(t *testing.T) {
	j, _ := latchkey.ClaimJob(jobIn(latchkey.JobAvailable, 2, 0, nil), "node_a", jt0, time.Second)
	s, err := latchkey.SnoozeJob(j, j.Fence, 10*time.Second, jt0)
	if err != nil || s.State != latchkey.JobAvailable || s.Attempts != 2 || !s.RunAt.Equal(jt0.Add(10*time.Second)) || s.LeaseUntil != nil {
		t.Fatalf("snooze: %+v, %v", s, err)
	}
}

// A wake-up makes a sleeping job due now and marks a running one, whose
// snooze then ends at once (a run may have read the store before the
// change that woke it); it leaves a due job and an ended one alone. Every
// end of the claim clears the mark.
func TestWakeJob(t *testing.T) {
	now := jt0.Add(time.Minute)
	woken := jobIn(latchkey.JobRunning, 1, 1, at(time.Hour))
	woken.Woken = true
	for _, c := range []struct {
		name    string
		job     latchkey.Job
		changed bool
		runAt   time.Time
		woken   bool
	}{
		{name: "available, sleeping past now: due now", job: func() latchkey.Job {
			j := jobIn(latchkey.JobAvailable, 0, 0, nil)
			j.RunAt = now.Add(30 * time.Second)
			return j
		}(),
			changed: true, runAt: now},
		{name: "available, already due: unchanged", job: func() latchkey.Job {
			j := jobIn(latchkey.JobAvailable, 0, 0, nil)
			j.RunAt = now.Add(-time.Second)
			return j
		}(),
			runAt: now.Add(-time.Second)},
		{name: "available, due exactly now: unchanged", job: func() latchkey.Job { j := jobIn(latchkey.JobAvailable, 0, 0, nil); j.RunAt = now; return j }(), runAt: now},
		{name: "running: marked", job: jobIn(latchkey.JobRunning, 1, 1, at(time.Hour)), changed: true, runAt: jt0, woken: true},
		{name: "running, already marked: unchanged", job: woken, runAt: jt0, woken: true},
		{name: "done: unchanged", job: jobIn(latchkey.JobDone, 1, 1, nil), runAt: jt0},
		{name: "failed: unchanged", job: jobIn(latchkey.JobFailed, 3, 3, nil), runAt: jt0},
		{name: "cancelled: unchanged", job: jobIn(latchkey.JobCancelled, 0, 0, nil), runAt: jt0},
	} {
		got, changed := latchkey.WakeJob(c.job, now)
		if changed != c.changed || !got.RunAt.Equal(c.runAt) || got.Woken != c.woken || got.State != c.job.State ||
			got.Fence != c.job.Fence || got.Attempts != c.job.Attempts || !got.UpdatedAt.Equal(c.job.UpdatedAt) {
			t.Errorf("%s: %+v, changed %v", c.name, got, changed)
		}
	}

	// A claim woken while it ran: its snooze is due at once, and the
	// mark goes with the claim, however the claim ends.
	j, _ := latchkey.ClaimJob(jobIn(latchkey.JobAvailable, 0, 0, nil), "node_a", jt0, time.Second)
	j, _ = latchkey.WakeJob(j, now)
	if s, err := latchkey.SnoozeJob(j, j.Fence, 30*time.Second, now); err != nil || !s.RunAt.Equal(now) || s.Woken || s.State != latchkey.JobAvailable {
		t.Errorf("snooze of a woken claim: %+v, %v; want due now, unmarked", s, err)
	}
	if f, err := latchkey.FailJob(j, j.Fence, "boom", now, 0); err != nil || f.Woken || !f.RunAt.Equal(now.Add(latchkey.JobBackoff(1, 0))) {
		t.Errorf("failure of a woken claim: %+v, %v; want its back-off, unmarked", f, err)
	}
	if d, err := latchkey.CompleteJob(j, j.Fence, now); err != nil || d.Woken {
		t.Errorf("completion of a woken claim: %+v, %v", d, err)
	}
	if x, err := latchkey.CancelJob(j, now); err != nil || x.Woken {
		t.Errorf("cancel of a woken claim: %+v, %v", x, err)
	}
	// Without a wake-up the snooze sleeps its time.
	plain, _ := latchkey.ClaimJob(jobIn(latchkey.JobAvailable, 0, 0, nil), "node_a", jt0, time.Second)
	if s, _ := latchkey.SnoozeJob(plain, plain.Fence, 30*time.Second, now); !s.RunAt.Equal(now.Add(30 * time.Second)) {
		t.Errorf("snooze of a claim not woken: %+v", s)
	}
}

func TestRetryAndCancelJob(t *testing.T) {
	for _, c := range []struct {
		state             latchkey.JobState
		retryOK, cancelOK bool
	}{
		{state: latchkey.JobAvailable, retryOK: false, cancelOK: true},
		{state: latchkey.JobRunning, retryOK: false, cancelOK: true},
		{state: latchkey.JobDone, retryOK: false, cancelOK: false},
		{state: latchkey.JobFailed, retryOK: true, cancelOK: false},
		{state: latchkey.JobCancelled, retryOK: true, cancelOK: false},
	} {
		j := jobIn(c.state, 3, 3, at(time.Second))
		now := jt0.Add(time.Minute)
		r, err := latchkey.RetryJob(j, now)
		if (err == nil) != c.retryOK {
			t.Errorf("retry %s: %v", c.state, err)
		}
		if err == nil && (r.State != latchkey.JobAvailable || r.Attempts != 0 || !r.RunAt.Equal(now) || r.EndedAt != nil) {
			t.Errorf("retry %s: %+v", c.state, r)
		}
		if err != nil && latchkey.ErrorCode(err) != latchkey.ECONFLICT {
			t.Errorf("retry %s: %v, want conflict", c.state, err)
		}
		x, err := latchkey.CancelJob(j, now)
		if (err == nil) != c.cancelOK {
			t.Errorf("cancel %s: %v", c.state, err)
		}
		if err == nil {
			if x.State != latchkey.JobCancelled || x.EndedAt == nil {
				t.Errorf("cancel %s: %+v", c.state, x)
			}
			// A cancelled claim's fence is stale.
			if _, err := latchkey.CompleteJob(x, j.Fence, now); !latchkey.IsStaleFence(err) {
				t.Errorf("complete after cancel of %s: %v", c.state, err)
			}
		}
	}
}

func TestNewJob(t *testing.T) {
	j, err := latchkey.NewJob(latchkey.JobSpec{Kind: "noop", Key: "k", Args: map[string]int{"n": 1}}, "job_x", jt0)
	if err != nil || j.State != latchkey.JobAvailable || !j.RunAt.Equal(jt0) || j.MaxAttempts != latchkey.DefaultJobMaxAttempts || string(j.Args) != `{"n":1}` || j.Key != "k" {
		t.Fatalf("%+v, %v", j, err)
	}
	later := jt0.Add(time.Hour)
	j, _ = latchkey.NewJob(latchkey.JobSpec{Kind: "noop", RunAt: later, MaxAttempts: 2}, "job_y", jt0)
	if !j.RunAt.Equal(later) || j.MaxAttempts != 2 || j.Args != nil {
		t.Fatalf("%+v", j)
	}
	if _, err := latchkey.NewJob(latchkey.JobSpec{}, "job_z", jt0); err == nil {
		t.Fatal("a job without a kind was made")
	}
}

func TestJobBackoff(t *testing.T) {
	for _, c := range []struct {
		attempt  int
		rnd      float64
		min, max time.Duration
	}{
		{1, 0, 500 * time.Millisecond, 500 * time.Millisecond},
		{1, 0.999, 999 * time.Millisecond, time.Second},
		{2, 0, time.Second, time.Second},
		{3, 0.5, 3 * time.Second, 3 * time.Second},
		{9, 0.999, 4*time.Minute + 15*time.Second, 4*time.Minute + 17*time.Second},
		{10, 0, latchkey.JobRetryMax / 2, latchkey.JobRetryMax / 2},
		{60, 0.999, latchkey.JobRetryMax - time.Second, latchkey.JobRetryMax},
	} {
		if d := latchkey.JobBackoff(c.attempt, c.rnd); d < c.min || d > c.max {
			t.Errorf("attempt %d, jitter %v: %s, want %s to %s", c.attempt, c.rnd, d, c.min, c.max)
		}
	}
}

// A watch on a claim notes only the ending of that claim: the same job
// under another fence, or another job, leaves it alone.
func TestClaimWatch(t *testing.T) {
	claim := jobIn(latchkey.JobRunning, 1, 2, at(time.Second))
	ctx, w := latchkey.WatchClaim(context.Background(), claim)
	latchkey.ClaimEnding(context.Background(), claim) // no watch: nothing
	other := claim
	other.Fence = 1
	latchkey.ClaimEnding(ctx, other)
	other = claim
	other.ID = "job_2"
	latchkey.ClaimEnding(ctx, other)
	if w.Ending() {
		t.Fatal("the watch noted the ending of another claim")
	}
	latchkey.ClaimEnding(context.WithoutCancel(ctx), claim)
	if !w.Ending() {
		t.Fatal("the watch missed its claim's ending")
	}
}
