package rivercmp

// Takeover after a SIGKILL, latchkey and River side by side on one
// PostgreSQL database: a worker in a child process (this test binary,
// run again) starts a long job; the child is SIGKILLed; a worker in this
// process, running all along, waits for the job to come back to it. The
// time from the SIGKILL until that worker has completed the job is the
// takeover time. River is measured with its defaults (a job is rescued
// once it has been running RescueStuckJobsAfter, 1 h, by the leader's
// rescuer, which looks every 30 s) and with a short rescue horizon of
// 5 s (JobTimeout 4 s: the horizon may not be shorter). latchkey's
// runner claims with a 3 s lease renewed every second, so the job is
// taken over when the dead node's lease lapses.
//
// Opt in, it takes minutes:
//
//	LATCHKEY_TEST_POSTGRES=postgres://... go test -run TestTakeover -v -takeover [-takeover.trials 3] [-takeover.bound 90s]

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"latchkey"
	"latchkey/passhash"
	"latchkey/sqlstore"
	"latchkey/sqlstore/sqlstoretest"
	"latchkey/worker"
)

var (
	takeover       = flag.Bool("takeover", false, "run TestTakeover (minutes)")
	takeoverTrials = flag.Int("takeover.trials", 3, "kills per engine (River with its defaults: one, it waits the whole bound)")
	takeoverBound  = flag.Duration("takeover.bound", 90*time.Second, "how long to wait for a takeover")
)

// The child process: RIVERCMP_CHILD names the engine, RIVERCMP_DSN the
// database, RIVERCMP_RESCUE River's rescue horizon ("" for its default).
func TestMain(m *testing.M) {
	switch os.Getenv("RIVERCMP_CHILD") {
	case "":
		os.Exit(m.Run())
	case "latchkey":
		childLatchkey(os.Getenv("RIVERCMP_DSN"))
	case "river":
		childRiver(os.Getenv("RIVERCMP_DSN"), os.Getenv("RIVERCMP_RESCUE"))
	}
	os.Exit(3)
}

// longJob is the job's kind in both engines.
const longJob = "long"

// childLatchkey runs one worker on the store that blocks in every long
// job until it dies.
func childLatchkey(dsn string) {
	s, err := sqlstore.Open(context.Background(), dsn, sqlstore.Options{Password: passhash.Test, Logger: quiet})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	block := func(ctx context.Context, _ latchkey.Job) error { <-ctx.Done(); return ctx.Err() }
	worker.New(s, map[latchkey.JobKind]worker.Handler{longJob: block}, worker.Options{Node: "child", Workers: 1, Logger: quiet}).Run(context.Background())
}

type longArgs struct{}

func (longArgs) Kind() string { return longJob }

// longWorker blocks in the child, and completes at once in the survivor.
type longWorker struct {
	river.WorkerDefaults[longArgs]
	block bool
}

func (w *longWorker) Work(ctx context.Context, _ *river.Job[longArgs]) error {
	if w.block {
		<-ctx.Done()
		select {} // a cancelled job is never given back: the process dies with it
	}
	return nil
}

// riverConfig is the configuration both River clients share: the
// defaults, or a rescue horizon (and the job timeout under it).
func riverConfig(id, rescue string, block bool) (*river.Config, error) {
	ws := river.NewWorkers()
	river.AddWorker(ws, &longWorker{block: block})
	cfg := &river.Config{ID: id, Logger: quiet, Workers: ws}
	if rescue != "" {
		d, err := time.ParseDuration(rescue)
		if err != nil {
			return nil, err
		}
		cfg.RescueStuckJobsAfter, cfg.JobTimeout = d, d-time.Second
	}
	return cfg, nil
}

func childRiver(dsn, rescue string) {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	cfg, err := riverConfig("child", rescue, true)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	cfg.Queues = map[string]river.QueueConfig{longJob: {MaxWorkers: 1}}
	c, err := river.NewClient(riverpgxv5.New(pool), cfg)
	if err == nil {
		err = c.Start(ctx)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	select {}
}

// child starts this test binary as the child worker of engine.
func child(t *testing.T, engine, dsn, rescue string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "RIVERCMP_CHILD="+engine, "RIVERCMP_DSN="+dsn, "RIVERCMP_RESCUE="+rescue)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	if f := reflect.ValueOf(cmd.SysProcAttr).Elem().FieldByName("Pdeathsig"); f.IsValid() { // Linux
		f.Set(reflect.ValueOf(syscall.SIGKILL).Convert(f.Type()))
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

// waitRunning polls query (one row, one text column) until it reads
// "running", for at most 30 s.
func waitRunning(t *testing.T, db *sql.DB, query string, arg any) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var state string
		if err := db.QueryRow(query, arg).Scan(&state); err == nil && state == "running" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the child never ran the job (%s)", state)
		}
	}
}

func kill(t *testing.T, cmd *exec.Cmd) time.Time {
	t.Helper()
	at := time.Now()
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	return at
}

