package bench

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"latchkey"
	"latchkey/client"
)

// The soak's load: each worker loops until the load ends, records what
// the servers acknowledged in the ledger, and checks on the way what a
// client can check at once (an acknowledged lock is held when read
// back, from whichever node answers).

// callTimeout bounds one call, its fail-over included.
const callTimeout = 30 * time.Second

// ledger is what the servers acknowledged, and what was seen wrong on the
// way.
type ledger struct {
	mu         sync.Mutex
	sessions   map[string]bool // session → logout acknowledged
	checkouts  map[string]bool // check-out → check-in acknowledged
	requests   map[string]bool // request → adopted (made by a call whose answer was lost)
	tasks      map[string]bool
	decisions  int
	lockCycles int
	violations map[string][]string // by kind (violation*): what a worker saw wrong
	maxUnlock  int
	observed   int
}

func newLedger() *ledger {
	return &ledger{sessions: map[string]bool{}, checkouts: map[string]bool{}, requests: map[string]bool{}, tasks: map[string]bool{},
		violations: map[string][]string{}}
}

// Kinds of violation a worker sees.
const (
	violationLost     = "lost"     // an acknowledged write not found
	violationLock     = "lock"     // an edit lock read back otherwise than acknowledged
	violationSessions = "sessions" // two unlocked sessions of one person
)

func (l *ledger) violation(kind, format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.violations[kind]) < 100 {
		l.violations[kind] = append(l.violations[kind], fmt.Sprintf(format, args...))
	}
}

func (l *ledger) summary() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, v := range l.violations {
		n += len(v)
	}
	return fmt.Sprintf("%d sessions, %d check-outs, %d requests, %d decisions, %d tasks, %d lock cycles acknowledged; %d problems",
		len(l.sessions), len(l.checkouts), len(l.requests), l.decisions, len(l.tasks), l.lockCycles, n)
}

// opLog counts the calls by kind.
type opLog struct {
	mu  sync.Mutex
	ops map[string]*opCount
}

type opCount struct {
	samples                    []time.Duration
	refused, unknown, internal int
	lastRefused, lastUnknown   string
}

func newOpLog() *opLog { return &opLog{ops: map[string]*opCount{}} }

// Outcomes of a call.
const (
	outOK      = "ok"
	outRefused = "refused" // a rule said no: an answer
	outUnknown = "unknown" // no answer to act on
)

// outcome classifies a call's error.
func outcome(err error) string {
	if err == nil {
		return outOK
	}
	code := latchkey.ErrorCode(err)
	switch {
	case code == "", code == latchkey.EUNAVAILABLE, code == latchkey.EINTERNAL:
		return outUnknown
	case code == latchkey.ECONFLICT:
		switch latchkey.ErrorDetails(err)["reason"] {
		case "idempotency_response_lost", "idempotency_key_in_progress":
			return outUnknown
		}
	}
	return outRefused
}

func (o *opLog) add(op string, d time.Duration, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	c := o.ops[op]
	if c == nil {
		c = &opCount{}
		o.ops[op] = c
	}
	switch outcome(err) {
	case outOK:
		c.samples = append(c.samples, d)
		return
	case outRefused:
		c.refused++
		c.lastRefused = err.Error()
	default:
		c.unknown++
		if latchkey.ErrorCode(err) == latchkey.EINTERNAL {
			c.internal++
		}
		c.lastUnknown = err.Error()
	}
}

func (o *opLog) stats() []FailoverOp {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []FailoverOp
	for name, c := range o.ops {
		st := Summarize(name, c.samples, 0, 0)
		out = append(out, FailoverOp{Op: name, OK: st.Count, Refused: c.refused, Unknown: c.unknown, Internal: c.internal,
			P50ms: st.P50ms, P99ms: st.P99ms, MaxMs: st.MaxMs, LastRefused: c.lastRefused, LastUnknown: c.lastUnknown})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Op < out[j].Op })
	return out
}

// call runs one API call of kind op, bounded by callTimeout, and counts
// it.
func (s *soak) call(op string, fn func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(s.ctx, callTimeout)
	defer cancel()
	t := time.Now()
	err := fn(ctx)
	s.ops.add(op, time.Since(t), err)
	return err
}

