package latchkey

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// Event topics of GET /v1/events (API.md "Events and audit"). An event is
// an audit record seen live: its id is the record's seq.
const (
	TopicLocks     = "locks"
	TopicSessions  = "sessions"
	TopicCheckouts = "checkouts"
	TopicConfig    = "config"
	TopicRequests  = "requests"
)

// Topics lists every topic, in the order ParseTopics accepts them.
var Topics = []string{TopicLocks, TopicSessions, TopicCheckouts, TopicConfig, TopicRequests}

// Event is one record on the event stream.
type Event struct {
	Seq      int64           `json:"seq"`
	Topic    string          `json:"topic"`
	Action   Action          `json:"action"`
	At       time.Time       `json:"at"`
	Actor    string          `json:"actor"`
	Terminal string          `json:"terminal,omitempty"`
	Target   string          `json:"target"`
	Details  json.RawMessage `json:"details"`
}

// EventTopic is the topic of an audit action ("lock.grant" → locks), or
// "" for an action that is not on the stream.
func EventTopic(action Action) string {
	switch action.Noun() {
	case "lock":
		return TopicLocks
	case "session":
		return TopicSessions
	case "checkout":
		return TopicCheckouts
	case "config":
		return TopicConfig
	case "request":
		return TopicRequests
	}
	return ""
}

// topicNoun is the action noun of a topic: the inverse of EventTopic.
func topicNoun(topic string) string {
	switch topic {
	case TopicLocks:
		return "lock"
	case TopicSessions:
		return "session"
	case TopicCheckouts:
		return "checkout"
	case TopicConfig:
		return "config"
	case TopicRequests:
		return "request"
	}
	return ""
}

// ActionPrefixes are the audit action prefixes ("lock.") of topics.
func ActionPrefixes(topics []string) []string {
	out := make([]string, 0, len(topics))
	for _, t := range topics {
		out = append(out, topicNoun(t)+".")
	}
	return out
}

// ParseTopics reads the topics query parameter: a comma-separated list of
// known topics; empty means every topic. The result is sorted as Topics
// and without repeats.
func ParseTopics(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return append([]string(nil), Topics...), nil
	}
	want := map[string]bool{}
	for _, t := range strings.Split(s, ",") {
		t = strings.TrimSpace(t)
		if topicNoun(t) == "" {
			return nil, BadField("topics", "unknown topic %q: topics are %s", t, strings.Join(Topics, ", "))
		}
		want[t] = true
	}
	var out []string
	for _, t := range Topics {
		if want[t] {
			out = append(out, t)
		}
	}
	return out, nil
}

// EventVisible says whether caller c may see event e: admins and
// delegates see every event; a terminal sees the session events of its
// own terminal; a user sees the session and check-out events about
// themselves (as actor, or named as details.principal), and the request
// events of their own requests and of those they are to approve
// (details.assignees). Lock and config events are for admins and
// delegates only.
func EventVisible(c Caller, e Event) bool {
	if c.IsStaff() {
		return true
	}
	switch c.Role {
	case RoleTerminal:
		return e.Topic == TopicSessions && c.TerminalID != "" && e.Terminal == c.TerminalID
	case RoleUser:
		if c.PrincipalID == "" || (e.Topic != TopicSessions && e.Topic != TopicCheckouts && e.Topic != TopicRequests) {
			return false
		}
		if e.Actor == c.PrincipalID {
			return true
		}
		var d struct {
			Principal string   `json:"principal"`
			Assignees []string `json:"assignees"`
		}
		if json.Unmarshal(e.Details, &d) != nil {
			return false
		}
		return d.Principal == c.PrincipalID || e.Topic == TopicRequests && slices.Contains(d.Assignees, c.PrincipalID)
	}
	return false
}

// EventFilter selects events: those after seq After in Topics (all when
// empty) about Targets (any target when empty), at most Limit.
type EventFilter struct {
	After   int64
	Topics  []string
	Targets []string
	Limit   int
}

// Wants says whether e is of f's topics (all when empty) and targets (any
// when empty). Who may see e is EventVisible's to say.
func (f EventFilter) Wants(e Event) bool {
	return (len(f.Topics) == 0 || slices.Contains(f.Topics, e.Topic)) &&
		(len(f.Targets) == 0 || slices.Contains(f.Targets, e.Target))
}

// MaxEventTargets bounds the targets of one event stream.
const MaxEventTargets = 64

// ParseTargets reads the targets query parameter of GET /v1/events (an
// extension of API.md): a comma-separated list of what the events are
// about (a lock's name, a session's id); empty means any target. A stream
// that waits for one lock's grant asks for that lock alone, as an etcd
// client watches one key, instead of receiving every lock's events. The
// result keeps the given order, without repeats.
func ParseTargets(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []string
	for _, t := range strings.Split(s, ",") {
		t = strings.TrimSpace(t)
		switch {
		case t == "":
			return nil, BadField("targets", "targets has an empty entry: give names separated by single commas")
		case len(t) > 200:
			return nil, BadField("targets", "target %.20q… is longer than 200 characters", t)
		case strings.ContainsFunc(t, func(r rune) bool { return r < 0x20 || r == 0x7f }):
			return nil, BadField("targets", "target %q has a control character", t)
		case slices.Contains(out, t):
			continue
		}
		if len(out) == MaxEventTargets {
			return nil, BadField("targets", "at most %d targets a stream", MaxEventTargets)
		}
		out = append(out, t)
	}
	return out, nil
}

// EventService reads the event stream: committed audit records of the
// stream's topics, by seq. Seq follows commit order (see the audit
// chain), so reading after a seq never misses a record that commits
// later.
type EventService interface {
	// ListEvents returns the events after f.After that c may see, and the
	// last seq it looked at (resume from there: events c may not see are
	// skipped, not re-read). A page shorter than f.Limit holds every such
	// event committed before the call began: a reader that got one waits
	// for EventsChanged before reading again. The events are shared with
	// other readers: not to be modified.
	ListEvents(ctx context.Context, c Caller, f EventFilter) ([]Event, int64, error)
	// EventsChanged returns a channel that is closed when events may have
	// been committed after this call, on this node or (PostgreSQL) any
	// other.
	EventsChanged() <-chan struct{}
	// LatestEventSeq is the seq of the last committed audit record: a
	// stream that starts "now" starts after it.
	LatestEventSeq(ctx context.Context) (int64, error)
}
