package sqlstore

import (
	"context"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"latchkey"
)

// The feed keeps this node's recent events in memory. Every commit wakes
// every open event stream; without the feed each of them read the audit
// table again, so N streams cost N reads per commit (82% of the server's
// CPU with 32 streams in `latchkey bench locks`). With it, the first
// stream to ask after a commit reads the new events once and the others
// take them from memory. A stream resuming from further back than the
// feed holds reads the store.
const (
	feedSize    = 4096 // events kept at least
	feedSlack   = 4096 // and at most this many more, until the next trim
	feedPage    = 1000 // events read per query
	feedMaxIdle = time.Second
)

type feed struct {
	mu      sync.Mutex
	started bool
	// Every event with floor < seq <= last is in ring, in seq order.
	floor, last int64
	ring        []latchkey.Event
	seen        <-chan struct{} // the commit signal as of the last read
	readAt      time.Time
	// view is what the last read left, for readers without f.mu: after a
	// commit every stream asks at once, and only the first needs the lock
	// (to read the store); with it, 1,000 streams queued on f.mu for each
	// commit.
	view atomic.Pointer[feedView]
	// reads counts the reads of the store (readFeed's queries); published
	// the commits whose events publishCommitted put in.
	reads, published atomic.Int64
}

// feedView is the feed as one read left it; it never changes.
type feedView struct {
	floor, last int64
	ring        []latchkey.Event
	seen        <-chan struct{}
	readAt      time.Time
}

// fresh says whether v still holds every event committed before now: no
// commit was signalled since its read began, and it is not older than
// feedMaxIdle.
func (v *feedView) fresh() bool {
	return v != nil && !closed(v.seen) && time.Since(v.readAt) <= feedMaxIdle
}

// since returns v's events after seq after, the seq v has read up to, and
// false when after is older than v holds.
func (v *feedView) since(after int64) ([]latchkey.Event, int64, bool) {
	if after < v.floor {
		return nil, 0, false
	}
	i := sort.Search(len(v.ring), func(i int) bool { return v.ring[i].Seq > after })
	// Shared, not copied (a copy per stream per commit): an event in the
	// ring never changes once appended (trimming moves the ring to a new
	// array), and the slice's capacity ends at its length, so that an
	// append by the caller cannot write into the ring.
	return v.ring[i:len(v.ring):len(v.ring)], v.last, true
}

