package latchkey

import (
	"fmt"
	"strings"
	"testing"
)

func TestParseTargets(t *testing.T) {
	many := make([]string, MaxEventTargets+1)
	for i := range many {
		many[i] = fmt.Sprintf("lock-%d", i)
	}
	for _, tc := range []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{in: "", want: nil},
		{in: "  ", want: nil},
		{in: "a", want: []string{"a"}},
		{in: "admin/users, b ,a", want: []string{"admin/users", "b", "a"}},
		{in: "a,a,b,a", want: []string{"a", "b"}},
		{in: "a,,b", wantErr: true},
		{in: "a,", wantErr: true},
		{in: ",a", wantErr: true},
		{in: "a\x00b", wantErr: true},
		{in: "a\nb", wantErr: true},
		{in: strings.Repeat("x", 200), want: []string{strings.Repeat("x", 200)}},
		{in: strings.Repeat("x", 201), wantErr: true},
		{in: strings.Join(many[:MaxEventTargets], ","), want: many[:MaxEventTargets]},
		{in: strings.Join(many, ","), wantErr: true},
	} {
		got, err := ParseTargets(tc.in)
		if tc.wantErr {
			if err == nil || ErrorCode(err) != "bad_request" {
				t.Errorf("ParseTargets(%.40q) = %v, %v; want a bad_request", tc.in, got, err)
			}
			continue
		}
		if err != nil || fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("ParseTargets(%.40q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestEventFilterWants(t *testing.T) {
	grant := Event{Topic: TopicLocks, Action: "lock.grant", Target: "admin/users"}
	login := Event{Topic: TopicSessions, Action: "session.login", Target: "ses_1"}
	for _, tc := range []struct {
		f     EventFilter
		e     Event
		wants bool
	}{
		{EventFilter{}, grant, true},
		{EventFilter{Topics: []string{TopicLocks}}, grant, true},
		{EventFilter{Topics: []string{TopicLocks}}, login, false},
		{EventFilter{Targets: []string{"admin/users"}}, grant, true},
		{EventFilter{Targets: []string{"admin/users"}}, login, false},
		{EventFilter{Targets: []string{"other", "admin/users"}}, grant, true},
		{EventFilter{Topics: []string{TopicSessions}, Targets: []string{"admin/users"}}, grant, false},
		{EventFilter{Topics: []string{TopicLocks, TopicSessions}, Targets: []string{"ses_1"}}, login, true},
		{EventFilter{Targets: []string{"admin"}}, grant, false}, // whole names, not prefixes
	} {
		if got := tc.f.Wants(tc.e); got != tc.wants {
			t.Errorf("%+v.Wants(%s %s) = %v, want %v", tc.f, tc.e.Action, tc.e.Target, got, tc.wants)
		}
	}
}
