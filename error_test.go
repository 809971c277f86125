package latchkey_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
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
