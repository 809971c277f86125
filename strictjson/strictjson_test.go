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
		{"clean", `{"identity":"a","force":true,"entries":[{"password":"x"}],"items":{"A":"1","a":"2"},"site":"s","Untagged":1}`, "", "", ""},
		{"duplicate at the top", `{"identity":"a","identity":"b"}`, "identity", strictjson.Duplicate, ""},
		{"duplicate escaped the same", `{"identity":"a","iden\u0074ity":"b"}`, "identity", strictjson.Duplicate, ""},
		{"wrong case at the top", `{"Identity":"a"}`, "Identity", strictjson.WrongCase, "identity"},
		{"wrong case of an untagged field", `{"untagged":1}`, "untagged", strictjson.WrongCase, "Untagged"},
		{"wrong case of a promoted field", `{"SITE":"s"}`, "SITE", strictjson.WrongCase, "site"},
		{"Unicode folding (long s)", `{"identity":"a","ſite":"s"}`, "ſite", strictjson.WrongCase, "site"},
		{"wrong case in an array element", `{"entries":[{"password":"x"},{"Password":"y"}]}`, "entries[1].Password", strictjson.WrongCase, "entries[1].password"},
		{"duplicate in an array element", `{"entries":[{"password":"x","password":"y"}]}`, "entries[0].password", strictjson.Duplicate, ""},
		{"wrong case through a pointer", `{"nested":{"PASSWORD":"x"}}`, "nested.PASSWORD", strictjson.WrongCase, "nested.password"},
		{"duplicate map key", `{"items":{"a":"1","a":"2"}}`, "items.a", strictjson.Duplicate, ""},
		{"map keys are data: case is free", `{"items":{"Identity":"1"}}`, "", "", ""},
		{"duplicate inside raw JSON", `{"raw":{"x":{"y":1,"y":2}}}`, "raw.x.y", strictjson.Duplicate, ""},
		{"duplicate inside any", `{"any":[{"k":1,"k":1}]}`, "any[0].k", strictjson.Duplicate, ""},
		{"skipped field is unknown, not wrong case", `{"skipped":"x"}`, "", "", ""},
		{"unknown key is left to the decoder", `{"nope":1}`, "", "", ""},
		{"duplicate unknown key", `{"nope":1,"nope":2}`, "nope", strictjson.Duplicate, ""},
		{"time is opaque", `{"entries":[{"at":"2026-01-01T00:00:00Z"}]}`, "", "", ""},
		{"malformed is left to the decoder", `{"identity":"a",,}`, "", "", ""},
		{"a duplicate before a malformed tail is found", `{"identity":"a","identity"`, "identity", strictjson.Duplicate, ""},
		{"not an object", `[1,2]`, "", "", ""},
		{"problem after a malformed tail is not reached", `{"identity":1 "identity":2}`, "", "", ""},
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
