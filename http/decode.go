package http

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	nethttp "net/http"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode"

	"latchkey"
	"latchkey/strictjson"
)

// DefaultMaxBodyBytes bounds a request body when Options.MaxBodyBytes is 0.
const DefaultMaxBodyBytes = 1 << 20

// validator is a request body that checks itself after decoding; every
// request type implements it, and its errors are bad_request with
// details.field.
type validator interface{ validate() error }

// optional is implemented by request types whose body may be left out.
type optional interface{ bodyOptional() }

// decode reads r's body (at most maxBytes) and decodes it strictly into a
// T, then validates it. Every error is a *latchkey.Error with code
// bad_request and details.field.
func decode[T any](r *nethttp.Request, maxBytes int64) (T, error) {
	body, err := readBody(r, maxBytes)
	if err != nil {
		var zero T
		return zero, err
	}
	return decodeBytes[T](r.Header.Get("Content-Type"), body)
}

// readBody reads the whole body, refusing one larger than maxBytes. The
// body is left in place, re-readable, so that the idempotency layer and the
// decoder can both read it.
func readBody(r *nethttp.Request, maxBytes int64) ([]byte, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBodyBytes
	}
	if r.Body == nil || r.Body == nethttp.NoBody {
		return nil, nil
	}
	tooLarge := latchkey.BadField("body", "request body is larger than %d bytes", maxBytes)
	if r.ContentLength > maxBytes {
		return nil, tooLarge
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBytes+1))
	if err != nil {
		return nil, latchkey.BadField("body", "cannot read request body")
	}
	if int64(len(b)) > maxBytes {
		return nil, tooLarge
	}
	_ = r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.ContentLength = int64(len(b))
	return b, nil
}

// decodeBytes is decode's core, over an already-read body: strict JSON
// (application/json, no unknown fields, exactly one value, right types),
// then the type's own validation.
func decodeBytes[T any](contentType string, body []byte) (T, error) {
	var v T
	if len(bytes.TrimSpace(body)) == 0 {
		if _, ok := any(&v).(optional); ok {
			return v, validate(&v)
		}
		return v, latchkey.BadField("body", "a JSON request body is required")
	}
	if !isJSON(contentType) {
		return v, latchkey.BadField("Content-Type", "Content-Type must be application/json")
	}
	if err := strictUnmarshal(body, &v, ""); err != nil {
		return v, err
	}
	return v, validate(&v)
}

// strictUnmarshal decodes exactly one JSON value from data into v,
// refusing unknown fields, keys that appear twice in an object and keys
// in another case than their field's (encoding/json alone would take
// both), at every depth. Errors name the field, under prefix (a path
// such as "events[3]"; "" for the body itself).
func strictUnmarshal(data []byte, v any, prefix string) error {
	if p := strictjson.Check(data, reflect.TypeOf(v)); p != nil {
		if prefix != "" {
			p.Field = prefix + "." + p.Field
			if p.Want != "" {
				p.Want = prefix + "." + p.Want
			}
		}
		return latchkey.BadField(p.Field, "%s", p.Message()).With("reason", p.Reason)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err, prefix)
	}
	if _, err := dec.Token(); err != io.EOF {
		return latchkey.BadField(orBody(prefix), "the request body must be exactly one JSON value")
	}
	return nil
}

func orBody(prefix string) string {
	if prefix == "" {
		return "body"
	}
	return prefix
}

func validate(v any) error {
	if x, ok := v.(validator); ok {
		return x.validate()
	}
	return nil
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/json"
}

// wirePath drops the names of embedded Go structs from an
// UnmarshalTypeError's field path ("SiteSettings.warning_seconds" →
// "warning_seconds"): the body's keys are lower case, Go type names are
// not.
func wirePath(path string) string {
	parts := strings.Split(path, ".")
	out := parts[:0]
	for i, p := range parts {
		if i < len(parts)-1 && p != "" && unicode.IsUpper(rune(p[0])) {
			continue // an embedded struct: never the last
		}
		out = append(out, p)
	}
	return strings.Join(out, ".")
}

// jsonError turns a decoding error into bad_request naming the field
// (under prefix, see strictUnmarshal).
func jsonError(err error, prefix string) error {
	field := func(name string) string {
		name = wirePath(name)
		switch {
		case name == "":
			return orBody(prefix)
		case prefix == "":
			return name
		}
		return prefix + "." + name
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return latchkey.BadField(orBody(prefix), "malformed JSON at byte %d", syn.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return latchkey.BadField(orBody(prefix), "truncated JSON")
	case errors.As(err, &typ):
		if typ.Field == "" {
			return latchkey.BadField(orBody(prefix), "%s must be a JSON object", orBody(prefix))
		}
		kind := "a different type"
		if typ.Type != nil {
			kind = jsonKind(typ.Type.String())
		}
		return latchkey.BadField(field(typ.Field), "%s must be %s, not %s", field(typ.Field), kind, typ.Value)
	}
	const unknown = "json: unknown field "
	if msg := err.Error(); strings.HasPrefix(msg, unknown) {
		name, uErr := strconv.Unquote(strings.TrimPrefix(msg, unknown))
		if uErr != nil || name == "" {
			return latchkey.BadField(orBody(prefix), "unknown field in %s", orBody(prefix))
		}
		return latchkey.BadField(field(name), "unknown field %q", field(name))
	}
	return latchkey.BadField(orBody(prefix), "malformed JSON")
}

// jsonKind names a Go type as the JSON a client should send.
func jsonKind(goType string) string {
	switch {
	case goType == "bool" || goType == "*bool":
		return "a boolean"
	case strings.Contains(goType, "int"):
		return "an integer"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case goType == "string" || goType == "*string" || strings.HasSuffix(goType, "Role"):
		return "a string"
	}
	return "an object"
}

// parseTime parses a required RFC 3339 time.
func parseTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, latchkey.BadField(field, "%s is required", field)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, latchkey.BadField(field, "%s must be an RFC 3339 time", field)
	}
	if t.IsZero() {
		return time.Time{}, latchkey.BadField(field, "%s must not be the zero time", field)
	}
	return t.UTC(), nil
}

// Query parameters.

// pageQuery reads ?limit= and ?after=.
func pageQuery(r *nethttp.Request) (latchkey.Page, error) {
	q := r.URL.Query()
	limit, err := limitQuery(q.Get("limit"))
	if err != nil {
		return latchkey.Page{}, err
	}
	return latchkey.Page{Limit: limit, After: q.Get("after")}, nil
}

// limitQuery parses a limit: absent or 0 means the default; above the
// maximum it is capped (by latchkey.Page.Normalize).
func limitQuery(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, latchkey.BadField("limit", "limit must be a non-negative integer")
	}
	return n, nil
}

// emptyBody is the body of calls that take none: it may be left out, or
// be {}.
type emptyBody struct{}

func (emptyBody) bodyOptional() {}
