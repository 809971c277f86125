package agent

import (
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"latchkey"
)

// countingExecutor is an idempotent executor that counts every call to
// Apply, applied or not: a re-executed instruction shows up in the count
// even though the executor itself would change nothing the second time.
type countingExecutor struct {
	mu      sync.Mutex
	members map[latchkey.MemberKey]bool
	calls   map[string]int // Apply calls by ref (instruction ID)
	// failNext, if set, fails the next call (and is then cleared).
	failNext error
}

func newCountingExecutor() *countingExecutor {
	return &countingExecutor{members: map[latchkey.MemberKey]bool{}, calls: map[string]int{}}
}

func (c *countingExecutor) Apply(ch latchkey.Change, ref string) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[ref]++
	if err := c.failNext; err != nil {
		c.failNext = nil
		return false, err
	}
	k := latchkey.MemberKey{Group: ch.Group, Login: ch.Login}
	if c.members[k] == ch.Add {
		return false, nil
	}
	c.members[k] = ch.Add
	return true, nil
}

func (c *countingExecutor) member(group, login string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.members[latchkey.MemberKey{Group: group, Login: login}]
}

func (c *countingExecutor) callsFor(ref string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[ref]
}

// The exactly-once rule, in the agent itself: an instruction delivered
// twice, and once more after the agent restarts on the journal it left on
// disk, is executed once; every later delivery is answered from the
// journal with the same reply. (The API suite would catch a re-execution
// only by the journal's UNIQUE constraint on the instruction ID, which an
// upsert would silence: here the executor's calls and the agent's
// executions are counted.) A grant that succeeded would change nothing if
// it were executed again (its generation is journalled), so the test also
// runs one whose executor failed: executing that again would call the
// executor again and could answer ok where the journal says error.
func TestAgentExecutesAnInstructionExactlyOnce(t *testing.T) {
	for _, c := range []struct {
		name       string
		failFirst  error // the executor's first call fails with it
		wantResult latchkey.ReplyResult
		wantMember bool
	}{
		{name: "the grant is applied", wantResult: latchkey.ReplyOK, wantMember: true},
		{name: "the executor fails", failFirst: errors.New("gpasswd: disk full"), wantResult: latchkey.ReplyError},
	} {
		t.Run(c.name, func(t *testing.T) {
			fc := newFakeClock()
			f := newFakeServer(t, fc)
			f.mu.Lock()
			f.policy.Groups = []string{"wheel"}
			f.mu.Unlock()
			dir := t.TempDir()
			ex := newCountingExecutor()
			ex.failNext = c.failFirst
			logs := &syncBuffer{}
			open := func() (*Agent, *Journal) {
				t.Helper()
				j, err := OpenJournal(dir)
				if err != nil {
					t.Fatal(err)
				}
				return &Agent{Client: f.client(), Journal: j, Executor: ex, Log: slog.New(slog.NewTextHandler(logs, nil)),
					Clock: fc}, j
			}
			in := wire(t, latchkey.Instruction{ID: "ins_once", Terminal: "ter_1", Kind: latchkey.InstrCheckout, Login: "ann",
				Groups: []string{"wheel"}, Generation: 1, EndsAt: fc.Real().Add(time.Hour), IssuedAt: fc.Real(), Attempt: 1}, f.key)
			deliver := func(a *Agent, n int, when string) {
				t.Helper()
				if err := a.Handle(bg, in); err != nil {
					t.Fatalf("%s: %v", when, err)
				}
				if got := ex.callsFor(in.ID); got != 1 {
					t.Fatalf("%s: the executor ran %d times for the instruction, want once", when, got)
				}
				if got := strings.Count(logs.String(), "msg=executed"); got != 1 {
					t.Fatalf("%s: the agent executed the instruction %d times, want once", when, got)
				}
				f.mu.Lock()
				got := append([]latchkey.Reply(nil), f.replies[in.ID]...)
				f.mu.Unlock()
				if len(got) != n {
					t.Fatalf("%s: %d replies, want %d", when, len(got), n)
				}
				if got[0].Result != c.wantResult || !reflect.DeepEqual(got[n-1], got[0]) {
					t.Fatalf("%s: reply %+v, want the first reply %+v (%s) again", when, got[n-1], got[0], c.wantResult)
				}
			}

			a, j := open()
			deliver(a, 1, "first delivery")
			if got := ex.member("wheel", "ann"); got != c.wantMember {
				t.Fatalf("after the first delivery ann in wheel: %v, want %v", got, c.wantMember)
			}
			deliver(a, 2, "second delivery")

			// A restart: the journal is closed and reopened from disk by a
			// new agent (the executor is the machine's, so it stays).
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			a, j = open()
			defer j.Close()
			if e, err := j.Lookup(bg, in.ID); err != nil || e == nil || e.Result != c.wantResult {
				t.Fatalf("after the restart the journal holds %+v, %v for the instruction", e, err)
			}
			deliver(a, 3, "delivery after a restart")
			if got := ex.member("wheel", "ann"); got != c.wantMember {
				t.Fatalf("at the end ann in wheel: %v, want %v", got, c.wantMember)
			}
		})
	}
}
