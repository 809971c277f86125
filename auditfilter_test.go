package latchkey_test

import (
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"latchkey"
)

// The audit filter's rules, read from query parameters: bad seqs, times
// and limits, from not before to, unknown actions and the order each
// give bad_request naming the field; good filters come back normalized.
func TestParseAuditQuery(t *testing.T) {
	t9 := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	cases := []struct {
		name  string
		query string
		want  latchkey.AuditFilter // when field is ""
		field string
	}{
		{name: "empty: every record, oldest first", query: "", want: latchkey.AuditFilter{Limit: latchkey.DefaultPageLimit}},
		{name: "after", query: "after=7&limit=5", want: latchkey.AuditFilter{After: 7, Limit: 5}},
		{name: "before pages newest first", query: "before=50", want: latchkey.AuditFilter{Before: 50, Newest: true, Limit: latchkey.DefaultPageLimit}},
		{name: "newest from the head", query: "order=newest", want: latchkey.AuditFilter{Newest: true, Limit: latchkey.DefaultPageLimit}},
		{name: "a window oldest first", query: "after=3&before=9&order=oldest", want: latchkey.AuditFilter{After: 3, Before: 9, Limit: latchkey.DefaultPageLimit}},
		{name: "the text filters", query: "actor=prn_1&action=session.login&terminal=term_1",
			want: latchkey.AuditFilter{Actor: "prn_1", Action: "session.login", Terminal: "term_1", Limit: latchkey.DefaultPageLimit}},
		{name: "times in UTC", query: "from=2026-12-04T10:00:00%2B01:00&to=2026-12-04T10:00:00Z",
			want: latchkey.AuditFilter{From: t9, To: t9.Add(time.Hour), Limit: latchkey.DefaultPageLimit}},
		{name: "from alone", query: "from=2026-12-04T09:00:00Z", want: latchkey.AuditFilter{From: t9, Limit: latchkey.DefaultPageLimit}},
		{name: "a limit above the most is capped", query: "limit=5000", want: latchkey.AuditFilter{Limit: latchkey.MaxPageLimit}},

		{name: "bad after", query: "after=x", field: "after"},
		{name: "negative after", query: "after=-1", field: "after"},
		{name: "bad before", query: "before=1.5", field: "before"},
		{name: "before not past after", query: "after=9&before=9", field: "before"},
		{name: "bad limit", query: "limit=ten", field: "limit"},
		{name: "negative limit", query: "limit=-1", field: "limit"},
		{name: "bad order", query: "order=up", field: "order"},
		{name: "unknown action", query: "action=session.logn", field: "action"},
		{name: "a long actor", query: "actor=" + strings.Repeat("a", 201), field: "actor"},
		{name: "a long terminal", query: "terminal=" + strings.Repeat("a", 201), field: "terminal"},
		{name: "a time without a zone", query: "from=2026-12-04T09:00", field: "from"},
		{name: "not a time", query: "to=yesterday", field: "to"},
		{name: "from after to", query: "from=2026-12-04T10:00:00Z&to=2026-12-04T09:00:00Z", field: "to"},
		{name: "a time before 1970", query: "to=0000-01-01T00:00:00%2B01:00", field: "to"},
		{name: "a time past 9999", query: "from=9999-12-31T23:00:00Z", field: "from"},
		{name: "from equal to", query: "from=2026-12-04T09:00:00Z&to=2026-12-04T09:00:00Z", field: "to"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q, err := url.ParseQuery(c.query)
			if err != nil {
				t.Fatal(err)
			}
			got, err := latchkey.ParseAuditQuery(q)
			if c.field != "" {
				wantCode(t, err, latchkey.EBADREQUEST)
				if f := detail(t, err, "field"); f != c.field {
					t.Fatalf("field %v, want %s (%v)", f, c.field, err)
				}
				return
			}
			wantCode(t, err, "")
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %+v\nwant %+v", got, c.want)
			}
			// Query is the inverse (but for the limit, which it leaves out).
			back, err := latchkey.ParseAuditQuery(got.Query())
			back.Limit = got.Limit
			if err != nil || !reflect.DeepEqual(back, got) {
				t.Fatalf("round trip through %q: %+v, %v", got.Query().Encode(), back, err)
			}
		})
	}
}

// NextAudit: the last seq of a full page, 0 at the end.
func TestNextAudit(t *testing.T) {
	recs := []latchkey.AuditRecord{{Seq: 9}, {Seq: 8}}
	for _, c := range []struct {
		limit int
		items []latchkey.AuditRecord
		want  int64
	}{{2, recs, 8}, {3, recs, 0}, {2, nil, 0}} {
		if got := (latchkey.AuditFilter{Limit: c.limit}).NextAudit(c.items); got != c.want {
			t.Errorf("limit %d, %d items: %d, want %d", c.limit, len(c.items), got, c.want)
		}
	}
}

// FuzzParseAuditQuery: whatever the query, parsing never panics, a
// refusal is bad_request naming a field, and an accepted filter reads back
// the same from its own Query.
func FuzzParseAuditQuery(f *testing.F) {
	f.Add("after=3&before=9&action=session.login&terminal=term_1&from=2026-12-04T09:00:00Z&to=2026-12-04T10:00:00%2B01:00")
	f.Add("before=-1&limit=99999&order=newest")
	f.Add("from=2026-13-40T99:00:00Z")
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		got, err := latchkey.ParseAuditQuery(q)
		if err != nil {
			if latchkey.ErrorCode(err) != latchkey.EBADREQUEST || latchkey.ErrorDetails(err)["field"] == nil {
				t.Fatalf("%q: %v", raw, err)
			}
			return
		}
		back, err := latchkey.ParseAuditQuery(got.Query())
		back.Limit = got.Limit
		if err != nil || !reflect.DeepEqual(back, got) {
			t.Fatalf("%q: %+v read back as %+v, %v", raw, got, back, err)
		}
	})
}