// TestTakeover measures, for each engine, the time from the SIGKILL of
// the node running a job until another node has completed it.
func TestTakeover(t *testing.T) {
	if !*takeover {
		t.Skip("opt in with -takeover: it takes minutes")
	}
	var summary []string
	report := func(name string, got []time.Duration, missed int) {
		slices.Sort(got)
		line := fmt.Sprintf("%-28s %d kills:", name, len(got)+missed)
		for _, d := range got {
			line += fmt.Sprintf(" %.2fs", d.Seconds())
		}
		if missed > 0 {
			line += fmt.Sprintf(" (%d not taken over within %s)", missed, *takeoverBound)
		}
		summary = append(summary, line)
	}
	t.Run("latchkey", func(t *testing.T) {
		var got []time.Duration
		for range *takeoverTrials {
			got = append(got, latchkeyTakeover(t))
		}
		report("latchkey (lease 3 s)", got, 0)
		for _, d := range got {
			if d > 5*time.Second {
				t.Errorf("a takeover took %s, goal 5 s", d)
			}
		}
	})
	for _, c := range []struct{ sub, name, rescue string }{
		{"river_tuned", "river, tuned (rescue 5 s)", "5s"},
		{"river_defaults", "river, defaults (rescue 1 h)", ""},
	} {
		t.Run(c.sub, func(t *testing.T) {
			trials := *takeoverTrials
			if c.rescue == "" {
				trials = 1
			}
			var got []time.Duration
			missed := 0
			for range trials {
				d, ok := riverTakeover(t, c.rescue)
				if ok {
					got = append(got, d)
				} else {
					missed++
				}
			}
			report(c.name, got, missed)
			if c.rescue != "" && missed > 0 {
				t.Errorf("River with a 5 s rescue horizon did not take over within %s", *takeoverBound)
			}
		})
	}
	t.Logf("takeover after SIGKILL (from the kill until another node completed the job):\n%s", strings.Join(summary, "\n"))
}

func latchkeyTakeover(t *testing.T) time.Duration {
	dsn := sqlstoretest.PostgresSchemaURL(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := sqlstoretest.Open(t, dsn, sqlstore.Options{Password: passhash.Test, Logger: quiet})
	j, err := s.EnqueueJob(ctx, latchkey.JobSpec{Kind: longJob})
	if err != nil {
		t.Fatal(err)
	}
	cmd := child(t, "latchkey", dsn, "")
	db := sqlstoretest.RawDB(t, sqlstoretest.Postgres(), dsn)
	waitRunning(t, db, "SELECT state FROM jobs WHERE id = $1", j.ID)
	done := make(chan time.Time, 1)
	complete := func(ctx context.Context, c latchkey.Job) error {
		err := s.CompleteJob(ctx, c)
		if err == nil {
			done <- time.Now()
		}
		return err
	}
	r := worker.New(s, map[latchkey.JobKind]worker.Handler{longJob: complete}, worker.Options{Node: "survivor", Workers: 1, Logger: quiet})
	stopped := make(chan struct{})
	go func() { r.Run(ctx); close(stopped) }()
	defer func() { cancel(); <-stopped }()
	time.Sleep(time.Second + time.Duration(rand.Int64N(int64(time.Second)))) // the child renews its lease meanwhile
	at := kill(t, cmd)
	select {
	case end := <-done:
		d := end.Sub(at)
		t.Logf("latchkey: completed by the survivor %s after the SIGKILL", d.Round(time.Millisecond))
		return d
	case <-time.After(*takeoverBound):
		t.Fatalf("latchkey: not taken over within %s", *takeoverBound)
	}
	return 0
}

// riverTakeover: the survivor's client starts first (so it is the leader,
// which runs the rescuer: River's best case) with no queue, and the
// child; after a random 0-30 s (the rescuer looks every 30 s from the
// leader's start, so the kill falls anywhere in its cycle), the job is
// inserted and the child works it; then the survivor adds the job's
// queue and the child is killed.
func riverTakeover(t *testing.T, rescue string) (time.Duration, bool) {
	dsn := sqlstoretest.PostgresSchemaURL(t)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	driver := riverpgxv5.New(pool)
	migrator, err := rivermigrate.New(driver, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		t.Fatal(err)
	}
	cfg, err := riverConfig("survivor", rescue, false)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 1}}
	c, err := river.NewClient(driver, cfg)
	if err != nil {
		t.Fatal(err)
	}
	events, cancelEvents := c.Subscribe(river.EventKindJobCompleted)
	defer cancelEvents()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		c.Stop(sctx)
	}()
	cmd := child(t, "river", dsn, rescue)
	time.Sleep(time.Duration(rand.Int64N(int64(30 * time.Second))))
	res, err := c.Insert(ctx, longArgs{}, &river.InsertOpts{Queue: longJob})
	if err != nil {
		t.Fatal(err)
	}
	db := sqlstoretest.RawDB(t, sqlstoretest.Postgres(), dsn)
	waitRunning(t, db, "SELECT state FROM river_job WHERE id = $1", res.Job.ID)
	if err := c.Queues().Add(longJob, river.QueueConfig{MaxWorkers: 1}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second + time.Duration(rand.Int64N(int64(time.Second))))
	var leader string
	db.QueryRow("SELECT leader_id FROM river_leader").Scan(&leader)
	at := kill(t, cmd)
	timeout := time.After(*takeoverBound)
	for {
		select {
		case ev := <-events:
			if ev.Job == nil || ev.Job.ID != res.Job.ID {
				continue
			}
			d := time.Since(at)
			t.Logf("river (rescue %q, leader %s): completed by the survivor %s after the SIGKILL", rescue, leader, d.Round(time.Millisecond))
			return d, true
		case <-timeout:
			var state string
			db.QueryRow("SELECT state FROM river_job WHERE id = $1", res.Job.ID).Scan(&state)
			t.Logf("river (rescue %q, leader %s): not taken over within %s (the job is %s)", rescue, leader, *takeoverBound, state)
			return 0, false
		}
	}
}
