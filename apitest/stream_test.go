package apitest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"latchkey"
	"latchkey/client"
	"latchkey/sqlstore/sqlstoretest"
)

// stream opens c's event stream of topics from now and waits until it is
// connected, so everything after is on it.
func stream(t *testing.T, c *client.Client, topics ...string) *client.EventStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s := c.Events(ctx, topics, client.FromNow)
	if err := s.Connect(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// lastAuditSeq is the seq of the last audit record the world's set-up
// wrote (it writes fewer than a page): a stream after it carries what the
// test does.
func lastAuditSeq(t *testing.T, admin *client.Client) int64 {
	t.Helper()
	recs, _, err := admin.ListAudit(context.Background(), latchkey.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return recs[len(recs)-1].Seq
}

// nextEvent waits up to within for the next event on s that match
// accepts, skipping others.
func nextEvent(t *testing.T, s *client.EventStream, within time.Duration, match func(latchkey.Event) bool) latchkey.Event {
	t.Helper()
	type got struct {
		e   latchkey.Event
		err error
	}
	ch := make(chan got, 1)
	go func() {
		for {
			e, err := s.Next()
			if err != nil || match(e) {
				ch <- got{e, err}
				return
			}
		}
	}()
	select {
	case g := <-ch:
		if g.err != nil {
			t.Fatalf("event stream: %v", g.err)
		}
		return g.e
	case <-time.After(within):
		t.Fatalf("no matching event within %s", within)
	}
	panic("unreachable")
}

func detail(e latchkey.Event, key string) any {
	var d map[string]any
	_ = json.Unmarshal(e.Details, &d)
	return d[key]
}

func isAction(action, target string) func(latchkey.Event) bool {
	return func(e latchkey.Event) bool { return string(e.Action) == action && e.Target == target }
}

// The holder is told who waits; the waiter is told of its grant the
// moment the lock is released, and the broken holder of the force, all on
// the stream and without polling.
func TestStreamAnnouncesLockChanges(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 0)
		ctx := context.Background()
		const name = "admin/users"
		dora, delegate := w.staff("dora", latchkey.RoleDelegate)
		adminEvents := stream(t, w.admin, latchkey.TopicLocks)
		doraEvents := stream(t, delegate, latchkey.TopicLocks)

		g, err := w.admin.AcquireLock(ctx, name, latchkey.AcquireRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := delegate.AcquireLock(ctx, name, latchkey.AcquireRequest{Wait: true}); err != nil {
			t.Fatal(err)
		}
		q := nextEvent(t, adminEvents, 5*time.Second, isAction("lock.queue", name))
		if detail(q, "principal") != dora.ID || detail(q, "holder") != g.Holder.Principal {
			t.Fatalf("lock.queue tells the holder %s, want dora waiting for admin", q.Details)
		}

		released := time.Now()
		if err := w.admin.ReleaseLock(ctx, name, g.Token, false); err != nil {
			t.Fatal(err)
		}
		grant := nextEvent(t, doraEvents, 5*time.Second, isAction("lock.grant", name))
		if lag := time.Since(released); lag > time.Second {
			t.Errorf("the grant reached the waiter %s after the release", lag)
		}
		if detail(grant, "principal") != dora.ID || detail(grant, "token") != float64(g.Token+1) {
			t.Fatalf("lock.grant %s, want dora with token %d", grant.Details, g.Token+1)
		}

		if _, err := w.admin.AcquireLock(ctx, name, latchkey.AcquireRequest{Force: true}); err != nil {
			t.Fatal(err)
		}
		f := nextEvent(t, doraEvents, 5*time.Second, isAction("lock.force", name))
		if detail(f, "from") != dora.ID || detail(f, "broke") != float64(g.Token+1) {
			t.Fatalf("lock.force %s, want dora's token %d broken", f.Details, g.Token+1)
		}
	})
}

