package sqlstore

import (
	"context"
	"sort"
	"sync"
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
	feedSize    = 4096 // events kept
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
}

// feedSince returns the feed's events after seq after and the seq it has
// read up to; ok is false when after is older than the feed holds. It
// reads what was committed since its last read first. Audit seqs follow
// commit order, so reading after last never misses a commit.
func (s *Store) feedSince(ctx context.Context, after int64) (evs []latchkey.Event, last int64, ok bool, err error) {
	f := &s.feed
	f.mu.Lock()
	defer f.mu.Unlock()
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
	if after < f.floor {
		return nil, 0, false, nil
	}
	i := sort.Search(len(f.ring), func(i int) bool { return f.ring[i].Seq > after })
	return append([]latchkey.Event(nil), f.ring[i:]...), f.last, true, nil
}

// readFeed appends what was committed after f.last; f.mu is held.
func (s *Store) readFeed(ctx context.Context) error {
	f := &s.feed
	for {
		f.seen, f.readAt = s.events.wait(), time.Now()
		evs, last, err := s.readEvents(ctx, f.last, latchkey.Topics, feedPage)
		if err != nil {
			return err
		}
		f.ring = append(f.ring, evs...)
		f.last = max(f.last, last)
		if over := len(f.ring) - feedSize; over > 0 {
			f.floor = f.ring[over-1].Seq
			f.ring = append([]latchkey.Event(nil), f.ring[over:]...)
		}
		if len(evs) < feedPage {
			return nil
		}
	}
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
