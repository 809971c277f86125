package apitest_test

// Linearizability of exclusive edit locks: 8 clients (each a delegate
// with its own user token; locks are held per user token) call acquire
// (plain, wait, force), keepalive, release, release with leave_queue and
// GET on two locks at random times;
// every call is recorded with its invocation and response time, and
// porcupine checks that the history is one a single sequential lock per
// name could give (lockmodel_test.go).
// It runs on an in-process server on both backends, and on a real
// `latchkey serve` that is SIGKILLed mid-run and restarted on the same
// store: calls that got no answer there may or may not have happened.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"latchkey"
	"latchkey/client"
	"latchkey/sqlstore/sqlstoretest"
)

const (
	linClients = 8
	linOps     = 2400             // calls per run, over both locks
	linTTL     = 3600             // lease seconds: no lease runs out during a run
	linCheck   = 20 * time.Second // porcupine's time limit
)

// linLocks are the locks of a run: two, a partition each. Two locks
// matter on PostgreSQL: calls on both share group-commit batches, which
// must not wait for each other's rows in a cycle (sqlstore/commit.go).
func linLocks(string) []string { return []string{"lin/alpha", "lin/beta"} }

// linServers is where the clients send their calls: each client's live
// server, which the kill tests replace after a SIGKILL (all clients' at
// once, or those of one node of several).
type linServers struct {
	mu      sync.Mutex
	clients []*client.Client // by client, on its live server
	gen     []int            // by client: its live server's generation: 1, 2, ...
	back    []chan struct{}  // by client: closed once its live server is replaced
	killed  []int            // by client: its servers of this generation and below are dead
}

// current returns client i on its live server, the server's generation
// and the channel closed when it is replaced.
func (s *linServers) current(i int) (*client.Client, int, chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clients[i], s.gen[i], s.back[i]
}

// replace switches each client i with clients[i] != nil to that new
// server; the first call gives every client its server.
func (s *linServers) replace(clients []*client.Client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.clients == nil {
		n := len(clients)
		s.clients, s.gen, s.back, s.killed = make([]*client.Client, n), make([]int, n), make([]chan struct{}, n), make([]int, n)
	}
	for i, c := range clients {
		if c == nil {
			continue
		}
		if s.back[i] != nil {
			close(s.back[i])
		}
		s.clients[i], s.back[i] = c, make(chan struct{})
		s.gen[i]++
	}
}

// kill marks the live server of the given clients (of every client when
// none is given) dead, before it is killed: from then on a call to it may
// get no answer.
func (s *linServers) kill(clients ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(clients) == 0 {
		for i := range s.killed {
			s.killed[i] = s.gen[i]
		}
	}
	for _, i := range clients {
		s.killed[i] = s.gen[i]
	}
}

// dead reports whether client i's server of generation gen was killed.
func (s *linServers) dead(i, gen int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return gen <= s.killed[i]
}

// linRun is one recorded run.
type linRun struct {
	t          *testing.T
	servers    linServers
	locks      []string
	principals map[string]int // principal ID -> client
	start      time.Time      // timestamps are nanoseconds since start (monotonic)
	calls      int64          // calls per run: linOps unless a test needs a longer run
	budget     atomic.Int64   // calls left to make
	answered   atomic.Int64
	inFlight   atomic.Int64            // calls sent and not yet answered
	calling    [linClients]atomic.Bool // by client: a call sent and not yet answered
	unknown    atomic.Int64
	failed     atomic.Bool
	newest     map[string]*atomic.Uint64 // the newest token granted, by lock

	mu  sync.Mutex
	ops []porcupine.Operation
}

func newLinRun(t *testing.T, backend string) *linRun {
	r := &linRun{t: t, locks: linLocks(backend), calls: linOps, principals: map[string]int{}, newest: map[string]*atomic.Uint64{}}
	for _, n := range r.locks {
		r.newest[n] = new(atomic.Uint64)
	}
	return r
}

func (r *linRun) now() int64 { return int64(time.Since(r.start)) }

func (r *linRun) record(op porcupine.Operation) {
	r.mu.Lock()
	r.ops = append(r.ops, op)
	r.mu.Unlock()
}

