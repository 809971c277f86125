package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"latchkey"
	"latchkey/client"
)

var lockSynopsis = []string{
	"lock acquire NAME [--ttl D] [--wait] [--force] [--note TEXT]",
	"lock keepalive NAME --lock-token N [--ttl D]",
	"lock release NAME (--lock-token N | --leave-queue)",
	"lock show NAME",
	"lock list [--limit N] [--after NAME]",
	"lock watch NAME",
}

func runLock(e *env, args []string) int {
	return e.dispatch("lock", lockSynopsis, map[string]func(*env, []string) int{
		"acquire":   lockAcquire,
		"keepalive": lockKeepalive,
		"release":   lockRelease,
		"show":      lockShow,
		"list":      lockList,
		"watch":     lockWatch,
	}, args)
}

// ttlFlag reads a lease length flag: whole seconds, 1 s to 24 h; 0 means
// the server's default.
func ttlSecondsOf(d time.Duration) (*int, error) {
	if d == 0 {
		return nil, nil
	}
	if d%time.Second != 0 || d < latchkey.MinLockTTL || d > latchkey.MaxLockTTL {
		return nil, fmt.Errorf("--ttl must be whole seconds from %s to %s", latchkey.MinLockTTL, latchkey.MaxLockTTL)
	}
	n := int(d / time.Second)
	return &n, nil
}