// sessionWorker is one person at one of their two terminals: log on,
// then touch, lock and unlock a few times, then log off. With the
// person's other terminal doing the same, logons and unlocks are
// refused (concurrent_session) whenever the other session is unlocked.
func (s *soak) sessionWorker(p, slot int) {
	pr := s.persons[p]
	k := 2*p + slot
	term := s.sessTerms[k]
	c := s.clientFor(k, term.token)
	for s.loadOn() {
		var sess latchkey.Session
		err := s.call("session.login", func(ctx context.Context) error {
			r, err := c.StartSession(ctx, term.id, latchkey.LoginRequest{Identity: pr.login, Password: pr.password, TimeSent: time.Now()})
			if err == nil {
				sess = r.Session
			}
			return err
		})
		if err != nil {
			s.pause(100*time.Millisecond, 400*time.Millisecond)
			continue
		}
		s.led.mu.Lock()
		s.led.sessions[sess.ID] = false
		s.led.mu.Unlock()
		alive := true
		step := func(op string, fn func(ctx context.Context) (*latchkey.Session, error)) {
			if !alive {
				return
			}
			err := s.call(op, func(ctx context.Context) error { _, err := fn(ctx); return err })
			switch latchkey.ErrorCode(err) {
			case latchkey.ENOTFOUND:
				s.led.violation(violationLost, "session %s (logon acknowledged): %s answered not found", sess.ID, op)
				alive = false
			case latchkey.ESESSIONFAILED:
				alive = false // ended by a rule (an idle timeout); the next cycle logs on again
			}
		}
		for range 1 + randN(3) {
			step("session.touch", func(ctx context.Context) (*latchkey.Session, error) { return c.TouchSession(ctx, sess.ID) })
			s.pause(50*time.Millisecond, 250*time.Millisecond)
			step("session.lock", func(ctx context.Context) (*latchkey.Session, error) {
				return c.LockSession(ctx, sess.ID, latchkey.LockRequest{TimeSent: time.Now(), Reason: latchkey.LockManual})
			})
			s.pause(50*time.Millisecond, 250*time.Millisecond)
			step("session.unlock", func(ctx context.Context) (*latchkey.Session, error) {
				return c.UnlockSession(ctx, sess.ID, latchkey.UnlockRequest{Identity: pr.login, Password: pr.password, TimeSent: time.Now()})
			})
			s.pause(50*time.Millisecond, 250*time.Millisecond)
			if !alive || !s.loadOn() {
				break
			}
		}
		if !alive {
			continue
		}
		err = s.call("session.logout", func(ctx context.Context) error { _, err := c.EndSession(ctx, sess.ID); return err })
		if err == nil {
			s.led.mu.Lock()
			s.led.sessions[sess.ID] = true
			s.led.mu.Unlock()
		}
	}
}

// checkoutWorker checks the tools set out to agent terminal i for one
// person, waits for the agent's grant, and checks it in, again and
// again.
func (s *soak) checkoutWorker(i int) {
	term := s.agentTerms[i]
	pr := s.persons[i%len(s.persons)]
	for s.loadOn() {
		var co *client.CheckoutView
		err := s.call("checkout.create", func(ctx context.Context) error {
			var err error
			co, err = s.admin.CreateCheckout(ctx, latchkey.CheckoutCreate{GroupSet: s.coSet, Terminal: term.id, Principal: pr.id, Minutes: 30})
			return err
		})
		if err != nil { // the group still locked by the last check-in, or no answer
			s.pause(100*time.Millisecond, 300*time.Millisecond)
			continue
		}
		s.led.mu.Lock()
		s.led.checkouts[co.ID] = false
		s.led.mu.Unlock()
		for co.Status == latchkey.CheckingOut && s.loadOn() {
			s.pause(100*time.Millisecond, 200*time.Millisecond)
			err := s.call("checkout.get", func(ctx context.Context) error {
				x, err := s.admin.GetCheckout(ctx, co.ID)
				if err == nil {
					co = x
				}
				return err
			})
			if latchkey.ErrorCode(err) == latchkey.ENOTFOUND {
				s.led.violation(violationLost, "check-out %s (acknowledged) not found", co.ID)
				break
			}
		}
		if co.Status != latchkey.CheckedOut {
			continue // failed (the check at the end says so), or the load is over
		}
		s.pause(50*time.Millisecond, 300*time.Millisecond)
		err = s.call("checkout.checkin", func(ctx context.Context) error { _, err := s.admin.CheckinCheckout(ctx, co.ID); return err })
		if err == nil {
			s.led.mu.Lock()
			s.led.checkouts[co.ID] = true
			s.led.mu.Unlock()
		}
	}
}