func (r *linRun) fail(format string, args ...any) {
	r.failed.Store(true)
	r.t.Errorf(format, args...)
}

// run makes r.calls calls from linClients concurrent clients; meanwhile
// the test goroutine runs during (if not nil), e.g. to kill the server.
func (r *linRun) run(ctx context.Context, during func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }() // also when during calls t.Fatal
	r.budget.Store(r.calls)
	r.start = time.Now()
	seed := uint64(time.Now().UnixNano())
	r.t.Logf("seed %d", seed)
	for i := range linClients {
		wg.Go(func() { r.client(ctx, i, rand.New(rand.NewPCG(seed, uint64(i)))) })
	}
	if during != nil {
		during()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		r.fail("the calls did not finish: %v", err)
	}
}

// client is one client's loop: pick a call, make it, record it.
func (r *linRun) client(ctx context.Context, i int, rng *rand.Rand) {
	mine := map[string]uint64{} // the last token granted to this client, by lock
	for r.budget.Add(-1) >= 0 && !r.failed.Load() && ctx.Err() == nil {
		in := r.pick(rng, i, mine)
		c, gen, back := r.servers.current(i)
		r.inFlight.Add(1)
		r.calling[i].Store(true)
		call := r.now()
		out, err := r.call(ctx, c, in)
		ret := r.now()
		r.calling[i].Store(false)
		r.inFlight.Add(-1)
		if err != nil {
			if !isTransportError(err) || !r.servers.dead(i, gen) {
				r.fail("client %d: %s %s: %v", i, in.Kind, in.Lock, err)
				return
			}
			// No answer: the call may have happened or not. Its return
			// is set after the end of the history (history).
			r.record(porcupine.Operation{ClientId: i, Input: in, Call: call, Output: lockOutput{Unknown: true}, Return: -1})
			r.unknown.Add(1)
			select {
			case <-back:
			case <-ctx.Done():
				return
			}
			continue
		}
		if out.Exclusive {
			mine[in.Lock] = out.Token
			n := r.newest[in.Lock]
			for old := n.Load(); out.Token > old && !n.CompareAndSwap(old, out.Token); old = n.Load() {
			}
		}
		r.record(porcupine.Operation{ClientId: i, Input: in, Call: call, Output: out, Return: ret})
		r.answered.Add(1)
		if rng.IntN(4) == 0 { // random timing: now and then a pause
			time.Sleep(time.Duration(rng.IntN(500)) * time.Microsecond)
		}
	}
}

// pick chooses a call of client i. Keepalive and release send the
// client's last grant on the lock (often stale by then) or, now and then,
// the newest token anyone was granted (usually another client's).
func (r *linRun) pick(rng *rand.Rand, i int, mine map[string]uint64) lockInput {
	in := lockInput{Lock: r.locks[rng.IntN(len(r.locks))], Client: i}
	switch x := rng.IntN(100); {
	case x < 22:
		in.Kind = opAcquire
	case x < 46:
		in.Kind = opAcquireWait
	case x < 52:
		in.Kind = opAcquireForce
	case x < 68:
		in.Kind = opKeepalive
	case x < 84:
		in.Kind = opRelease
	case x < 94:
		in.Kind = opLeave
	default:
		in.Kind = opGet
	}
	switch in.Kind {
	case opKeepalive, opRelease, opLeave:
		in.Token = mine[in.Lock]
		if rng.IntN(5) == 0 || in.Token == 0 && in.Kind != opLeave {
			in.Token = r.newest[in.Lock].Load()
		}
		if in.Token == 0 && in.Kind != opLeave {
			in.Token = 1 // keepalive and release need a token
		}
	}
	return in
}

// holderOf maps a principal to its client.
func (r *linRun) holderOf(principal string) int {
	if i, ok := r.principals[principal]; ok {
		return i
	}
	return lockStranger
}