// feedSince returns the feed's events after seq after (read-only: shared
// with every other reader) and the seq it has read up to; ok is false when
// after is older than the feed holds. It reads what was committed since
// its last read first. Audit seqs follow commit order, so reading after
// last never misses a commit.
func (s *Store) feedSince(ctx context.Context, after int64) (evs []latchkey.Event, last int64, ok bool, err error) {
	f := &s.feed
	if v := f.view.Load(); v.fresh() {
		evs, last, ok := v.since(after)
		return evs, last, ok, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	// The readers woken by one commit queue here behind the first, which
	// reads the store; the view it left serves the others.
	if v := f.view.Load(); v.fresh() {
		evs, last, ok := v.since(after)
		return evs, last, ok, nil
	}
	if !f.started {
		f.seen = s.events.wait() // before reading: a commit after it is noticed
		seq, err := s.LatestEventSeq(ctx)
		if err != nil {
			return nil, 0, false, err
		}
		f.floor, f.last, f.readAt, f.started = seq, seq, time.Now(), true
	}
	if closed(f.seen) || time.Since(f.readAt) > feedMaxIdle {
		if err := s.readFeed(ctx); err != nil {
			return nil, 0, false, err
		}
	}
	v := &feedView{floor: f.floor, last: f.last, ring: f.ring, seen: f.seen, readAt: f.readAt}
	f.view.Store(v)
	evs, last, ok = v.since(after)
	return evs, last, ok, nil
}

// readFeed appends what was committed after f.last; f.mu is held.
func (s *Store) readFeed(ctx context.Context) error {
	f := &s.feed
	for {
		f.seen, f.readAt = s.events.wait(), time.Now()
		f.reads.Add(1)
		evs, last, err := s.readEvents(ctx, f.last, latchkey.Topics, feedPage)
		if err != nil {
			return err
		}
		f.ring = append(f.ring, evs...)
		f.last = max(f.last, last)
		f.trim()
		if len(evs) < feedPage {
			return nil
		}
	}
}

// trim drops the oldest events once the ring is feedSlack over feedSize;
// f.mu is held. A trim copies the kept events to a new array (readers
// share the old one): trimming only once the ring is feedSlack over makes
// that one copy per feedSlack events, where trimming to feedSize on every
// read copied 4,096 events a commit once the ring was full (8% of the
// server's CPU, contended locks).
func (f *feed) trim() {
	if len(f.ring) >= feedSize+feedSlack {
		over := len(f.ring) - feedSize
		f.floor = f.ring[over-1].Seq
		f.ring = append(make([]latchkey.Event, 0, feedSize+feedSlack), f.ring[over:]...)
	}
}

// publishCommitted wakes the streams for a commit of this node whose
// audit records recs were chained in its transaction (seqs given), and
// puts their events in the feed itself when it can, so that the streams
// it wakes take them from memory instead of the first of them reading the
// store again (one read a commit: 15% of the server's CPU in the
// contended lock benchmark on SQLite, and a round trip on the hand-over's
// path on PostgreSQL). before is the events signal's channel as it was
// before the commit was sent.
//
// Why the feed then holds every event a read would (docs/architecture.md,
// "The audit chain"): seqs are given out under the audit head's lock, held
// to the commit, so every record with a smaller seq committed before this
// commit and every record with a larger one commits after it. The events
// go in only when the feed has read up to the seq just before recs' first
// (none missing in between). The feed is then marked as read as of now
// only when no other commit was signalled since before: a commit chained
// after this one signals after before was taken (it commits after this
// commit), so it either made this notification not the only one or
// signals after it and marks the feed stale, as any commit does.
// Otherwise, or when a reader holds the feed (a commit never waits for a
// read of the store), the streams are woken and the feed reads the store
// as before.
func (s *Store) publishCommitted(before <-chan struct{}, recs []latchkey.AuditRecord) {
	f := &s.feed
	if len(recs) == 0 || !f.mu.TryLock() {
		s.events.notify()
		return
	}
	defer f.mu.Unlock()
	if !f.started || f.last != recs[0].Seq-1 {
		s.events.notify()
		return
	}
	for _, r := range recs {
		if onStream(r.Action) {
			f.ring = append(f.ring, committedEvent(r))
		}
	}
	f.last = recs[len(recs)-1].Seq
	f.trim()
	if next, alone := s.events.notifyAfter(before); alone {
		f.seen = next
	}
	f.published.Add(1)
	f.view.Store(&feedView{floor: f.floor, last: f.last, ring: f.ring, seen: f.seen, readAt: f.readAt})
}

// onStream says whether readFeed's query selects an audit action: one of
// latchkey.ActionPrefixes(latchkey.Topics).
func onStream(a latchkey.Action) bool {
	for _, p := range streamPrefixes {
		if strings.HasPrefix(string(a), p) {
			return true
		}
	}
	return false
}

var streamPrefixes = latchkey.ActionPrefixes(latchkey.Topics)

// committedEvent is the event of a record as its transaction wrote it,
// exactly as a read of the store would give it back: the time to the
// microsecond, the details a copy of the stored text.
func committedEvent(r latchkey.AuditRecord) latchkey.Event {
	r.At, r.Details = fromUS(us(r.At)), []byte(string(r.Details))
	return eventOf(r)
}

// FeedCounts says how often the node's feed read the store, and for how
// many of the node's commits it took the events from the commit itself
// (publishCommitted).
func (s *Store) FeedCounts() (reads, published int64) {
	return s.feed.reads.Load(), s.feed.published.Load()
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