// lockAcquire takes a lock. With --wait it joins the queue and stays until
// the lock is granted: it follows the event stream and renews its place
// in the queue (every third of --ttl) so that the place does not lapse
// while it waits.
func lockAcquire(e *env, args []string) int {
	c := e.newCmd("lock acquire", synopsisOf(lockSynopsis, "lock acquire"), true)
	ttl := c.fs.Duration("ttl", 0, "lease length, e.g. 5m (default 60s)")
	wait := c.fs.Bool("wait", false, "wait in the queue until the lock is granted")
	force := c.fs.Bool("force", false, "break the holder's lock and take it (admin or delegate)")
	note := c.fs.String("note", "", "what you are doing, shown to others")
	pos, st, ok := c.parse(args, "NAME")
	if !ok {
		return st
	}
	secs, err := ttlSecondsOf(*ttl)
	if err != nil {
		return c.usageError("%v", err)
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	name := pos[0]
	req := latchkey.AcquireRequest{TTLSeconds: secs, Wait: *wait, Force: *force, Note: *note}
	var events *client.EventStream
	var stopEvents context.CancelFunc
	if *wait { // on the stream before queueing: no grant can slip by
		var ctx context.Context
		ctx, stopEvents = context.WithCancel(c.ctx)
		defer stopEvents()
		events = cl.Events(ctx, []string{latchkey.TopicLocks}, client.FromNow)
		if err := events.Connect(); err != nil {
			return c.fail(err)
		}
	}
	res, err := cl.AcquireLock(c.ctx, name, req)
	if err == nil && *wait && res.Mode != latchkey.LockExclusive {
		res, err = waitForGrant(c, cl, events, stopEvents, name, req, res)
	}
	if events != nil {
		events.Close()
	}
	if err != nil {
		return c.fail(err)
	}
	return printAcquire(c, name, res)
}

// waitForGrant waits in the queue of name: every lock event on it may be
// the grant, which the next acquire (the holder asking again gets its
// grant back) confirms; the same acquire renews the place. It reads the
// stream in a goroutine, which it stops (stop ends the stream's context)
// and waits for before it returns.
func waitForGrant(c *cmd, cl *client.Client, events *client.EventStream, stop context.CancelFunc, name string, req latchkey.AcquireRequest, res *latchkey.AcquireResult) (*latchkey.AcquireResult, error) {
	ttl := req.TTL()
	if ttl == 0 {
		ttl = latchkey.DefaultLockTTL
	}
	fmt.Fprintf(c.stderr, "waiting for %s (held by %s, queue position %d)\n", name, holderText(res.Holder), res.QueuePosition)
	type next struct {
		e   latchkey.Event
		err error
	}
	ch, quit, done := make(chan next), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			e, err := events.Next()
			select {
			case ch <- next{e, err}:
			case <-quit:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	defer func() { close(quit); stop(); <-done }()
	renew := time.NewTicker(ttl / 3)
	defer renew.Stop()
	for {
		select {
		case <-c.ctx.Done():
			// Giving up: leave the queue so that nobody waits for us.
			ctx, cancel := context.WithTimeout(context.WithoutCancel(c.ctx), 5*time.Second)
			defer cancel()
			_ = cl.ReleaseLock(ctx, name, 0, true)
			return nil, c.ctx.Err()
		case n := <-ch:
			if n.err != nil {
				return nil, n.err
			}
			if n.e.Target != name {
				continue
			}
		case <-renew.C:
		}
		var err error
		if res, err = cl.AcquireLock(c.ctx, name, req); err != nil {
			return nil, err
		}
		if res.Mode == latchkey.LockExclusive {
			return res, nil
		}
	}
}

func holderText(h *latchkey.LockHolder) string {
	if h == nil {
		return "nobody"
	}
	s := h.Name + " since " + timeText(h.Since)
	if h.Note != "" {
		s += " (" + h.Note + ")"
	}
	return s
}

func printAcquire(c *cmd, name string, res *latchkey.AcquireResult) int {
	if c.json {
		return c.printJSON(res)
	}
	if res.Mode == latchkey.LockExclusive {
		fields(c.stdout, "lock", name, "mode", "EXCLUSIVE", "token", strconv.FormatUint(res.Token, 10),
			"expires", timePtrText(res.ExpiresAt))
		return 0
	}
	kv := []string{"lock", name, "mode", "READ ONLY", "held by", holderText(res.Holder)}
	if res.Holder != nil {
		kv = append(kv, "until", timeText(res.Holder.ExpiresAt))
	}
	if res.QueuePosition > 0 {
		kv = append(kv, "queue position", strconv.Itoa(res.QueuePosition))
	}
	fields(c.stdout, kv...)
	return 0
}

func lockKeepalive(e *env, args []string) int {
	c := e.newCmd("lock keepalive", synopsisOf(lockSynopsis, "lock keepalive"), true)
	token := c.fs.Uint64("lock-token", 0, "the fencing token of your grant")
	ttl := c.fs.Duration("ttl", 0, "new lease length (default: the grant's)")
	pos, st, ok := c.parse(args, "NAME")
	if !ok {
		return st
	}
	if st := c.required("lock-token"); st != 0 {
		return st
	}
	if _, err := ttlSecondsOf(*ttl); err != nil {
		return c.usageError("%v", err)
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	exp, err := cl.KeepaliveLock(c.ctx, pos[0], *token, *ttl)
	if err != nil {
		return c.fail(err)
	}
	if c.json {
		return c.printJSON(map[string]time.Time{"expires_at": exp})
	}
	fields(c.stdout, "lock", pos[0], "expires", timeText(exp))
	return 0
}

func lockRelease(e *env, args []string) int {
	c := e.newCmd("lock release", synopsisOf(lockSynopsis, "lock release"), true)
	token := c.fs.Uint64("lock-token", 0, "the fencing token of your grant")
	leave := c.fs.Bool("leave-queue", false, "give up your place in the queue")
	pos, st, ok := c.parse(args, "NAME")
	if !ok {
		return st
	}
	if *token == 0 && !*leave {
		return c.usageError("--lock-token or --leave-queue is required")
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	if err := cl.ReleaseLock(c.ctx, pos[0], *token, *leave); err != nil {
		return c.fail(err)
	}
	if !c.json {
		fmt.Fprintf(c.stderr, "released %s\n", pos[0])
	}
	return 0
}

func lockShow(e *env, args []string) int {
	return showCommand(e, "lock show", (*client.Client).GetLock, showLock, args)
}

func showLock(c *cmd, l *latchkey.Lock) int {
	if c.json {
		return c.printJSON(l)
	}
	kv := []string{"lock", l.Name, "fence", strconv.FormatUint(l.Fence, 10)}
	if h := l.Holder; h != nil {
		kv = append(kv, "held by", holderText(h), "token", strconv.FormatUint(h.Token, 10), "expires", timeText(h.ExpiresAt))
	} else {
		kv = append(kv, "held by", "nobody")
	}
	fields(c.stdout, kv...)
	if len(l.Queue) > 0 {
		rows := make([][]string, len(l.Queue))
		for i, w := range l.Queue {
			rows[i] = []string{strconv.Itoa(i + 1), w.Name, timeText(w.EnqueuedAt), orDash(w.Note)}
		}
		fmt.Fprintln(c.stdout)
		table(c.stdout, "#\tWAITING\tSINCE\tNOTE", rows)
	}
	return 0
}

func lockList(e *env, args []string) int {
	return listCommand(e, "lock list", synopsisOf(lockSynopsis, "lock list"), (*client.Client).ListLocks,
		"NAME\tHOLDER\tTOKEN\tEXPIRES\tWAITING", func(l latchkey.Lock) []string {
			if l.Holder == nil {
				return []string{l.Name, "-", "-", "-", strconv.Itoa(len(l.Queue))}
			}
			return []string{l.Name, l.Holder.Name, strconv.FormatUint(l.Holder.Token, 10), timeText(l.Holder.ExpiresAt), strconv.Itoa(len(l.Queue))}
		}, args)
}

// lockWatch prints the lock's state, then every change of it as it
// happens, until interrupted.
func lockWatch(e *env, args []string) int {
	c := e.newCmd("lock watch", synopsisOf(lockSynopsis, "lock watch"), true)
	pos, st, ok := c.parse(args, "NAME")
	if !ok {
		return st
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	events := cl.Events(c.ctx, []string{latchkey.TopicLocks}, client.FromNow)
	defer events.Close()
	if err := events.Connect(); err != nil {
		return c.fail(err)
	}
	switch l, err := cl.GetLock(c.ctx, pos[0]); {
	case latchkey.ErrorCode(err) == latchkey.ENOTFOUND:
		fmt.Fprintf(c.stderr, "%s has never been acquired\n", pos[0])
	case err != nil:
		return c.fail(err)
	default:
		showLock(c, l)
	}
	return tailEvents(c, events, func(ev latchkey.Event) bool { return ev.Target == pos[0] })
}