// call makes one call and turns its answer into a lockOutput. An error
// is returned only for an answer no call may get (or no answer at all).
func (r *linRun) call(ctx context.Context, c *client.Client, in lockInput) (lockOutput, error) {
	out := lockOutput{Holder: lockFree}
	switch in.Kind {
	case opAcquire, opAcquireWait, opAcquireForce:
		res, err := c.AcquireLock(ctx, in.Lock, latchkey.AcquireRequest{TTLSeconds: ttlSeconds(linTTL),
			Wait: in.Kind == opAcquireWait, Force: in.Kind == opAcquireForce})
		if err != nil {
			return out, err
		}
		if res.Mode != latchkey.LockExclusive && res.Mode != latchkey.LockReadOnly {
			return out, fmt.Errorf("mode %q", res.Mode)
		}
		out.Exclusive, out.Token, out.Position = res.Mode == latchkey.LockExclusive, res.Token, res.QueuePosition
		if h := res.Holder; h != nil {
			out.Holder, out.HolderToken = r.holderOf(h.Principal), h.Token
		}
	case opKeepalive:
		_, err := c.KeepaliveLock(ctx, in.Lock, in.Token, 0)
		if code := latchkey.ErrorCode(err); code == latchkey.ELOCKNOTHELD {
			out.Err = code
		} else if err != nil {
			return out, err
		}
	case opRelease, opLeave:
		if err := c.ReleaseLock(ctx, in.Lock, in.Token, in.Kind == opLeave); err != nil {
			return out, err
		}
	case opGet:
		l, err := c.GetLock(ctx, in.Lock)
		if code := latchkey.ErrorCode(err); code == latchkey.ENOTFOUND {
			out.Err = code
			return out, nil
		} else if err != nil {
			return out, err
		}
		out.Fence = l.Fence
		if h := l.Holder; h != nil {
			out.Holder, out.HolderToken = r.holderOf(h.Principal), h.Token
		}
		var q []byte
		for _, w := range l.Queue {
			q = append(q, byte(r.holderOf(w.Principal)))
		}
		out.Queue = string(q)
	}
	return out, nil
}

// history returns the recorded operations, those without an answer
// returning after every other (so they may have happened at any time
// after their call, or not at all: last). Unanswered keepalives and GETs
// are left out: with leases that never run out they change nothing, and
// every call left pending to the end multiplies the checker's work.
func (r *linRun) history() []porcupine.Operation {
	r.mu.Lock()
	defer r.mu.Unlock()
	var end int64
	for _, op := range r.ops {
		end = max(end, op.Call, op.Return)
	}
	var ops []porcupine.Operation
	for _, op := range r.ops {
		if op.Return < 0 {
			if k := op.Input.(lockInput).Kind; k == opKeepalive || k == opGet {
				continue
			}
			op.Return = end + 1
		}
		ops = append(ops, op)
	}
	return ops
}

// linHTTPClient is an HTTP client that keeps a connection per client.
func linHTTPClient(t *testing.T) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = linClients
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// checkLinearizable checks the run's history, logs what it holds and
// fails if it is not linearizable, if the check did not finish, or if
// the history lacks grants by force, queued grants, denials, places in
// the queue, lock_not_held answers, stale releases or left places (a
// history without them proves little). It returns the history.
func checkLinearizable(t *testing.T, r *linRun) []porcupine.Operation {
	t.Helper()
	ops := r.history()
	started := time.Now()
	res, info := porcupine.CheckOperationsVerbose(lockModel, ops, linCheck)
	took := time.Since(started)
	switch res {
	case porcupine.Illegal:
		t.Fatalf("the lock history (%d operations) is not linearizable (checked in %v); visualization: %s (kept with go test -artifacts)",
			len(ops), took, visualizeLocks(t, info))
	case porcupine.Unknown:
		t.Fatalf("the linearizability check did not finish within %v (%d operations)", linCheck, len(ops))
	}
	var kinds [numLockOps]int
	for _, op := range ops {
		kinds[op.Input.(lockInput).Kind]++
	}
	var byKind []string
	for k, n := range kinds {
		byKind = append(byKind, fmt.Sprintf("%s %d", lockOpKind(k), n))
	}
	counts := tallyLinearization(info)
	var byEvent []string
	for ev, n := range counts {
		byEvent = append(byEvent, fmt.Sprintf("  %-42s %d", ev, n))
	}
	sort.Strings(byEvent)
	t.Logf("%d operations (%d without an answer) in %v, linearizable, checked in %v\n calls: %s\n outcomes:\n%s",
		len(ops), r.unknown.Load(), time.Duration(r.now()), took, strings.Join(byKind, ", "), strings.Join(byEvent, "\n"))
	for _, ev := range []lockEvent{evForce, evHandOver, evDeny, evQueue, evNotHeld, evStale, evLeave} {
		if counts[ev] == 0 {
			t.Errorf("no %q in the history: the check proves less than it should", ev)
		}
	}
	return ops
}

