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
		{name: "unmanaged merge", w: latchkey.ConfigWrite{Items: map[string]*string{"b": sp("3"), "c": sp("4")}}, g: latchkey.ConfigGuard{}, code: "",
			items: map[string]string{"a": "1", "b": "3", "c": "4"}},
		{name: "null removes", w: latchkey.ConfigWrite{Items: map[string]*string{"a": nil}}, g: latchkey.ConfigGuard{}, code: "", items: map[string]string{"b": "2"}},
		{name: "replace drops the rest", w: latchkey.ConfigWrite{Items: map[string]*string{"c": sp("9")}, Replace: true}, g: latchkey.ConfigGuard{}, code: "",
			items: map[string]string{"c": "9"}},
		{name: "if_version current", w: latchkey.ConfigWrite{Items: map[string]*string{"a": sp("x")}, IfVersion: ip(4)}, g: latchkey.ConfigGuard{}, code: "",
			items: map[string]string{"a": "x", "b": "2"}},
		{name: "if_version stale", w: latchkey.ConfigWrite{Items: map[string]*string{"a": sp("x")}, IfVersion: ip(3)}, g: latchkey.ConfigGuard{},
			code: latchkey.EVERSIONMISMATCH, items: nil},
		{name: "managed, holder's current token", w: latchkey.ConfigWrite{Items: map[string]*string{"a": sp("x")}, LockToken: 7},
			g: managed(heldBy(ann, 7, soon), ann.TokenID), code: "", items: map[string]string{"a": "x", "b": "2"}},
		{name: "managed, no token", w: latchkey.ConfigWrite{Items: map[string]*string{"a": sp("x")}},
			g: managed(heldBy(ann, 7, soon), ann.TokenID), code: latchkey.ELOCKNOTHELD, items: nil},
		{name: "managed, stale token (broken by force)", w: latchkey.ConfigWrite{Items: map[string]*string{"a": sp("x")}, LockToken: 6},
			g: managed(heldBy(ann, 7, soon), ann.TokenID), code: latchkey.ELOCKNOTHELD, items: nil},
		{name: "managed, the right number from another user token", w: latchkey.ConfigWrite{Items: map[string]*string{"a": sp("x")}, LockToken: 7},
			g: managed(heldBy(ann, 7, soon), bob.TokenID), code: latchkey.ELOCKNOTHELD, items: nil},
		{name: "managed, lease ran out", w: latchkey.ConfigWrite{Items: map[string]*string{"a": sp("x")}, LockToken: 7},
			g: managed(heldBy(ann, 7, lt0), ann.TokenID), code: latchkey.ELOCKNOTHELD, items: nil},
		{name: "managed, lock free", w: latchkey.ConfigWrite{Items: map[string]*string{"a": sp("x")}, LockToken: 7},
			g: managed(free, ann.TokenID), code: latchkey.ELOCKNOTHELD, items: nil},
		{name: "lock checked before version", w: latchkey.ConfigWrite{Items: map[string]*string{"a": sp("x")}, LockToken: 6, IfVersion: ip(1)},
			g: managed(heldBy(ann, 7, soon), ann.TokenID), code: latchkey.ELOCKNOTHELD, items: nil},
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
