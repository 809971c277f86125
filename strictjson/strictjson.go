// Package strictjson finds what encoding/json lets through silently in a
// request body: a key that appears twice in one object (encoding/json
// keeps the last) and a key that names a struct field in another case
// (encoding/json matches field names case-insensitively, so "Password"
// fills Password as "password" would). The server's request decoders and
// the agent's local socket refuse both, at every depth of a body.
package strictjson

import (
	"bytes"
	"encoding"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// Reasons of a Problem.
const (
	Duplicate = "duplicate_key"
	WrongCase = "wrong_case"
)

// maxDepth bounds the nesting Check follows (encoding/json refuses deeper
// bodies itself).
const maxDepth = 10000

// Problem is the first offending key of a body.
type Problem struct {
	// Field is the path of the key as sent: "entries[2].Password"; a key of
	// the body itself is just its name.
	Field string
	// Reason is Duplicate or WrongCase.
	Reason string
	// Want is, for WrongCase, the path with the field's real name.
	Want string
}

// Message is a human sentence for p.
func (p *Problem) Message() string {
	if p.Reason == WrongCase {
		return "unknown field " + strconv.Quote(p.Field) + ": field names are case-sensitive (did you mean " + strconv.Quote(p.Want) + "?)"
	}
	return "the key " + strconv.Quote(p.Field) + " appears more than once"
}

// Check walks the JSON value in data alongside the Go type t (the type the
// body will be decoded into; pointers are followed, nil checks duplicates
// only) and returns the first duplicate or wrong-case key, or nil. A body
// that is not well-formed JSON gives nil: the decoder reports that itself.
// Keys of maps and of values decoded by their own UnmarshalJSON are data,
// checked for duplicates only.
func Check(data []byte, t reflect.Type) *Problem {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	p, _ := walk(dec, t, "", 0)
	return p
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// opaque reports whether values of t decode themselves.
func opaque(t reflect.Type) bool {
	return t.Implements(jsonUnmarshaler) || reflect.PointerTo(t).Implements(jsonUnmarshaler) ||
		t.Implements(textUnmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler)
}

func deref(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t != nil && opaque(t) {
		return nil
	}
	return t
}

// walk reads one value from dec. Its error is the decoder's (malformed
// JSON); a Problem ends the walk.
func walk(dec *json.Decoder, t reflect.Type, path string, depth int) (*Problem, error) {
	if depth > maxDepth {
		return nil, errTooDeep
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	t = deref(t)
	switch tok {
	case json.Delim('{'):
		var fields map[string]reflect.Type
		var elem reflect.Type
		if t != nil {
			switch t.Kind() {
			case reflect.Struct:
				fields = fieldsOf(t)
			case reflect.Map:
				elem = t.Elem()
			}
		}
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, err
			}
			key, _ := kt.(string)
			child := join(path, key)
			if seen[key] {
				return &Problem{Field: child, Reason: Duplicate}, nil
			}
			seen[key] = true
			ct := elem
			if fields != nil {
				var ok bool
				if ct, ok = fields[key]; !ok {
					for name := range fields {
						if strings.EqualFold(name, key) {
							return &Problem{Field: child, Reason: WrongCase, Want: join(path, name)}, nil
						}
					}
				}
			}
			if p, err := walk(dec, ct, child, depth+1); p != nil || err != nil {
				return p, err
			}
		}
		_, err := dec.Token() // '}'
		return nil, err
	case json.Delim('['):
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for i := 0; dec.More(); i++ {
			if p, err := walk(dec, elem, path+"["+strconv.Itoa(i)+"]", depth+1); p != nil || err != nil {
				return p, err
			}
		}
		_, err := dec.Token() // ']'
		return nil, err
	}
	return nil, nil
}

type depthError struct{}

func (depthError) Error() string { return "too deeply nested" }

var errTooDeep error = depthError{}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// fieldCache holds fieldsOf's answers by type (read-only once stored).
var fieldCache sync.Map // reflect.Type → map[string]reflect.Type

// fieldsOf maps the JSON names of a struct's fields (as encoding/json
// sees them: tag names, exported field names, embedded structs' fields
// promoted) to their types.
func fieldsOf(t reflect.Type) map[string]reflect.Type {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	out := map[string]reflect.Type{}
	addFields(t, out, 0)
	fieldCache.Store(t, out)
	return out
}

func addFields(t reflect.Type, out map[string]reflect.Type, depth int) {
	if depth > 8 {
		return
	}
	var embedded []reflect.Type
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				embedded = append(embedded, ft)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	// Promoted fields lose to the struct's own (encoding/json's rule).
	for _, ft := range embedded {
		inner := map[string]reflect.Type{}
		addFields(ft, inner, depth+1)
		for name, typ := range inner {
			if _, taken := out[name]; !taken {
				out[name] = typ
			}
		}
	}
}