// requestWorker asks for the approval set on agent terminals 2w and 2w+1
// (the approver approves), waits until the request is active, checks
// its check-outs in and waits until it is done.
func (s *soak) requestWorker(w int) {
	terms := []string{s.agentTerms[2*w].id}
	if 2*w+1 < len(s.agentTerms) {
		terms = append(terms, s.agentTerms[2*w+1].id)
	}
	for s.loadOn() {
		var r *latchkey.Request
		err := s.call("request.create", func(ctx context.Context) error {
			var err error
			r, err = s.requester.CreateRequest(ctx, latchkey.RequestCreate{GroupSet: s.reqSet, Terminals: terms, Minutes: 30, Reason: "soak"})
			return err
		})
		if err != nil {
			if outcome(err) == outUnknown {
				s.adoptRequests(terms)
			}
			s.pause(200*time.Millisecond, 500*time.Millisecond)
			continue
		}
		s.led.mu.Lock()
		s.led.requests[r.ID] = false
		s.led.mu.Unlock()
		s.driveRequest(r.ID, terms)
	}
}

// adoptRequests drives on the requests on terms that a call whose answer
// was lost may have made.
func (s *soak) adoptRequests(terms []string) {
	var list []latchkey.Request
	err := s.call("request.list", func(ctx context.Context) error {
		var err error
		list, _, err = s.requester.ListRequests(ctx, latchkey.RequestFilter{Mine: true, Page: latchkey.Page{Limit: 100}})
		return err
	})
	if err != nil {
		return
	}
	for _, r := range list {
		if r.Status.Ended() || len(r.Terminals) == 0 || r.Terminals[0] != terms[0] {
			continue
		}
		s.led.mu.Lock()
		_, known := s.led.requests[r.ID]
		if !known {
			s.led.requests[r.ID] = true
		}
		s.led.mu.Unlock()
		if !known {
			s.driveRequest(r.ID, terms)
		}
	}
}

// driveRequest waits until the request is active, checks its check-outs
// in, and waits until it is done and its groups are free on its
// terminals. It gives up when the load ends (the settling waits for the
// rest).
func (s *soak) driveRequest(id string, terms []string) {
	get := func() *latchkey.Request {
		var r *latchkey.Request
		err := s.call("request.get", func(ctx context.Context) error {
			var err error
			r, err = s.requester.GetRequest(ctx, id)
			return err
		})
		if latchkey.ErrorCode(err) == latchkey.ENOTFOUND {
			s.led.violation(violationLost, "request %s (acknowledged) not found", id)
		}
		return r
	}
	var r *latchkey.Request
	for s.loadOn() {
		if r = get(); r != nil && r.Status != latchkey.RequestWaitingApproval && r.Status != latchkey.RequestProvisioning {
			break
		}
		s.pause(150*time.Millisecond, 300*time.Millisecond)
	}
	if r == nil || r.Status != latchkey.RequestActive {
		return // over, or ended otherwise (the check at the end says so)
	}
	for _, co := range r.Checkouts {
		err := s.call("checkout.checkin", func(ctx context.Context) error { _, err := s.admin.CheckinCheckout(ctx, co); return err })
		if err == nil {
			s.led.mu.Lock()
			s.led.checkouts[co] = true
			s.led.mu.Unlock()
		}
	}
	for s.loadOn() {
		if r = get(); r != nil && r.Status.Ended() {
			break
		}
		s.pause(150*time.Millisecond, 300*time.Millisecond)
	}
	// The check-in instructions lock the group until the agents reply; a
	// request made before would wait for them (with the job's back-off).
	for s.loadOn() {
		free := true
		for _, t := range terms {
			var tm *latchkey.Terminal
			err := s.call("terminal.get", func(ctx context.Context) error {
				var err error
				tm, err = s.admin.GetTerminal(ctx, t)
				return err
			})
			if err != nil || slices.Contains(tm.LockedGroups, "sreq") {
				free = false
			}
		}
		if free {
			return
		}
		s.pause(100*time.Millisecond, 200*time.Millisecond)
	}
}

// approver approves every open work item, through the load and the
// settling.
func (s *soak) approver() {
	for {
		select {
		case <-s.settleOver:
			return
		case <-time.After(randBetween(200*time.Millisecond, 400*time.Millisecond)):
		}
		var items []latchkey.WorkItem
		if err := s.call("workitem.list", func(ctx context.Context) error {
			var err error
			items, _, err = s.admin.ListWorkItems(ctx, latchkey.WorkItemOpen, latchkey.Page{Limit: 100})
			return err
		}); err != nil {
			continue
		}
		for _, it := range items {
			err := s.call("workitem.approve", func(ctx context.Context) error {
				_, err := s.admin.DecideWorkItem(ctx, it.ID, latchkey.WorkItemDecide{Decision: latchkey.DecisionApprove, Comment: "soak"})
				return err
			})
			if err == nil {
				s.led.mu.Lock()
				s.led.decisions++
				s.led.mu.Unlock()
			}
		}
	}
}

