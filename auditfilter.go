package latchkey

import (
	"net/url"
	"strconv"
	"time"
)

// AuditFilter selects audit records (GET /v1/audit, the console's Audit
// screen, `latchkey audit list`). Every field set narrows the list; the
// zero filter is every record, oldest first.
type AuditFilter struct {
	// After and Before bound the records' seq: After < seq < Before
	// (Before 0: no upper bound).
	After  int64
	Before int64
	// Newest lists newest first (the page's next cursor is then its
	// smallest seq, for Before); otherwise oldest first (the cursor is
	// for After). ParseAuditQuery sets it when before is given and order
	// is not.
	Newest bool
	Limit  int
	// Actor is a principal's or terminal's ID ("system" for the server).
	Actor  string
	Action string
	// Terminal is the ID of the terminal the record names.
	Terminal string
	// From and To bound the records' time: From <= at < To (zero: no
	// bound).
	From time.Time
	To   time.Time
}

// maxAuditFilterText bounds the filter's text fields (IDs and action
// names are far shorter).
const maxAuditFilterText = 200

// The times a filter may name: the log has nothing earlier, and a time
// outside them has no RFC 3339 text to read back.
var (
	minAuditTime = time.Unix(0, 0).UTC()
	maxAuditTime = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
)

// Check validates the filter and returns it normalized: the default limit
// when none is given, a limit above MaxPageLimit capped (as every list
// of the API does), times in UTC microseconds (what the store keeps).
// Bad values are EBADREQUEST naming the field.
func (f AuditFilter) Check() (AuditFilter, error) {
	switch {
	case f.After < 0:
		return f, BadField("after", "after must not be negative (it is an audit seq)")
	case f.Before < 0:
		return f, BadField("before", "before must not be negative (it is an audit seq)")
	case f.Before > 0 && f.Before <= f.After:
		return f, BadField("before", "before (%d) must be greater than after (%d)", f.Before, f.After)
	case f.Limit < 0:
		return f, BadField("limit", "limit must not be negative")
	case len(f.Actor) > maxAuditFilterText:
		return f, BadField("actor", "actor is longer than %d characters", maxAuditFilterText)
	case len(f.Terminal) > maxAuditFilterText:
		return f, BadField("terminal", "terminal is longer than %d characters", maxAuditFilterText)
	case !f.From.IsZero() && (f.From.Before(minAuditTime) || f.From.After(maxAuditTime)):
		return f, BadField("from", "from must be between 1970 and 9999")
	case !f.To.IsZero() && (f.To.Before(minAuditTime) || f.To.After(maxAuditTime)):
		return f, BadField("to", "to must be between 1970 and 9999")
	case !f.From.IsZero() && !f.To.IsZero() && !f.To.After(f.From):
		return f, BadField("to", "to (%s) must be after from (%s)", f.To.UTC().Format(time.RFC3339), f.From.UTC().Format(time.RFC3339))
	}
	f.Limit = Page{Limit: f.Limit}.Normalize().Limit
	if !f.From.IsZero() {
		f.From = f.From.UTC().Truncate(time.Microsecond)
	}
	if !f.To.IsZero() {
		f.To = f.To.UTC().Truncate(time.Microsecond)
	}
	return f, nil
}

// ParseAuditQuery reads a filter from query parameters: after, before
// (audit seqs), limit, actor, action, terminal, from and to (RFC 3339),
// and order (newest or oldest; newest by default when before is given,
// else oldest). It returns the filter checked (AuditFilter.Check).
func ParseAuditQuery(q url.Values) (AuditFilter, error) {
	var f AuditFilter
	seq := func(field string) (int64, error) {
		s := q.Get(field)
		if s == "" {
			return 0, nil
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return 0, BadField(field, "%s must be a non-negative integer (an audit seq)", field)
		}
		return n, nil
	}
	at := func(field string) (time.Time, error) {
		s := q.Get(field)
		if s == "" {
			return time.Time{}, nil
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return time.Time{}, BadField(field, "%s must be a time in RFC 3339, such as 2026-12-04T09:00:00Z", field)
		}
		// Out of range here, before Check: year 1's first instant is the
		// zero time, which Check would take for "not given".
		if t.Before(minAuditTime) || t.After(maxAuditTime) {
			return time.Time{}, BadField(field, "%s must be between 1970 and 9999", field)
		}
		return t, nil
	}
	var err error
	if f.After, err = seq("after"); err != nil {
		return f, err
	}
	if f.Before, err = seq("before"); err != nil {
		return f, err
	}
	if s := q.Get("limit"); s != "" {
		if f.Limit, err = strconv.Atoi(s); err != nil || f.Limit < 0 {
			return f, BadField("limit", "limit must be a non-negative integer")
		}
	}
	switch q.Get("order") {
	case "":
		f.Newest = f.Before > 0
	case "newest":
		f.Newest = true
	case "oldest":
	default:
		return f, BadField("order", "order must be newest or oldest")
	}
	f.Actor, f.Action, f.Terminal = q.Get("actor"), q.Get("action"), q.Get("terminal")
	// The store takes any action (tests record their own); a caller's
	// must be one the server records, so a typo is said, not an empty list.
	if f.Action != "" && !Action(f.Action).Known() {
		return f, BadField("action", "%q is not an audit action (docs/audit-actions.md lists them)", f.Action)
	}
	if f.From, err = at("from"); err != nil {
		return f, err
	}
	if f.To, err = at("to"); err != nil {
		return f, err
	}
	return f.Check()
}

// Query is the filter as query parameters (ParseAuditQuery's inverse);
// zero fields are left out, and so is the limit.
func (f AuditFilter) Query() url.Values {
	q := url.Values{}
	if f.After > 0 {
		q.Set("after", strconv.FormatInt(f.After, 10))
	}
	if f.Before > 0 {
		q.Set("before", strconv.FormatInt(f.Before, 10))
	}
	if f.Newest != (f.Before > 0) {
		q.Set("order", map[bool]string{true: "newest", false: "oldest"}[f.Newest])
	}
	for k, v := range map[string]string{"actor": f.Actor, "action": f.Action, "terminal": f.Terminal} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if !f.From.IsZero() {
		q.Set("from", f.From.UTC().Format(time.RFC3339Nano))
	}
	if !f.To.IsZero() {
		q.Set("to", f.To.UTC().Format(time.RFC3339Nano))
	}
	return q
}

// NextAudit is the cursor of the page after items under f: the last
// record's seq when the page is full (for After when oldest first, for
// Before when newest first), else 0 (the end).
func (f AuditFilter) NextAudit(items []AuditRecord) int64 {
	if len(items) == 0 || len(items) < f.Limit {
		return 0
	}
	return items[len(items)-1].Seq
}
