package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"latchkey"
)

// FromNow, as the after of Events, starts a stream with the events
// committed after it connects.
const FromNow int64 = -1

// EventStream reads GET /v1/events (Server-Sent Events). It reconnects by
// itself after a transport error, with backoff, resuming with
// Last-Event-ID after the last event it returned: no event is lost or
// repeated across a reconnect. It is not safe for concurrent use.
type EventStream struct {
	c       *Client
	ctx     context.Context
	topics  []string
	targets []string
	last    int64 // the last event returned; FromNow before the first connection
	body    io.ReadCloser
	rd      *bufio.Reader
	// Reconnects counts the connections after the first.
	Reconnects int
	connected  bool
}

// Events opens the event stream of topics (nil: every topic the caller
// may see) after event after (FromNow: only what commits later). The
// first connection is made by Connect or the first Next.
func (c *Client) Events(ctx context.Context, topics []string, after int64) *EventStream {
	return &EventStream{c: c, ctx: ctx, topics: topics, last: after}
}

// About narrows the stream to the events about targets (lock names,
// session ids: GET /v1/events?targets=, an extension of API.md), as a
// client waiting for one lock watches that lock alone. Call it before
// Connect or the first Next.
func (s *EventStream) About(targets ...string) *EventStream {
	s.targets = targets
	return s
}

// LastID is the id of the last event Next returned (or the after given).
func (s *EventStream) LastID() int64 { return s.last }

// Close ends the stream.
func (s *EventStream) Close() {
	if s.body != nil {
		s.body.Close()
		s.body = nil
	}
}

// Connect opens the stream now if it is not open, so that what happens
// after Connect returns is on it. A refusal (bad topic, forbidden,
// unauthenticated) is returned as the API's error.
func (s *EventStream) Connect() error {
	if s.body != nil {
		return nil
	}
	if s.c.setupErr != nil {
		return s.c.setupErr
	}
	q := url.Values{}
	if len(s.topics) > 0 {
		q.Set("topics", strings.Join(s.topics, ","))
	}
	if len(s.targets) > 0 {
		q.Set("targets", strings.Join(s.targets, ","))
	}
	// With several servers, the stream opens on the first that answers
	// (a reconnect after a node died resumes on another, Last-Event-ID
	// telling it where).
	resp, refusal, err := s.c.failover(s.ctx, http.MethodGet, false, func(base string) (*http.Response, []byte, error) {
		req, err := http.NewRequestWithContext(s.ctx, http.MethodGet, base+"/v1/events?"+q.Encode(), nil)
		if err != nil {
			return nil, nil, err
		}
		req.Header.Set("Accept", "text/event-stream")
		req.Header.Set("User-Agent", "latchkey-client/1")
		if tok := s.c.token.get(); tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		if s.last >= 0 {
			req.Header.Set("Last-Event-ID", strconv.FormatInt(s.last, 10))
		}
		resp, err := s.c.hc.Do(req)
		if err != nil {
			return nil, nil, err
		}
		if resp.StatusCode == http.StatusServiceUnavailable {
			data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			return resp, data, nil
		}
		return resp, nil, nil // the body is the stream: left open
	})
	if err != nil {
		return fmt.Errorf("GET /v1/events: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		data := refusal
		if data == nil {
			data, _ = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		}
		return withRetryAfter(decodeError(http.MethodGet, "/v1/events", resp.StatusCode, data), resp.Header)
	}
	if s.connected {
		s.Reconnects++
	}
	s.connected = true
	s.body, s.rd = resp.Body, bufio.NewReader(resp.Body)
	// The server starts with its resume point ("retry:" and "id:", no
	// data): read it now, so a reconnect before the first event resumes
	// there and not "from now" again.
	for {
		line, err := s.rd.ReadString('\n')
		if err != nil {
			s.Close()
			return fmt.Errorf("GET /v1/events: %w", err)
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			return nil
		}
		if v, ok := strings.CutPrefix(line, "id: "); ok {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
				s.last = n
			}
		}
	}
}

// Next returns the next event, waiting for it. Transport errors and a
// stream the server ended are retried (resuming after LastID); it returns
// an error only when the context ends or the server refuses the stream.
func (s *EventStream) Next() (latchkey.Event, error) {
	backoff := 50 * time.Millisecond
	for {
		if err := s.ctx.Err(); err != nil {
			return latchkey.Event{}, err
		}
		err := s.Connect()
		if err == nil {
			var e latchkey.Event
			if e, err = s.read(); err == nil {
				return e, nil
			}
			s.Close()
		}
		if s.ctx.Err() != nil {
			return latchkey.Event{}, s.ctx.Err()
		}
		if refused(err) {
			return latchkey.Event{}, err
		}
		select {
		case <-s.ctx.Done():
			return latchkey.Event{}, s.ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// refused says whether err is the server's answer, not worth retrying: an
// API error, or another 4xx.
func refused(err error) bool {
	var ae *latchkey.Error
	var se *StatusError
	return errors.As(err, &ae) || errors.As(err, &se) && se.StatusCode < 500
}

// read parses the stream up to the next event with data: lines "field:
// value", a blank line ends an event, ":" starts a comment.
func (s *EventStream) read() (latchkey.Event, error) {
	var id, data string
	for {
		line, err := s.rd.ReadString('\n')
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF // the server ended the stream: reconnect
			}
			return latchkey.Event{}, err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			if data == "" { // an id alone moves the resume point (the server's start)
				if n, err := strconv.ParseInt(id, 10, 64); err == nil && n >= 0 {
					s.last = n
				}
				id = ""
				continue
			}
			var e latchkey.Event
			if err := json.Unmarshal([]byte(data), &e); err != nil {
				return latchkey.Event{}, fmt.Errorf("event %s: %w", id, err)
			}
			if n, err := strconv.ParseInt(id, 10, 64); err == nil {
				e.Seq = n
			}
			s.last = e.Seq
			return e, nil
		}
		if strings.HasPrefix(line, ":") {
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "id":
			id = value
		case "data":
			if data != "" {
				data += "\n"
			}
			data += value
		}
	}
}
