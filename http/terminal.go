package http

import (
	"context"
	"encoding/json"
	nethttp "net/http"
	"strconv"
	"time"

	"latchkey"
)

// terminalBody is POST /v1/terminals.
type terminalBody struct {
	Name string `json:"name"`
	Site string `json:"site"`
}

func (b *terminalBody) validate() error {
	if err := latchkey.ValidName("name", b.Name); err != nil {
		return err
	}
	return latchkey.ValidName("site", b.Site)
}

// eventsBody is POST /v1/terminals/{id}/events: a batch of deferred
// events. received_at and terminal are the server's to set.
type eventsBody struct {
	// Events are decoded one by one in validate, so that errors name the
	// event: "events[3].occurred_at".
	Events []json.RawMessage `json:"events"`

	events []latchkey.TerminalEvent // filled by validate
}

type eventBody struct {
	ID         string `json:"id"`
	Event      int    `json:"event"`
	OccurredAt string `json:"occurred_at"`
	Identity   string `json:"identity"`
	Reason     string `json:"reason"`
}

func (b *eventsBody) validate() error {
	if len(b.Events) == 0 {
		return latchkey.BadField("events", "events must hold at least one event")
	}
	if len(b.Events) > latchkey.MaxEventBatch {
		return latchkey.BadField("events", "events must hold at most %d events", latchkey.MaxEventBatch)
	}
	b.events = make([]latchkey.TerminalEvent, len(b.Events))
	for i, raw := range b.Events {
		at, prefix := time.Time{}, "events["+strconv.Itoa(i)+"]"
		var e eventBody
		if err := strictUnmarshal(raw, &e, prefix); err != nil {
			return err
		}
		if e.OccurredAt != "" {
			var err error
			if at, err = parseTime(prefix+".occurred_at", e.OccurredAt); err != nil {
				return err
			}
		}
		ev := latchkey.TerminalEvent{ID: e.ID, Event: e.Event, OccurredAt: at, Identity: e.Identity, Reason: e.Reason}
		if err := latchkey.ValidateTerminalEvent(i, ev); err != nil {
			return err
		}
		b.events[i] = ev
	}
	return nil
}

func (s *Server) registerTerminal(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	in, err := decode[terminalBody](r, s.maxBody)
	if err != nil {
		return 0, nil, err
	}
	t, err := s.store.RegisterTerminal(r.Context(), c, in.Name, in.Site)
	if err != nil {
		return 0, nil, err
	}
	return nethttp.StatusCreated, withGroups(t), nil
}

func (s *Server) listTerminals(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	page, err := pageQuery(r)
	if err != nil {
		return 0, nil, err
	}
	items, next, err := s.store.ListTerminals(r.Context(), c, page)
	if err != nil {
		return 0, nil, err
	}
	for i := range items {
		withGroups(&items[i])
	}
	return nethttp.StatusOK, listOf(items, next), nil
}

func (s *Server) getTerminal(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	t, err := s.store.GetTerminal(r.Context(), c, r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return nethttp.StatusOK, withGroups(t), nil
}

// withGroups makes locked_groups [] rather than null.
func withGroups(t *latchkey.Terminal) *latchkey.Terminal {
	if t != nil && t.LockedGroups == nil {
		t.LockedGroups = []string{}
	}
	return t
}

func (s *Server) recordTerminalEvents(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	in, err := decode[eventsBody](r, s.maxBody)
	if err != nil {
		return 0, nil, err
	}
	n, err := s.store.RecordTerminalEvents(r.Context(), c, r.PathValue("id"), in.events)
	if err != nil {
		return 0, nil, err
	}
	return nethttp.StatusAccepted, map[string]int{"accepted": n}, nil
}

func (s *Server) listTerminalEvents(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	return listed(r, func(ctx context.Context, p latchkey.Page) ([]latchkey.TerminalEvent, string, error) {
		return s.store.ListTerminalEvents(ctx, c, r.PathValue("id"), p)
	})
}

// tokenAnswer is POST /v1/terminals/{id}/token: the new token, shown once.
type tokenAnswer struct {
	Token string `json:"token"`
}

func (s *Server) rotateTerminalToken(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	if _, err := decode[emptyBody](r, s.maxBody); err != nil {
		return 0, nil, err
	}
	token, err := s.store.RotateTerminalToken(r.Context(), c, r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return nethttp.StatusCreated, tokenAnswer{Token: token}, nil
}
