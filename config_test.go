package latchkey_test

import (
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"

	"latchkey"
)

func sp(s string) *string { return &s }
func ip(n int64) *int64   { return &n }

func TestDecideConfigWrite(t *testing.T) {
	cur := latchkey.ConfigDomain{Domain: "users", Version: 4, Items: map[string]string{"a": "1", "b": "2"}}
	soon := lt0.Add(time.Second)
	managed := func(l latchkey.Lock, tokenID string) latchkey.ConfigGuard {
		return latchkey.ConfigGuard{LockName: "admin/users", Lock: l, TokenID: tokenID}
	}
	for _, c := range []struct {
		name  string
		w     latchkey.ConfigWrite
		g     latchkey.ConfigGuard
		code  string
		items map[string]string
	}{
		{"unmanaged merge", latchkey.ConfigWrite{Items: map[string]*string{"b": sp("3"), "c": sp("4")}}, latchkey.ConfigGuard{}, "",
			map[string]string{"a": "1", "b": "3", "c": "4"}},
		{"null removes", latchkey.ConfigWrite{Items: map[string]*string{"a": nil}}, latchkey.ConfigGuard{}, "", map[string]string{"b": "2"}},
		{"replace drops the rest", latchkey.ConfigWrite{Items: map[string]*string{"c": sp("9")}, Replace: true}, latchkey.ConfigGuard{}, "",
			map[string]string{"c": "9"}},
		{"if_version current", latchkey.ConfigWrite{Items: map[string]*string{"a": sp("x")}, IfVersion: ip(4)}, latchkey.ConfigGuard{}, "",
			map[string]string{"a": "x", "b": "2"}},
		{"if_version stale", latchkey.ConfigWrite{Items: map[string]*string{"a": sp("x")}, IfVersion: ip(3)}, latchkey.ConfigGuard{},
			latchkey.EVERSIONMISMATCH, nil},
		{"managed, holder's current token", latchkey.ConfigWrite{Items: map[string]*string{"a": sp("x")}, LockToken: 7},
			managed(heldBy(ann, 7, soon), ann.TokenID), "", map[string]string{"a": "x", "b": "2"}},
		{"managed, no token", latchkey.ConfigWrite{Items: map[string]*string{"a": sp("x")}},
			managed(heldBy(ann, 7, soon), ann.TokenID), latchkey.ELOCKNOTHELD, nil},
		{"managed, stale token (broken by force)", latchkey.ConfigWrite{Items: map[string]*string{"a": sp("x")}, LockToken: 6},
			managed(heldBy(ann, 7, soon), ann.TokenID), latchkey.ELOCKNOTHELD, nil},
		{"managed, the right number from another user token", latchkey.ConfigWrite{Items: map[string]*string{"a": sp("x")}, LockToken: 7},
			managed(heldBy(ann, 7, soon), bob.TokenID), latchkey.ELOCKNOTHELD, nil},
		{"managed, lease ran out", latchkey.ConfigWrite{Items: map[string]*string{"a": sp("x")}, LockToken: 7},
			managed(heldBy(ann, 7, lt0), ann.TokenID), latchkey.ELOCKNOTHELD, nil},
		{"managed, lock free", latchkey.ConfigWrite{Items: map[string]*string{"a": sp("x")}, LockToken: 7},
			managed(free, ann.TokenID), latchkey.ELOCKNOTHELD, nil},
		{"lock checked before version", latchkey.ConfigWrite{Items: map[string]*string{"a": sp("x")}, LockToken: 6, IfVersion: ip(1)},
			managed(heldBy(ann, 7, soon), ann.TokenID), latchkey.ELOCKNOTHELD, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := maps.Clone(cur.Items)
			next, err := latchkey.DecideConfigWrite(cur, c.w, c.g, lt0)
			if !maps.Equal(cur.Items, before) {
				t.Fatal("the rule changed the current items in place")
			}
			if c.code != "" {
				if latchkey.ErrorCode(err) != c.code || next.Version != cur.Version || !maps.Equal(next.Items, cur.Items) {
					t.Fatalf("%+v, %v; want %s and nothing changed", next, err, c.code)
				}
				return
			}
			if err != nil || next.Version != cur.Version+1 || !maps.Equal(next.Items, c.items) {
				t.Fatalf("%+v, %v; want version %d with %v", next, err, cur.Version+1, c.items)
			}
		})
	}
}

func TestConfigWriteValidate(t *testing.T) {
	many := map[string]*string{}
	for i := range latchkey.MaxConfigItems + 1 {
		many["k"+strconv.Itoa(i)] = sp("v")
	}
	for _, c := range []struct {
		name string
		w    latchkey.ConfigWrite
		ok   bool
	}{
		{"one item", latchkey.ConfigWrite{Items: map[string]*string{"a": sp("1")}}, true},
		{"removal", latchkey.ConfigWrite{Items: map[string]*string{"a": nil}}, true},
		{"replace with nothing clears", latchkey.ConfigWrite{Replace: true}, true},
		{"no items", latchkey.ConfigWrite{}, false},
		{"empty key", latchkey.ConfigWrite{Items: map[string]*string{"": sp("1")}}, false},
		{"control in key", latchkey.ConfigWrite{Items: map[string]*string{"a\nb": sp("1")}}, false},
		{"long key", latchkey.ConfigWrite{Items: map[string]*string{strings.Repeat("k", latchkey.MaxConfigKeyLen+1): sp("1")}}, false},
		{"long value", latchkey.ConfigWrite{Items: map[string]*string{"a": sp(strings.Repeat("v", latchkey.MaxConfigValueLen+1))}}, false},
		{"bad UTF-8 value", latchkey.ConfigWrite{Items: map[string]*string{"a": sp("\xff")}}, false},
		{"too many items", latchkey.ConfigWrite{Items: many}, false},
		{"negative if_version", latchkey.ConfigWrite{Items: map[string]*string{"a": sp("1")}, IfVersion: ip(-1)}, false},
	} {
		err := c.w.Validate()
		if c.ok != (err == nil) || err != nil && latchkey.ErrorCode(err) != latchkey.EBADREQUEST {
			t.Errorf("%s: %v, want ok=%v", c.name, err, c.ok)
		}
	}
}
