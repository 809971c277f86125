package latchkey_test

import (
	"fmt"
	"strings"
	"testing"

	"latchkey"
)

func TestGroupSetValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		set  latchkey.GroupSet
		ok   bool
	}{
		{"minimal: default maximum", latchkey.GroupSet{Name: "a", Groups: []string{"wheel"}}, true},
		{"groups with digits, '-' and '_'", latchkey.GroupSet{Name: "a", Groups: []string{"_ops", "db-admin2"}, MaxMinutes: 1440}, true},
		{"no groups", latchkey.GroupSet{Name: "a"}, false},
		{"upper case", latchkey.GroupSet{Name: "a", Groups: []string{"Wheel"}}, false},
		{"digit first", latchkey.GroupSet{Name: "a", Groups: []string{"1g"}}, false},
		{"dash first", latchkey.GroupSet{Name: "a", Groups: []string{"-g"}}, false},
		{"33 characters", latchkey.GroupSet{Name: "a", Groups: []string{"g" + strings.Repeat("x", 32)}}, false},
		{"twice", latchkey.GroupSet{Name: "a", Groups: []string{"wheel", "wheel"}}, false},
		{"too long a maximum", latchkey.GroupSet{Name: "a", Groups: []string{"wheel"}, MaxMinutes: 1441}, false},
		{"limited to sites", latchkey.GroupSet{Name: "a", Groups: []string{"wheel"}, Sites: []string{"sit_1", "sit_2"}}, true},
		{"a site twice", latchkey.GroupSet{Name: "a", Groups: []string{"wheel"}, Sites: []string{"sit_1", "sit_1"}}, false},
		{"an empty site", latchkey.GroupSet{Name: "a", Groups: []string{"wheel"}, Sites: []string{""}}, false},
		{"approval by any staff", latchkey.GroupSet{Name: "a", Groups: []string{"wheel"}, Approval: true}, true},
		{"approval by named approvers", latchkey.GroupSet{Name: "a", Groups: []string{"wheel"}, Approval: true, Approvers: []string{"p_ann", "p_bob"}}, true},
		{"an approver twice", latchkey.GroupSet{Name: "a", Groups: []string{"wheel"}, Approval: true, Approvers: []string{"p_ann", "p_ann"}}, false},
		{"an empty approver", latchkey.GroupSet{Name: "a", Groups: []string{"wheel"}, Approval: true, Approvers: []string{""}}, false},
		{"65 approvers", latchkey.GroupSet{Name: "a", Groups: []string{"wheel"}, Approval: true, Approvers: manyNames(65)}, false},
		{"no name", latchkey.GroupSet{Groups: []string{"wheel"}}, false},
		{"eligible people", latchkey.GroupSet{Name: "a", Groups: []string{"wheel"}, Eligible: []string{"p_ann", "p_bob"}}, true},
		{"an eligible name with a control character", latchkey.GroupSet{Name: "a", Groups: []string{"wheel"}, Eligible: []string{"p_\x00"}}, false},
	} {
		s, err := c.set.Validate()
		if c.ok != (err == nil) || err != nil && latchkey.ErrorCode(err) != latchkey.EBADREQUEST {
			t.Errorf("%s: %v, want ok=%v", c.name, err, c.ok)
		}
		if c.ok && (s.MaxMinutes < 1 || s.Eligible == nil || s.Sites == nil || s.Approvers == nil) {
			t.Errorf("%s: defaults not filled: %+v", c.name, s)
		}
	}
}

func manyNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("p_%d", i)
	}
	return out
}
