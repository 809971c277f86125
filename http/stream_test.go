package http_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	nethttp "net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"latchkey"
	lkhttp "latchkey/http"
)

// eventStub is a stub with an event feed: events published are listed
// after a seq, and every publish wakes the streams. It counts the reads.
type eventStub struct {
	*stub
	mu     sync.Mutex
	events []latchkey.Event
	sig    chan struct{}
	reads  int
}

func newEventStub() *eventStub { return &eventStub{stub: newStub(), sig: make(chan struct{})} }

func (s *eventStub) LatestEventSeq(context.Context) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.events) == 0 {
		return 0, nil
	}
	return s.events[len(s.events)-1].Seq, nil
}

func (s *eventStub) EventsChanged() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sig
}

func (s *eventStub) ListEvents(_ context.Context, _ latchkey.Caller, f latchkey.EventFilter) ([]latchkey.Event, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	out, last := []latchkey.Event{}, f.After
	for _, e := range s.events {
		if e.Seq > f.After && len(out) < f.Limit {
			out, last = append(out, e), e.Seq
		}
	}
	return out, last, nil
}

func (s *eventStub) publish(evs ...latchkey.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, evs...)
	close(s.sig)
	s.sig = make(chan struct{})
}

func (s *eventStub) readCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reads
}

func lockEvent(seq int64) latchkey.Event {
	return latchkey.Event{Seq: seq, Topic: latchkey.TopicLocks, Action: latchkey.ActionLockAcquire,
		At: time.Date(2026, 12, 4, 13, 0, 0, int(seq), time.UTC), Actor: "p_admin", Target: fmt.Sprintf("lock/%d", seq),
		Details: json.RawMessage(fmt.Sprintf(`{"token":%d}`, seq))}
}

// sseStream is the client end of GET /v1/events, read frame by frame.
type sseStream struct {
	t  *testing.T
	rd *bufio.Reader
}

func openStream(t *testing.T, url, lastID string) *sseStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	r, _ := nethttp.NewRequestWithContext(ctx, nethttp.MethodGet, url+"/v1/events?topics=locks", nil)
	r.Header.Set("Authorization", "Bearer "+adminToken)
	if lastID != "" {
		r.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := nethttp.DefaultClient.Do(r)
	if err != nil || resp.StatusCode != nethttp.StatusOK {
		t.Fatalf("GET /v1/events: %v %v", resp, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	s := &sseStream{t: t, rd: bufio.NewReader(resp.Body)}
	s.frame() // the start: retry and id
	return s
}

// frame reads up to the next blank line, within a second.
func (s *sseStream) frame() string {
	s.t.Helper()
	type got struct {
		text string
		err  error
	}
	ch := make(chan got, 1)
	go func() {
		var b strings.Builder
		for {
			line, err := s.rd.ReadString('\n')
			if err != nil {
				ch <- got{b.String(), err}
				return
			}
			if line == "\n" {
				ch <- got{b.String() + line, nil}
				return
			}
			b.WriteString(line)
		}
	}()
	select {
	case g := <-ch:
		if g.err != nil {
			s.t.Fatalf("stream: %v after %q", g.err, g.text)
		}
		return g.text
	case <-time.After(time.Second):
		s.t.Fatal("no frame within a second (the stream waited for its 2 s poll?)")
	}
	panic("unreachable")
}

func wantFrame(t *testing.T, got string, e latchkey.Event) {
	t.Helper()
	data, _ := json.Marshal(e)
	if want := fmt.Sprintf("id: %d\nevent: %s\ndata: %s\n\n", e.Seq, e.Action, data); got != want {
		t.Fatalf("frame\n%q\nwant\n%q", got, want)
	}
}

// A stream reads the store once a wake-up when the answer is short (it
// holds all there was), at once again after a full page, and sends each
// event as its own frame on every stream, also when an older event's
// frame was kept in the place a newer one takes.
func TestStreamReadsOnceAWakeUp(t *testing.T) {
	t.Parallel()
	st := newEventStub()
	srv := httptest.NewServer(lkhttp.NewServer(st, lkhttp.Options{Logger: slog.New(slog.DiscardHandler)}).Handler())
	t.Cleanup(srv.Close)
	a, b := openStream(t, srv.URL, ""), openStream(t, srv.URL, "")
	settle := func(want int) {
		t.Helper()
		time.Sleep(100 * time.Millisecond) // a needless read would come at once
		if got := st.readCount(); got != want {
			t.Fatalf("%d store reads, want %d", got, want)
		}
	}
	settle(2) // one each at the start

	st.publish(lockEvent(1))
	wantFrame(t, a.frame(), lockEvent(1))
	wantFrame(t, b.frame(), lockEvent(1))
	settle(4)

	// 600 events: a full page of 500, then the rest, without waiting.
	var evs []latchkey.Event
	for seq := int64(2); seq <= 601; seq++ {
		evs = append(evs, lockEvent(seq))
	}
	st.publish(evs...)
	for _, e := range evs {
		wantFrame(t, a.frame(), e)
		wantFrame(t, b.frame(), e)
	}
	settle(8)

	// Seq 4097 takes the frame place of seq 1; a stream resuming before 1
	// gets seq 1's own frame again, then everything after it.
	st.publish(lockEvent(4097))
	wantFrame(t, a.frame(), lockEvent(4097))
	c := openStream(t, srv.URL, "0")
	wantFrame(t, c.frame(), lockEvent(1))
	wantFrame(t, c.frame(), lockEvent(2))
}
