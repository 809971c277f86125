package http

import (
	"context"
	"io"
	"log/slog"
	nethttp "net/http"
	"strconv"
	"strings"
	"time"

	"latchkey"
)

// Stream timing: a comment line every streamHeartbeat keeps proxies from
// closing an idle stream (and re-checks the caller's token); every
// streamPoll the stream reads the store even without a wake-up, a safety
// net under the commit signal and the PostgreSQL listener.
const (
	streamHeartbeat = 15 * time.Second
	streamPoll      = 2 * time.Second
	streamPage      = 500
	// streamWriteTimeout bounds one flush of a stream to its client.
	streamWriteTimeout = 30 * time.Second
)

// streamQuery is the parsed query of GET /v1/events.
type streamQuery struct {
	topics  []string
	targets []string // empty: any
	after   int64    // -1: from now
}

// parseStreamQuery reads ?topics=&targets=&after= and the Last-Event-ID
// header (a reconnecting EventSource sends it; it wins over after).
// Without either the stream starts now: only events committed later. A
// caller who is not staff may only ask for the topics it can see: by
// default it gets those. targets (an extension of API.md) narrows the
// stream to the events about those lock names or session ids.
func parseStreamQuery(r *nethttp.Request, c latchkey.Caller) (streamQuery, error) {
	q := r.URL.Query()
	var sq streamQuery
	raw := q.Get("topics")
	topics, err := latchkey.ParseTopics(raw)
	if err != nil {
		return sq, err
	}
	kept := topics[:0]
	for _, t := range topics {
		err := latchkey.CanWatchTopic(c, t)
		switch {
		case err == nil:
			kept = append(kept, t)
		case raw != "": // asked for by name: refused
			return sq, err
		}
	}
	topics = kept
	sq.topics = topics
	if sq.targets, err = latchkey.ParseTargets(q.Get("targets")); err != nil {
		return sq, err
	}
	sq.after = -1
	for _, src := range []struct{ field, value string }{{"after", q.Get("after")}, {"Last-Event-ID", r.Header.Get("Last-Event-ID")}} {
		if src.value == "" {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(src.value), 10, 64)
		if err != nil || n < 0 {
			return sq, latchkey.BadField(src.field, "%s must be a non-negative integer (an event id)", src.field)
		}
		sq.after = n
	}
	return sq, nil
}

// streamEvents is GET /v1/events: Server-Sent Events, each with id = its
// audit seq, event = its action and data = the event as JSON. The stream
// first replays what was committed after the resume point, then follows
// new commits as they happen.
func (s *Server) streamEvents(w nethttp.ResponseWriter, r *nethttp.Request) {
	c, err := s.authorize(r, peopleOrTerminal)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	token, _ := bearerToken(r)
	s.serveStream(w, r, c, token)
}

// serveStream streams the events c may see, for as long as token stays
// valid: the API's stream (a bearer token) and the console's (its
// session's token).
func (s *Server) serveStream(w nethttp.ResponseWriter, r *nethttp.Request, c latchkey.Caller, token string) {
	sq, err := parseStreamQuery(r, c)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	cursor := sq.after
	if cursor < 0 { // decided before the answer starts: a client that saw it connected misses nothing later
		if cursor, err = s.store.LatestEventSeq(r.Context()); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	release, capName, err := s.streamCaps.acquire(token)
	if err != nil {
		s.metrics.refusedStreams.WithLabelValues(capName).Inc()
		s.writeError(w, r, err)
		return
	}
	defer release()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(s.streams, cancel)
	defer stop()

	rc := nethttp.NewResponseController(w)
	// A stream outlives any request deadline: it sets a write deadline
	// for each flush instead, so a client that stops reading frees the
	// stream within streamWriteTimeout instead of holding it forever.
	defer func() { _ = rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout)) }() // for the stream's end
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(nethttp.StatusOK)
	// Frames go straight into the response's own buffer (a copy of their
	// own added a copy of every frame and 4 KiB a stream).
	var renewed time.Time
	send := func() bool {
		// Renewing the deadline costs a timer update a flush (5% of the
		// server's CPU with 1,000 streams): once a second is enough to keep
		// each flush bounded by streamWriteTimeout, less at most a second.
		if now := time.Now(); now.Sub(renewed) >= time.Second {
			_ = rc.SetWriteDeadline(now.Add(streamWriteTimeout))
			renewed = now
		}
		return rc.Flush() == nil
	}
	// The start's id is the resume point even before any event arrives.
	io.WriteString(w, "retry: 1000\nid: "+strconv.FormatInt(cursor, 10)+"\n\n")
	if !send() {
		return
	}

	heartbeat := time.NewTicker(s.heartbeat)
	defer heartbeat.Stop()
	poll := time.NewTicker(streamPoll)
	defer poll.Stop()
	for {
		changed := s.store.EventsChanged() // before reading: no commit slips between
		evs, last, err := s.store.ListEvents(ctx, c, latchkey.EventFilter{After: cursor, Topics: sq.topics, Targets: sq.targets, Limit: streamPage})
		if err != nil {
			if ctx.Err() == nil {
				s.logger.LogAttrs(ctx, slog.LevelWarn, "event stream ends: store read failed",
					append(requestAttrs(r), slog.Any("err", err))...)
			}
			return // the client reconnects with Last-Event-ID
		}
		for _, e := range evs {
			w.Write(s.frames.get(e))
		}
		if len(evs) > 0 && !send() {
			return
		}
		cursor = max(cursor, last)
		if len(evs) == streamPage { // maybe more: read again before waiting
			continue
		}
		// A short page is all there was when the read began; anything
		// committed since has closed changed, taken before it. (Reading
		// again anyway made two store reads a wake-up on every stream.)
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-poll.C:
		case <-heartbeat.C:
			if _, err := s.store.Authenticate(ctx, token); err != nil {
				return // logged out or expired: the stream ends with the token
			}
			io.WriteString(w, ": heartbeat\n\n")
			if !send() {
				return
			}
		}
	}
}