// visualizeLocks writes porcupine's visualization of info to the test's
// artifact directory and returns its path.
func visualizeLocks(t *testing.T, info porcupine.LinearizationInfo) string {
	path := filepath.Join(t.ArtifactDir(), "lock-history.html")
	if err := porcupine.VisualizePath(lockModel, info, path); err != nil {
		return fmt.Sprintf("(no visualization: %v)", err)
	}
	return path
}

// doctorSharedToken changes a history so that two clients are granted
// the same token of one lock: a later exclusive answer to another client
// gets the token of an earlier one. It returns false if the history has
// no such pair.
func doctorSharedToken(ops []porcupine.Operation) ([]porcupine.Operation, bool) {
	ops = append([]porcupine.Operation(nil), ops...)
	first := map[string]porcupine.Operation{} // the first exclusive answer, by lock
	for i, op := range ops {
		in, out := op.Input.(lockInput), op.Output.(lockOutput)
		if out.Unknown || !out.Exclusive {
			continue
		}
		f, ok := first[in.Lock]
		if !ok {
			first[in.Lock] = op
			continue
		}
		fin, fout := f.Input.(lockInput), f.Output.(lockOutput)
		if fin.Client != in.Client && fout.Token != out.Token {
			out.Token, out.HolderToken = fout.Token, fout.Token
			ops[i].Output = out
			return ops, true
		}
	}
	return ops, false
}

// assertRejectsDoctored checks that the checker rejects ops doctored so
// that two clients hold one token: the check is not vacuous.
func assertRejectsDoctored(t *testing.T, ops []porcupine.Operation) {
	t.Helper()
	bad, ok := doctorSharedToken(ops)
	if !ok {
		t.Fatal("no two clients were granted a lock: cannot doctor the history")
	}
	started := time.Now()
	if res := porcupine.CheckOperationsTimeout(lockModel, bad, linCheck); res != porcupine.Illegal {
		t.Fatalf("the history doctored so that two clients share a token: %s, want Illegal", res)
	}
	t.Logf("the doctored history (two clients granted one token) is rejected in %v", time.Since(started))
}

// TestLockLinearizable records a history of concurrent lock calls on an
// in-process server and checks it, on both backends.
func TestLockLinearizable(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 0)
		hc := linHTTPClient(t)
		r := newLinRun(t, b.Name)
		clients := make([]*client.Client, linClients)
		for i := range clients {
			p, c := w.staff(fmt.Sprintf("lin%d", i), latchkey.RoleDelegate)
			r.principals[p.ID] = i
			clients[i] = client.New(w.url, client.WithToken(c.Token()), client.WithHTTPClient(hc))
		}
		r.servers.replace(clients)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		r.run(ctx, nil)
		if t.Failed() {
			return
		}
		ops := checkLinearizable(t, r)
		assertRejectsDoctored(t, ops)
	})
}