// A stream cut at random points and resumed with Last-Event-ID delivers
// every event of its topics exactly once, in seq order: the same records
// as the audit log.
func TestStreamResumesWithoutLossOrRepeat(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 0)
		ctx := context.Background()
		from := lastAuditSeq(t, w.admin)

		const cycles = 60
		done := make(chan error, 1)
		go func() { // writes lock events while the reader is cut off again and again
			for i := range cycles {
				name := fmt.Sprintf("edit/%d", i%3)
				g, err := w.admin.AcquireLock(ctx, name, latchkey.AcquireRequest{})
				if err == nil {
					err = w.admin.ReleaseLock(ctx, name, g.Token, false)
				}
				if err != nil {
					done <- err
					return
				}
				w.person(fmt.Sprintf("noise%d", i), false) // audit records of no topic in between
			}
			done <- nil
		}()

		sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		s := w.admin.Events(sctx, []string{latchkey.TopicLocks}, from)
		var got []int64
		for len(got) < 2*cycles {
			e, err := s.Next()
			if err != nil {
				t.Fatalf("after %d events: %v", len(got), err)
			}
			got = append(got, e.Seq)
			if len(got)%7 == 3 {
				s.Close() // the connection drops; Next reconnects with Last-Event-ID
			}
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if s.Reconnects < 10 {
			t.Fatalf("only %d reconnects: the test did not cut the stream", s.Reconnects)
		}
		recs, _, err := w.admin.ListAudit(ctx, latchkey.AuditFilter{After: from, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		var want []int64
		for _, r := range recs {
			if strings.HasPrefix(string(r.Action), "lock.") {
				want = append(want, r.Seq)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("stream delivered %v\naudit has      %v", got, want)
		}
	})
}

// A stream about some targets (?targets=, an extension of API.md) carries
// exactly the events of its topics about those targets, also across
// reconnects: the audit log's records of those locks, in order.
func TestStreamOfTargets(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 0)
		ctx := context.Background()
		from := lastAuditSeq(t, w.admin)
		const cycles = 30
		for i := range cycles {
			name := fmt.Sprintf("edit/%d", i%3)
			g, err := w.admin.AcquireLock(ctx, name, latchkey.AcquireRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if err := w.admin.ReleaseLock(ctx, name, g.Token, false); err != nil {
				t.Fatal(err)
			}
		}
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		s := w.admin.Events(sctx, []string{latchkey.TopicLocks}, from).About("edit/2", "edit/0")
		defer s.Close()
		var got []string
		for len(got) < 2*cycles*2/3 {
			e, err := s.Next()
			if err != nil {
				t.Fatalf("after %d events: %v", len(got), err)
			}
			got = append(got, fmt.Sprintf("%d %s %s", e.Seq, e.Action, e.Target))
			if len(got)%9 == 4 {
				s.Close() // resumes with Last-Event-ID, still about the same targets
			}
		}
		recs, _, err := w.admin.ListAudit(ctx, latchkey.AuditFilter{After: from, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, r := range recs {
			if strings.HasPrefix(string(r.Action), "lock.") && (r.Target == "edit/0" || r.Target == "edit/2") {
				want = append(want, fmt.Sprintf("%d %s %s", r.Seq, r.Action, r.Target))
			}
		}
		if s.Reconnects < 3 || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("stream about edit/0 and edit/2 (%d reconnects) delivered\n%v\naudit has\n%v", s.Reconnects, got, want)
		}
		// Nothing about edit/1 follows, even once it changes.
		g, err := w.admin.AcquireLock(ctx, "edit/1", latchkey.AcquireRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.admin.AcquireLock(ctx, "edit/0", latchkey.AcquireRequest{}); err != nil {
			t.Fatal(err)
		}
		if e := nextEvent(t, s, 5*time.Second, func(latchkey.Event) bool { return true }); e.Target != "edit/0" {
			t.Fatalf("after edit/1's acquire (token %d), the stream sent %s %s; want edit/0's", g.Token, e.Action, e.Target)
		}
	})
}

// Who sees what: a terminal its own sessions, a person their own, staff
// everything; lock topics are refused to others; bad parameters are 400.
func TestStreamVisibility(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 2)
		alice := w.userClient("alice")
		t0 := stream(t, w.tc[0], latchkey.TopicSessions)
		aliceEvents := stream(t, alice)
		staffEvents := stream(t, w.admin, latchkey.TopicSessions)

		bobSess := w.mustLogin(1, "bob", false) // terminal 1, bob
		aliceSess := w.mustLogin(0, "alice", false)

		e := nextEvent(t, t0, 5*time.Second, func(latchkey.Event) bool { return true })
		if e.Target != aliceSess.Session.ID || e.Terminal != w.terms[0].ID {
			t.Fatalf("terminal 0 saw %s %s at %s first; want only its own session", e.Action, e.Target, e.Terminal)
		}
		e = nextEvent(t, aliceEvents, 5*time.Second, func(latchkey.Event) bool { return true })
		if e.Target != aliceSess.Session.ID {
			t.Fatalf("alice saw %s %s first; want only her own session", e.Action, e.Target)
		}
		seen := map[string]bool{}
		for len(seen) < 2 {
			seen[nextEvent(t, staffEvents, 5*time.Second, func(e latchkey.Event) bool { return e.Action == "session.login" }).Target] = true
		}
		if !seen[bobSess.Session.ID] || !seen[aliceSess.Session.ID] {
			t.Fatalf("staff saw %v, want both logins", seen)
		}

		var names []string
		for i := range latchkey.MaxEventTargets + 1 {
			names = append(names, fmt.Sprintf("edit/%d", i))
		}
		tooManyTargets := strings.Join(names, ",")
		for _, c := range []struct {
			who    *client.Client
			query  string
			header string
			code   string
		}{
			{alice, "topics=locks", "", latchkey.EFORBIDDEN},
			{w.tc[0], "topics=config", "", latchkey.EFORBIDDEN},
			{w.admin, "topics=weather", "", latchkey.EBADREQUEST},
			{w.admin, "after=-3", "", latchkey.EBADREQUEST},
			{w.admin, "targets=a,,b", "", latchkey.EBADREQUEST},
			{w.admin, "targets=" + tooManyTargets, "", latchkey.EBADREQUEST},
			{w.admin, "", "x7", latchkey.EBADREQUEST},
			{client.New(w.url), "", "", latchkey.EUNAUTHENTICATED},
		} {
			req, _ := http.NewRequest(http.MethodGet, w.url+"/v1/events?"+c.query, nil)
			if c.who.Token() != "" {
				req.Header.Set("Authorization", "Bearer "+c.who.Token())
			}
			if c.header != "" {
				req.Header.Set("Last-Event-ID", c.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var body struct {
				Error struct{ Code string } `json:"error"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if body.Error.Code != c.code {
				t.Errorf("GET /v1/events?%s (Last-Event-ID %q): %d %q, want %s", c.query, c.header, resp.StatusCode, body.Error.Code, c.code)
			}
		}
	})
}

// On PostgreSQL any number of nodes share the store: a waiter queued and
// streaming through node 2 is granted and told at once when the holder
// on node 1 releases; a holder on node 1 is told at once when node 2
// forces the lock; the fencing tokens of both nodes are one sequence.
func TestStreamAcrossNodes(t *testing.T) {
	b := sqlstoretest.Postgres()
	w := newWorld(t, b, client.SiteCreate{}, 0)
	ctx := context.Background()
	_, delegate := w.staff("dora", latchkey.RoleDelegate)
	node2 := client.New(w.addNode(), client.WithToken(delegate.Token()))
	events2 := stream(t, node2, latchkey.TopicLocks)
	events1 := stream(t, w.admin, latchkey.TopicLocks)
	const name = "admin/users"
	var tokens []uint64
	var lags []time.Duration
	for range 6 {
		// Release on node 1 → grant to node 2's waiter, on node 2's stream.
		g, err := w.admin.AcquireLock(ctx, name, latchkey.AcquireRequest{})
		if err != nil || g.Mode != latchkey.LockExclusive {
			t.Fatalf("node 1 acquire: %+v, %v", g, err)
		}
		if q, err := node2.AcquireLock(ctx, name, latchkey.AcquireRequest{Wait: true}); err != nil || q.QueuePosition != 1 {
			t.Fatalf("node 2 queue: %+v, %v", q, err)
		}
		start := time.Now()
		if err := w.admin.ReleaseLock(ctx, name, g.Token, false); err != nil {
			t.Fatal(err)
		}
		e := nextEvent(t, events2, 5*time.Second, isAction("lock.grant", name))
		lags = append(lags, time.Since(start))
		granted := uint64(detail(e, "token").(float64))
		if l, err := node2.GetLock(ctx, name); err != nil || l.Holder == nil || l.Holder.Token != granted {
			t.Fatalf("node 2 sees %+v, %v; want its grant %d", l, err, granted)
		}
		if err := node2.ReleaseLock(ctx, name, granted, false); err != nil {
			t.Fatal(err)
		}

		// Node 2 forces node 1's grant → node 1's stream tells the holder.
		h, err := w.admin.AcquireLock(ctx, name, latchkey.AcquireRequest{})
		if err != nil {
			t.Fatal(err)
		}
		start = time.Now()
		f, err := node2.AcquireLock(ctx, name, latchkey.AcquireRequest{Force: true})
		if err != nil || f.Mode != latchkey.LockExclusive {
			t.Fatalf("node 2 force: %+v, %v", f, err)
		}
		e = nextEvent(t, events1, 5*time.Second, isAction("lock.force", name))
		lags = append(lags, time.Since(start))
		if detail(e, "broke") != float64(h.Token) {
			t.Fatalf("node 1 was told %s, want its token %d broken", e.Details, h.Token)
		}
		if err := node2.ReleaseLock(ctx, name, f.Token, false); err != nil {
			t.Fatal(err)
		}
		tokens = append(tokens, g.Token, granted, h.Token, f.Token)
	}
	for i := 1; i < len(tokens); i++ {
		if tokens[i] != tokens[i-1]+1 {
			t.Fatalf("fencing tokens across both nodes %v: not one sequence", tokens)
		}
	}
	sorted := slices.Clone(lags)
	slices.Sort(sorted)
	t.Logf("node → other node's stream: median %s, max %s (%v)", sorted[len(sorted)/2], sorted[len(sorted)-1], lags)
	if sorted[len(sorted)/2] > 100*time.Millisecond || sorted[len(sorted)-1] > time.Second {
		t.Fatalf("announcements across nodes took %v; want within 100 ms", lags)
	}
}

// A real server expires a lease when it runs out, with no call on the
// lock: the holder is told of the loss and the first waiter of its grant
// on the stream at once.
func TestLeaseExpiryAnnouncedAtOnce(t *testing.T) {
	p := startServer(t, "sqlite://"+filepath.Join(t.TempDir(), "lk.db"), t.TempDir())
	admin := p.adminLogin(t)
	ctx := context.Background()
	d, err := admin.CreatePrincipal(ctx, latchkey.Principal{Name: "dora", Role: latchkey.RoleDelegate})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.AddIdentity(ctx, d.ID, "dora", pw("dora")); err != nil {
		t.Fatal(err)
	}
	tok, err := p.client("").Login(ctx, "dora", pw("dora"))
	if err != nil {
		t.Fatal(err)
	}
	dora := p.client(tok.Token)
	events := stream(t, admin, latchkey.TopicLocks)

	g, err := admin.AcquireLock(ctx, "admin/users", latchkey.AcquireRequest{TTLSeconds: ttlSeconds(2)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dora.AcquireLock(ctx, "admin/users", latchkey.AcquireRequest{Wait: true, TTLSeconds: ttlSeconds(60)}); err != nil {
		t.Fatal(err)
	}
	exp := nextEvent(t, events, 10*time.Second, isAction("lock.expire", "admin/users"))
	late := time.Since(*g.ExpiresAt)
	grant := nextEvent(t, events, time.Second, isAction("lock.grant", "admin/users"))
	t.Logf("lock.expire arrived %s after the lease's end", late)
	if detail(exp, "token") != float64(g.Token) || detail(grant, "principal") != d.ID {
		t.Fatalf("expire %s, grant %s; want admin's token %d lost and dora granted", exp.Details, grant.Details, g.Token)
	}
	if late > 1500*time.Millisecond {
		t.Fatalf("the lease's end was announced %s late", late)
	}
}
