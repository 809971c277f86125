package bench

import (
	"bufio"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestTallyFanout(t *testing.T) {
	t.Parallel()
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	// Two events: seq 10 answered at 100 ms (recorded at 95), seq 12 with
	// no answer (recorded at 200).
	due := []dueEvent{{seq: 10, answer: ms(100), answered: true, record: ms(95)}, {seq: 12, record: ms(200)}}
	for _, c := range []struct {
		name                                                      string
		logs                                                      []streamLog
		due, delivered, duplicates, unexpected, early, unanswered int
		fromAnswer, fromRecord                                    []time.Duration
	}{
		{name: "every event on every stream",
			logs: []streamLog{{after: 9, got: []arrival{{10, ms(103)}, {12, ms(210)}}}, {after: 8, got: []arrival{{10, ms(101)}, {12, ms(201)}}}},
			due:  4, delivered: 4, unanswered: 1,
			fromAnswer: []time.Duration{ms(3), ms(1)}, fromRecord: []time.Duration{ms(8), ms(10), ms(6), ms(1)}},
		{name: "one missing",
			logs: []streamLog{{after: 9, got: []arrival{{10, ms(103)}, {12, ms(210)}}}, {after: 9, got: []arrival{{12, ms(205)}}}},
			due:  4, delivered: 3, unanswered: 1,
			fromAnswer: []time.Duration{ms(3)}, fromRecord: []time.Duration{ms(8), ms(10), ms(5)}},
		{name: "a repeat, one before the answer, one not due, one before the streams began",
			logs: []streamLog{{after: 9, got: []arrival{{7, ms(1)}, {10, ms(98)}, {10, ms(104)}, {11, ms(150)}, {12, ms(210)}}}},
			due:  2, delivered: 2, duplicates: 1, unexpected: 1, early: 1, unanswered: 1,
			// Arriving before its record's time (clocks): 0, never negative.
			fromAnswer: []time.Duration{0}, fromRecord: []time.Duration{ms(3), ms(10)}},
		{name: "no streams", due: 0, unanswered: 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := tallyFanout(due, c.logs)
			if got.due != c.due || got.delivered != c.delivered || got.duplicates != c.duplicates ||
				got.unexpected != c.unexpected || got.early != c.early || got.unanswered != c.unanswered {
				t.Errorf("tally %+v; want due %d delivered %d duplicates %d unexpected %d early %d unanswered %d",
					got, c.due, c.delivered, c.duplicates, c.unexpected, c.early, c.unanswered)
			}
			if !slices.Equal(got.fromAnswer, c.fromAnswer) || !slices.Equal(got.fromRecord, c.fromRecord) {
				t.Errorf("delays from the answer %v, from the record %v; want %v and %v", got.fromAnswer, got.fromRecord, c.fromAnswer, c.fromRecord)
			}
		})
	}
}

func TestMatchAnswers(t *testing.T) {
	t.Parallel()
	due := []dueEvent{{seq: 1, key: eventKey("lock.acquire", "a/1")}, {seq: 2, key: eventKey("lock.release", "a/1")},
		{seq: 3, key: eventKey("session.login", "s1")}}
	answers := map[string]time.Duration{eventKey("lock.acquire", "a/1"): 5, eventKey("session.login", "s1"): 9,
		eventKey("lock.acquire", "a/2"): 11}
	got := matchAnswers(due, answers)
	if !got[0].answered || got[0].answer != 5 || got[1].answered || !got[2].answered || got[2].answer != 9 {
		t.Fatalf("matched %+v", got)
	}
}

// The stream reader takes each frame's id and skips comments and data,
// however long.
func TestFanoutStreamNext(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 10_000) // more than the reader's buffer
	text := "retry: 1000\nid: 41\n\n" + ": heartbeat\n\n" +
		"id: 42\nevent: lock.acquire\ndata: {\"seq\":42}\n\n" +
		"id: 43\r\nevent: session.login\r\ndata: {\"d\":\"" + long + "\"}\r\n\r\n" +
		"id: 44\nevent: lock.release\n"
	s := &fanoutStream{rd: bufio.NewReader(strings.NewReader(text))}
	var got []int64
	for {
		id, err := s.next()
		if err != nil {
			if err != io.EOF {
				t.Fatalf("after %v: %v", got, err)
			}
			break
		}
		got = append(got, id)
	}
	if !slices.Equal(got, []int64{41, 42, 43}) {
		t.Fatalf("ids %v, want 41 (the start), 42, 43 and not the unfinished 44", got)
	}
	s = &fanoutStream{rd: bufio.NewReader(strings.NewReader("id: -1\n\n"))}
	if _, err := s.next(); err == nil {
		t.Fatal("a negative id was taken")
	}
}