// TestLockLinearizableAcrossKill records a history of concurrent lock
// calls on a real `latchkey serve` that is SIGKILLed halfway and
// restarted on the same store; the clients keep their user tokens. The
// calls in flight at the kill have no answer. Both backends.
func TestLockLinearizableAcrossKill(t *testing.T) {
	forEachProcessBackend(t, func(t *testing.T, b sqlstoretest.Backend, storeURL, dataDir string) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		p := startServer(t, storeURL, dataDir)
		admin := p.adminLogin(t)
		r := newLinRun(t, b.Name)
		tokens := make([]string, linClients)
		for i := range tokens {
			var id string
			id, tokens[i] = linDelegate(ctx, t, admin, p.client(""), i)
			r.principals[id] = i
		}
		clientsOn := func(p *proc) []*client.Client {
			cs := make([]*client.Client, len(tokens))
			for i, tok := range tokens {
				cs[i] = p.client(tok)
			}
			return cs
		}
		r.servers.replace(clientsOn(p))
		var restartTook time.Duration
		var inFlightAtKill int64
		r.run(ctx, func() {
			for r.answered.Load() < linOps/2 && !r.failed.Load() && ctx.Err() == nil {
				time.Sleep(time.Millisecond)
			}
			// Kill while calls are in flight (there nearly always are).
			for deadline := time.Now().Add(time.Second); r.inFlight.Load() == 0 && time.Now().Before(deadline); {
				time.Sleep(50 * time.Microsecond)
			}
			inFlightAtKill = r.inFlight.Load()
			r.servers.kill()
			p.kill()
			started := time.Now()
			q := startServer(t, storeURL, dataDir)
			restartTook = time.Since(started)
			r.servers.replace(clientsOn(q))
		})
		if t.Failed() {
			return
		}
		t.Logf("killed with %d calls in flight; restart took %v", inFlightAtKill, restartTook)
		if inFlightAtKill == 0 || r.unknown.Load() == 0 {
			t.Errorf("no call was in flight at the kill: the test proves less than it should")
		}
		ops := checkLinearizable(t, r)
		assertRejectsDoctored(t, ops)
	})
}