// taskWorker schedules a task every 1.5 to 3 s: audit seals and reports,
// a third of them due a few seconds later (so that some fall due while
// a node is out).
func (s *soak) taskWorker() {
	for n := 0; ; n++ {
		s.pause(1500*time.Millisecond, 3*time.Second)
		if !s.loadOn() {
			return
		}
		tc := latchkey.TaskCreate{Kind: latchkey.TaskAuditSeal}
		if n%2 == 1 {
			day := time.Now().UTC().Format("2006-01-02")
			tc = latchkey.TaskCreate{Kind: latchkey.TaskReport, Params: []byte(fmt.Sprintf(`{"from":%q,"to":%q}`, day, day))}
		}
		if randN(3) == 0 {
			at := time.Now().Add(randBetween(2*time.Second, 8*time.Second)).UTC()
			tc.RunAt = &at
		}
		var x *latchkey.Task
		err := s.call("task.create", func(ctx context.Context) error {
			var err error
			x, err = s.admin.CreateTask(ctx, tc)
			return err
		})
		if err == nil {
			s.led.mu.Lock()
			s.led.tasks[x.ID] = true
			s.led.mu.Unlock()
		}
	}
}

// lockWorker acquires and releases an edit lock of its own as delegate
// d, reading the lock back after each acknowledged change through a
// client that starts at another node: an acquire acknowledged is held,
// a release acknowledged is not.
func (s *soak) lockWorker(d int) {
	c := s.delegates[d]
	reader := s.clientFor(d+1, s.admin.Token())
	name := fmt.Sprintf("soak-%s/lock-%d", s.tag, d+1)
	ttl := 30
	read := func() (*latchkey.Lock, bool) {
		var l *latchkey.Lock
		err := s.call("lock.get", func(ctx context.Context) error {
			var err error
			l, err = reader.GetLock(ctx, name)
			return err
		})
		switch {
		case err == nil:
			return l, true
		case latchkey.ErrorCode(err) == latchkey.ENOTFOUND:
			return &latchkey.Lock{Name: name}, true
		}
		return nil, false
	}
	for s.loadOn() {
		var res *latchkey.AcquireResult
		err := s.call("lock.acquire", func(ctx context.Context) error {
			var err error
			res, err = c.AcquireLock(ctx, name, latchkey.AcquireRequest{TTLSeconds: &ttl})
			return err
		})
		if err != nil || res.Mode != latchkey.LockExclusive {
			s.pause(100*time.Millisecond, 300*time.Millisecond)
			continue
		}
		if l, ok := read(); ok && (l.Holder == nil || l.Holder.Token != res.Token) {
			s.led.violation(violationLock, "lock %s: acquire acknowledged with token %d, then read back: holder %+v", name, res.Token, l.Holder)
		}
		s.pause(20*time.Millisecond, 150*time.Millisecond)
		err = s.call("lock.release", func(ctx context.Context) error { return c.ReleaseLock(ctx, name, res.Token, false) })
		if err != nil {
			continue // the next acquire finds it held by this token, or free
		}
		if l, ok := read(); ok && l.Holder != nil && l.Holder.Token == res.Token {
			s.led.violation(violationLock, "lock %s: release of token %d acknowledged, then read back still held", name, res.Token)
		}
		s.led.mu.Lock()
		s.led.lockCycles++
		s.led.mu.Unlock()
	}
}

// observer samples every person's active sessions, through any node,
// every 250 ms: never two unlocked at once.
func (s *soak) observer() {
	for s.loadOn() {
		for _, p := range s.persons {
			var list []latchkey.Session
			err := s.call("sessions.list", func(ctx context.Context) error {
				var err error
				list, _, err = s.admin.ListPrincipalSessions(ctx, p.id, latchkey.SessionActive, latchkey.Page{Limit: 100})
				return err
			})
			if err != nil {
				continue
			}
			n := 0
			var ids []string
			for _, x := range list {
				if x.Unlocked() {
					n++
					ids = append(ids, x.ID)
				}
			}
			s.led.mu.Lock()
			s.led.observed++
			s.led.maxUnlock = max(s.led.maxUnlock, n)
			s.led.mu.Unlock()
			if n > 1 {
				s.led.violation(violationSessions, "person %s had %d unlocked sessions at once: %v", p.login, n, ids)
			}
		}
		s.pause(250*time.Millisecond, 250*time.Millisecond)
	}
}
