package sqlstore

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"latchkey"
)

// eventsChannel is the PostgreSQL NOTIFY channel on which every node says
// that it committed audit records.
const eventsChannel = "latchkey_events"

// signal wakes everyone waiting for the next commit of audit records: a
// channel closed and replaced on every notify.
type signal struct {
	mu sync.Mutex
	ch chan struct{}
}

func newSignal() *signal { return &signal{ch: make(chan struct{})} }

func (g *signal) wait() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.ch
}

func (g *signal) notify() {
	g.mu.Lock()
	close(g.ch)
	g.ch = make(chan struct{})
	g.mu.Unlock()
}

// notifyAfter notifies, and says whether nothing else did since ch was
// the signal's channel (what wait returned); next is the new channel.
func (g *signal) notifyAfter(ch <-chan struct{}) (next <-chan struct{}, alone bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	alone = (<-chan struct{})(g.ch) == ch
	close(g.ch)
	g.ch = make(chan struct{})
	return g.ch, alone
}

// EventsChanged implements latchkey.EventService.
func (s *Store) EventsChanged() <-chan struct{} { return s.events.wait() }

// LatestEventSeq implements latchkey.EventService.
func (s *Store) LatestEventSeq(ctx context.Context) (int64, error) {
	var seq int64
	err := s.queryRow(ctx, "SELECT COALESCE(MAX(seq), 0) FROM audit").Scan(&seq)
	return seq, err
}

// ListEvents implements latchkey.EventService: events of the topics after
// f.After, by seq, filtered by what c may see. Recent events come from
// the node's feed (one read of the store per commit, shared by every
// stream); older ones from the store, a page after another until the
// answer is full or the store has no more, so that a short answer means
// caught up even for a caller who may see few of the events.
func (s *Store) ListEvents(ctx context.Context, c latchkey.Caller, f latchkey.EventFilter) ([]latchkey.Event, int64, error) {
	if f.After < 0 {
		return nil, 0, latchkey.BadField("after", "after must not be negative")
	}
	if len(f.Topics) == 0 {
		f.Topics = latchkey.Topics
	}
	f.Limit = latchkey.Page{Limit: f.Limit}.Normalize().Limit
	evs, last, fromFeed, err := s.feedSince(ctx, f.After)
	if err != nil {
		return nil, 0, err
	}
	if fromFeed {
		out, last := pickEvents([]latchkey.Event{}, evs, last, c, f)
		return out, max(last, f.After), nil
	}
	out := []latchkey.Event{}
	for after := f.After; ; {
		evs, last, err := s.readEvents(ctx, after, f.Topics, f.Limit)
		if err != nil {
			return nil, 0, err
		}
		out, after = pickEvents(out, evs, last, c, f)
		if len(out) == f.Limit || len(evs) < f.Limit {
			return out, max(after, f.After), nil
		}
	}
}

// pickEvents appends to out the events of evs (read up to seq last) that
// f wants and c may see, until out holds f.Limit, and returns it with the
// seq of the last event it looked at.
func pickEvents(out, evs []latchkey.Event, last int64, c latchkey.Caller, f latchkey.EventFilter) ([]latchkey.Event, int64) {
	for i, e := range evs {
		if len(out) == f.Limit {
			return out, evs[i-1].Seq
		}
		if f.Wants(e) && latchkey.EventVisible(c, e) {
			out = append(out, e)
		}
	}
	return out, last
}

// readEvents reads the events of topics after seq after from the store,
// at most limit, and the seq of the last one.
func (s *Store) readEvents(ctx context.Context, after int64, topics []string, limit int) ([]latchkey.Event, int64, error) {
	var like []string
	args := []any{after}
	for _, p := range latchkey.ActionPrefixes(topics) {
		like = append(like, "action LIKE ?")
		args = append(args, p+"%")
	}
	rows, err := s.query(ctx, "SELECT "+auditCols+" FROM audit WHERE seq > ? AND ("+strings.Join(like, " OR ")+
		") ORDER BY seq LIMIT ?", append(args, limit)...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []latchkey.Event
	last := after
	for rows.Next() {
		r, err := scanAudit(rows)
		if err != nil {
			return nil, 0, err
		}
		last = r.Seq
		out = append(out, eventOf(r))
	}
	return out, last, rows.Err()
}

// eventOf is the event of an audit record read from the store.
func eventOf(r latchkey.AuditRecord) latchkey.Event {
	return latchkey.Event{Seq: r.Seq, Topic: latchkey.EventTopic(r.Action), Action: r.Action, At: r.At,
		Actor: r.Actor, Terminal: r.Terminal, Target: r.Target, Details: r.Details}
}

// listen follows the NOTIFY channel on its own connection and wakes this
// node's streams for commits of other nodes. It reconnects with backoff
// and wakes the streams after every (re)connection, since notifications
// sent while it was away are lost.
func (s *Store) listen(ctx context.Context, dsn string) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := s.listenOnce(ctx, dsn)
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("event listener lost its connection; reconnecting", "err", latchkey.RedactError(err, dsn), "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (s *Store) listenOnce(ctx context.Context, dsn string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for _, ch := range []string{eventsChannel, mailChannel, jobsChannel} {
		if _, err := conn.Exec(ctx, "LISTEN "+ch); err != nil {
			return err
		}
	}
	s.events.notify()
	s.mail.notifyAll()
	s.jobs.notify()
	s.listening.Store(true)
	defer s.listening.Store(false)
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		switch {
		case n.Channel == eventsChannel && n.Payload == s.nodeTag:
			continue // this node's own round, which woke its streams already
		case n.Channel == mailChannel:
			s.mail.notify(n.Payload)
			continue
		case n.Channel == jobsChannel:
			s.jobs.notify()
			continue
		}
		s.events.notify()
	}
}