// TestLockLinearizabilityModel shows that the checker tells legal lock
// histories from doctored ones, without a server.
func TestLockLinearizabilityModel(t *testing.T) {
	t.Parallel()
	const name = "lin/m"
	type step struct {
		c         int
		kind      lockOpKind
		token     uint64
		call, ret int64 // ret 0: no answer
		out       lockOutput
	}
	excl := func(c int, tok uint64) lockOutput {
		return lockOutput{Exclusive: true, Token: tok, Holder: c, HolderToken: tok}
	}
	ro := func(h int, tok uint64, pos int) lockOutput {
		return lockOutput{Holder: h, HolderToken: tok, Position: pos}
	}
	ok := lockOutput{Holder: lockFree}
	notHeld := lockOutput{Err: latchkey.ELOCKNOTHELD, Holder: lockFree}
	for _, c := range []struct {
		name  string
		legal bool
		steps []step
	}{
		{"a read_only answer may precede the grant it names when they overlap", true, []step{
			{c: 0, kind: opAcquire, token: 0, call: 0, ret: 10, out: ro(1, 1, 0)},
			{c: 1, kind: opAcquire, token: 0, call: 2, ret: 5, out: excl(1, 1)},
		}},
		{"release hands over to the first waiter, who learns it by acquiring again", true, []step{
			{c: 0, kind: opAcquire, token: 0, call: 0, ret: 1, out: excl(0, 1)},
			{c: 1, kind: opAcquireWait, token: 0, call: 2, ret: 3, out: ro(0, 1, 1)},
			{c: 2, kind: opAcquireWait, token: 0, call: 4, ret: 5, out: ro(0, 1, 2)},
			{c: 0, kind: opRelease, token: 1, call: 6, ret: 7, out: ok},
			{c: 1, kind: opAcquire, token: 0, call: 8, ret: 9, out: excl(1, 2)},
			{c: 2, kind: opAcquireWait, token: 0, call: 10, ret: 11, out: ro(1, 2, 1)},
			{c: 0, kind: opKeepalive, token: 1, call: 12, ret: 13, out: notHeld},
		}},
		{"a call without an answer may have happened", true, []step{
			{c: 0, kind: opAcquire, token: 0, call: 0, ret: 1, out: excl(0, 1)},
			{c: 1, kind: opAcquireForce, token: 0, call: 2, ret: 0, out: lockOutput{Unknown: true}},
			{c: 0, kind: opKeepalive, token: 1, call: 3, ret: 4, out: notHeld},
			{c: 2, kind: opAcquire, token: 0, call: 5, ret: 6, out: ro(1, 2, 0)},
		}},
		{"a call without an answer may not have happened", true, []step{
			{c: 0, kind: opAcquire, token: 0, call: 0, ret: 1, out: excl(0, 1)},
			{c: 1, kind: opAcquireForce, token: 0, call: 2, ret: 0, out: lockOutput{Unknown: true}},
			{c: 2, kind: opAcquire, token: 0, call: 5, ret: 6, out: ro(0, 1, 0)},
			{c: 0, kind: opKeepalive, token: 1, call: 7, ret: 8, out: ok},
		}},
		{"two clients granted the same token", false, []step{
			{c: 0, kind: opAcquire, token: 0, call: 0, ret: 1, out: excl(0, 1)},
			{c: 1, kind: opAcquire, token: 0, call: 2, ret: 3, out: excl(1, 1)},
		}},
		{"a token that goes down", false, []step{
			{c: 0, kind: opAcquire, token: 0, call: 0, ret: 1, out: excl(0, 1)},
			{c: 1, kind: opAcquireForce, token: 0, call: 2, ret: 3, out: excl(1, 2)},
			{c: 0, kind: opAcquireForce, token: 0, call: 4, ret: 5, out: excl(0, 1)},
		}},
		{"a waiter jumps the queue", false, []step{
			{c: 0, kind: opAcquire, token: 0, call: 0, ret: 1, out: excl(0, 1)},
			{c: 1, kind: opAcquireWait, token: 0, call: 2, ret: 3, out: ro(0, 1, 1)},
			{c: 2, kind: opAcquireWait, token: 0, call: 4, ret: 5, out: ro(0, 1, 2)},
			{c: 0, kind: opRelease, token: 1, call: 6, ret: 7, out: ok},
			{c: 2, kind: opAcquire, token: 0, call: 8, ret: 9, out: excl(2, 2)},
		}},
		{"a renewed place in the queue moves to the back", false, []step{
			{c: 0, kind: opAcquire, token: 0, call: 0, ret: 1, out: excl(0, 1)},
			{c: 1, kind: opAcquireWait, token: 0, call: 2, ret: 3, out: ro(0, 1, 1)},
			{c: 2, kind: opAcquireWait, token: 0, call: 4, ret: 5, out: ro(0, 1, 2)},
			{c: 1, kind: opAcquireWait, token: 0, call: 6, ret: 7, out: ro(0, 1, 2)},
		}},
		{"a broken holder's keepalive succeeds", false, []step{
			{c: 0, kind: opAcquire, token: 0, call: 0, ret: 1, out: excl(0, 1)},
			{c: 1, kind: opAcquireForce, token: 0, call: 2, ret: 3, out: excl(1, 2)},
			{c: 0, kind: opKeepalive, token: 1, call: 4, ret: 5, out: ok},
		}},
		{"a stale release frees the lock", false, []step{
			{c: 0, kind: opAcquire, token: 0, call: 0, ret: 1, out: excl(0, 1)},
			{c: 1, kind: opAcquireForce, token: 0, call: 2, ret: 3, out: excl(1, 2)},
			{c: 0, kind: opRelease, token: 1, call: 4, ret: 5, out: ok},
			{c: 2, kind: opAcquire, token: 0, call: 6, ret: 7, out: excl(2, 3)},
		}},
	} {
		var ops []porcupine.Operation
		for _, s := range c.steps {
			ret := s.ret
			if ret == 0 {
				ret = 1000
			}
			ops = append(ops, porcupine.Operation{ClientId: s.c, Input: lockInput{Lock: name, Client: s.c, Kind: s.kind, Token: s.token},
				Call: s.call, Output: s.out, Return: ret})
		}
		want := porcupine.Illegal
		if c.legal {
			want = porcupine.Ok
		}
		if res := porcupine.CheckOperationsTimeout(lockModel, ops, 5*time.Second); res != want {
			t.Errorf("%s: %s, want %s", c.name, res, want)
		}
	}
}

// linDelegate creates client i's delegate ("lin<i>") through admin, logs
// it on at node, and returns its principal ID and user token.
func linDelegate(ctx context.Context, t *testing.T, admin, node *client.Client, i int) (id, token string) {
	t.Helper()
	login := fmt.Sprintf("lin%d", i)
	pr, err := admin.CreatePrincipal(ctx, latchkey.Principal{Name: login, Role: latchkey.RoleDelegate})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.AddIdentity(ctx, pr.ID, login, pw(login)); err != nil {
		t.Fatal(err)
	}
	tok, err := node.Login(ctx, login, pw(login))
	if err != nil {
		t.Fatal(err)
	}
	return pr.ID, tok.Token
}
