package strictjson_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"latchkey/strictjson"
)

type inner struct {
	Password string    `json:"password"`
	At       time.Time `json:"at"`
}

type Base struct {
	Site string `json:"site"`
}

type body struct {
	Base
	Identity string            `json:"identity"`
	Force    *bool             `json:"force,omitempty"`
	Untagged int               // encoding/json's name: "Untagged"
	Skipped  string            `json:"-"`
	Entries  []inner           `json:"entries"`
	Items    map[string]string `json:"items"`
	Nested   *inner            `json:"nested"`
	Raw      json.RawMessage   `json:"raw"`
	Any      any               `json:"any"`
}

func TestCheck(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, body    string
		field, reason string // "" = no problem
		want          string
	}{
		{name: "clean", body: `{"identity":"a","force":true,"entries":[{"password":"x"}],"items":{"A":"1","a":"2"},"site":"s","Untagged":1}`, field: "", reason: "", want: ""},
		{name: "duplicate at the top", body: `{"identity":"a","identity":"b"}`, field: "identity", reason: strictjson.Duplicate, want: ""},
		{name: "duplicate escaped the same", body: `{"identity":"a","iden\u0074ity":"b"}`, field: "identity", reason: strictjson.Duplicate, want: ""},
		{name: "wrong case at the top", body: `{"Identity":"a"}`, field: "Identity", reason: strictjson.WrongCase, want: "identity"},
		{name: "wrong case of an untagged field", body: `{"untagged":1}`, field: "untagged", reason: strictjson.WrongCase, want: "Untagged"},
		{name: "wrong case of a promoted field", body: `{"SITE":"s"}`, field: "SITE", reason: strictjson.WrongCase, want: "site"},
		{name: "Unicode folding (long s)", body: `{"identity":"a","ſite":"s"}`, field: "ſite", reason: strictjson.WrongCase, want: "site"},
		{name: "wrong case in an array element", body: `{"entries":[{"password":"x"},{"Password":"y"}]}`, field: "entries[1].Password", reason: strictjson.WrongCase, want: "entries[1].password"},
		{name: "duplicate in an array element", body: `{"entries":[{"password":"x","password":"y"}]}`, field: "entries[0].password", reason: strictjson.Duplicate, want: ""},
		{name: "wrong case through a pointer", body: `{"nested":{"PASSWORD":"x"}}`, field: "nested.PASSWORD", reason: strictjson.WrongCase, want: "nested.password"},
		{name: "duplicate map key", body: `{"items":{"a":"1","a":"2"}}`, field: "items.a", reason: strictjson.Duplicate, want: ""},
		{name: "map keys are data: case is free", body: `{"items":{"Identity":"1"}}`, field: "", reason: "", want: ""},
		{name: "duplicate inside raw JSON", body: `{"raw":{"x":{"y":1,"y":2}}}`, field: "raw.x.y", reason: strictjson.Duplicate, want: ""},
		{name: "duplicate inside any", body: `{"any":[{"k":1,"k":1}]}`, field: "any[0].k", reason: strictjson.Duplicate, want: ""},
		{name: "skipped field is unknown, not wrong case", body: `{"skipped":"x"}`, field: "", reason: "", want: ""},
		{name: "unknown key is left to the decoder", body: `{"nope":1}`, field: "", reason: "", want: ""},
		{name: "duplicate unknown key", body: `{"nope":1,"nope":2}`, field: "nope", reason: strictjson.Duplicate, want: ""},
		{name: "time is opaque", body: `{"entries":[{"at":"2026-01-01T00:00:00Z"}]}`, field: "", reason: "", want: ""},
		{name: "malformed is left to the decoder", body: `{"identity":"a",,}`, field: "", reason: "", want: ""},
		{name: "a duplicate before a malformed tail is found", body: `{"identity":"a","identity"`, field: "identity", reason: strictjson.Duplicate, want: ""},
		{name: "not an object", body: `[1,2]`, field: "", reason: "", want: ""},
		{name: "problem after a malformed tail is not reached", body: `{"identity":1 "identity":2}`, field: "", reason: "", want: ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := strictjson.Check([]byte(c.body), reflect.TypeFor[*body]())
			if c.reason == "" {
				if p != nil {
					t.Fatalf("problem %+v, want none", p)
				}
				return
			}
			if p == nil || p.Field != c.field || p.Reason != c.reason || p.Want != c.want {
				t.Fatalf("problem %+v, want field %q reason %s want %q", p, c.field, c.reason, c.want)
			}
			if p.Message() == "" {
				t.Fatal("empty message")
			}
		})
	}
}

func TestCheckDeepNesting(t *testing.T) {
	t.Parallel()
	deep := make([]byte, 0, 40002)
	for i := 0; i < 20000; i++ {
		deep = append(deep, '[')
	}
	for i := 0; i < 20000; i++ {
		deep = append(deep, ']')
	}
	if p := strictjson.Check(deep, nil); p != nil {
		t.Fatalf("problem %+v in a deep but clean body", p)
	}
}
