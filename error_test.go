package latchkey_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"latchkey"
)

// TestErrorStatus is API.md's code → status table ("Conventions"); the
// server, the agent's socket and the client all use latchkey.ErrorStatus.
func TestErrorStatus(t *testing.T) {
	t.Parallel()
	want := map[string]int{
		latchkey.EBADREQUEST:         400,
		latchkey.EUNAUTHENTICATED:    401,
		latchkey.EINVALIDCREDENTIALS: 401,
		latchkey.EFORBIDDEN:          403,
		latchkey.EQUOTAEXCEEDED:      403,
		latchkey.EACCOUNTDISABLED:    403,
		latchkey.ENOTFOUND:           404,
		latchkey.ECONCURRENTSESSION:  409,
		latchkey.EIDENTITYINUSE:      409,
		latchkey.ECONFLICT:           409,
		latchkey.EVERSIONMISMATCH:    412,
		latchkey.ELOCKHELD:           423,
		latchkey.ELOCKNOTHELD:        423,
		latchkey.EACCOUNTLOCKED:      423,
		latchkey.ESESSIONFAILED:      410,
		latchkey.ERATELIMITED:        429,
		latchkey.EUNAVAILABLE:        503,
		latchkey.EINTERNAL:           500,
	}
	codes := latchkey.ErrorCodes()
	if len(codes) != len(want) {
		t.Fatalf("ErrorCodes() = %v, want the %d codes of API.md", codes, len(want))
	}
	for _, c := range codes {
		got, ok := latchkey.ErrorStatus(c)
		if !ok || got != want[c] {
			t.Errorf("ErrorStatus(%q) = %d, %v; want %d", c, got, ok, want[c])
		}
	}
	if _, ok := latchkey.ErrorStatus("no_such_code"); ok {
		t.Error("an unknown code has a status")
	}
}

// Every coded error survives the wire: WireError's body, parsed back by
// ParseErrorBody, is the same error; anything uncoded is internal and
// tells nothing of its cause.
func TestWireErrorRoundTrip(t *testing.T) {
	t.Parallel()
	for _, code := range latchkey.ErrorCodes() {
		if code == latchkey.EINTERNAL {
			continue
		}
		t.Run(code, func(t *testing.T) {
			t.Parallel()
			in := latchkey.Errorf(code, "the %s message", code).With("n", 7.0)
			status, body, ok := latchkey.WireError(fmt.Errorf("wrapped: %w", in))
			if want, _ := latchkey.ErrorStatus(code); !ok || status != want {
				t.Fatalf("WireError status %d ok %v, want %d", status, ok, want)
			}
			data, err := json.Marshal(body)
			if err != nil {
				t.Fatal(err)
			}
			got := latchkey.ParseErrorBody(data)
			if got == nil || got.Code != in.Code || got.Message != in.Message || !reflect.DeepEqual(got.Details, in.Details) {
				t.Fatalf("round trip of %s = %+v, want %+v", data, got, in)
			}
		})
	}
	for name, err := range map[string]error{
		"uncoded":        errors.New("disk on fire at /var/lib/x"),
		"unknown code":   latchkey.Errorf("no_such_code", "secret detail"),
		"coded internal": latchkey.Errorf(latchkey.EINTERNAL, "secret detail"),
	} {
		status, body, ok := latchkey.WireError(err)
		if ok || status != 500 || !reflect.DeepEqual(body, latchkey.InternalErrorBody) {
			t.Errorf("%s: WireError = %d %+v %v, want 500 internal", name, status, body, ok)
		}
	}
	// Details are always an object on the wire, never null.
	_, body, _ := latchkey.WireError(latchkey.Errorf(latchkey.ENOTFOUND, "no such thing"))
	if data, _ := json.Marshal(body); string(data) != `{"error":{"code":"not_found","message":"no such thing","details":{}}}` {
		t.Errorf("body = %s", data)
	}
	for _, junk := range []string{"", "<html>bad gateway</html>", `{"error":null}`, `{"error":{"code":""}}`, `[1]`} {
		if e := latchkey.ParseErrorBody([]byte(junk)); e != nil {
			t.Errorf("ParseErrorBody(%q) = %+v, want nil", junk, e)
		}
	}
}

// ---- Error helpers ----

func TestErrorCode(t *testing.T) {
	t.Parallel()
	e := latchkey.Errorf(latchkey.ECONFLICT, "boom %d", 7)
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"plain error", errors.New("disk on fire"), latchkey.EINTERNAL},
		{"fmt error", fmt.Errorf("x: %d", 1), latchkey.EINTERNAL},
		{"coded", e, latchkey.ECONFLICT},
		{"wrapped coded", fmt.Errorf("x: %w", e), latchkey.ECONFLICT},
		{"doubly wrapped coded", fmt.Errorf("y: %w", fmt.Errorf("x: %w", e)), latchkey.ECONFLICT},
		{"joined", errors.Join(errors.New("a"), latchkey.Errorf(latchkey.ENOTFOUND, "nf")), latchkey.ENOTFOUND},
		{"with details", e.With("k", 1), latchkey.ECONFLICT},
		{"bad field", latchkey.BadField("f", "bad"), latchkey.EBADREQUEST},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := latchkey.ErrorCode(c.err); got != c.want {
				t.Fatalf("ErrorCode = %q, want %q", got, c.want)
			}
		})
	}
}

func TestErrorMessageAndDetails(t *testing.T) {
	t.Parallel()
	e := latchkey.Errorf(latchkey.EFORBIDDEN, "not yours: %s", "s1").With("who", "p1")
	if got := e.Error(); got != "forbidden: not yours: s1" {
		t.Fatalf("Error() = %q", got)
	}
	if got := latchkey.ErrorMessage(fmt.Errorf("ctx: %w", e)); got != "not yours: s1" {
		t.Fatalf("ErrorMessage = %q", got)
	}
	if got := latchkey.ErrorMessage(errors.New("password=hunter2 leaked")); got != "internal error" || strings.Contains(got, "hunter2") {
		t.Fatalf("ErrorMessage of an internal error = %q, must be generic", got)
	}
	if d := latchkey.ErrorDetails(fmt.Errorf("ctx: %w", e)); d["who"] != "p1" {
		t.Fatalf("ErrorDetails = %#v", d)
	}
	if d := latchkey.ErrorDetails(errors.New("x")); d != nil {
		t.Fatalf("ErrorDetails of an internal error = %#v, want nil", d)
	}
	if d := latchkey.ErrorDetails(nil); d != nil {
		t.Fatalf("ErrorDetails(nil) = %#v", d)
	}
	bf := latchkey.BadField("events[3].reason", "bad %s", "reason")
	if bf.Code != latchkey.EBADREQUEST || bf.Message != "bad reason" || bf.Details["field"] != "events[3].reason" {
		t.Fatalf("BadField = %+v", bf)
	}
}

func TestErrorWithCopies(t *testing.T) {
	t.Parallel()
	orig := latchkey.Errorf(latchkey.ECONFLICT, "c")
	a := orig.With("a", 1)
	if orig.Details != nil {
		t.Fatalf("With changed the original's details: %#v", orig.Details)
	}
	b := a.With("b", 2)
	if _, ok := a.Details["b"]; ok {
		t.Fatalf("With changed its receiver's details: %#v", a.Details)
	}
	if b.Details["a"] != 1 || b.Details["b"] != 2 || len(b.Details) != 2 {
		t.Fatalf("With lost details: %#v", b.Details)
	}
	c := b.With("a", 3)
	if b.Details["a"] != 1 || c.Details["a"] != 3 {
		t.Fatalf("overwrite leaked: b %#v c %#v", b.Details, c.Details)
	}
	if a == orig || b == a || c.Code != orig.Code || c.Message != orig.Message {
		t.Fatal("With must return a new error with the same code and message")
	}
	// Mutating the copy's map does not reach the original either.
	c.Details["z"] = true
	if _, ok := b.Details["z"]; ok {
		t.Fatal("copies share their details map")
	}
}
