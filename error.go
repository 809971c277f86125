package latchkey

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
)

// Error codes of the public API (see API.md "Conventions"). Each maps to
// exactly one HTTP status (ErrorStatus).
const (
	EBADREQUEST         = "bad_request"
	EUNAUTHENTICATED    = "unauthenticated"
	EINVALIDCREDENTIALS = "invalid_credentials"
	EFORBIDDEN          = "forbidden"
	EQUOTAEXCEEDED      = "quota_exceeded"
	EACCOUNTDISABLED    = "account_disabled"
	ENOTFOUND           = "not_found"
	ECONCURRENTSESSION  = "concurrent_session"
	EIDENTITYINUSE      = "identity_in_use"
	ECONFLICT           = "conflict"
	EVERSIONMISMATCH    = "version_mismatch"
	ELOCKHELD           = "lock_held"
	ELOCKNOTHELD        = "lock_not_held"
	EACCOUNTLOCKED      = "account_locked"
	ESESSIONFAILED      = "session_failed"
	ERATELIMITED        = "rate_limited"
	EUNAVAILABLE        = "unavailable"
	EINTERNAL           = "internal"
)

// Error is an error the API shows to its caller: a code, a human message and
// optional structured details. Anything that is not an *Error is internal.
type Error struct {
	Code    string
	Message string
	Details map[string]any
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// With returns a copy of e with key set in its details.
func (e *Error) With(key string, value any) *Error {
	d := make(map[string]any, len(e.Details)+1)
	for k, v := range e.Details {
		d[k] = v
	}
	d[key] = value
	return &Error{Code: e.Code, Message: e.Message, Details: d}
}

// ErrorCode returns the code of err, EINTERNAL for an uncoded error and ""
// for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) && e != nil {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the human message of a coded error, or a generic text
// for an internal one (whose cause must not leak to callers).
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e != nil {
		return e.Message
	}
	return "internal error"
}

// ErrorDetails returns the details of a coded error, or nil.
func ErrorDetails(err error) map[string]any {
	var e *Error
	if errors.As(err, &e) && e != nil {
		return e.Details
	}
	return nil
}

// BadField returns a bad_request error naming the offending field.
func BadField(field, format string, args ...any) *Error {
	return Errorf(EBADREQUEST, format, args...).With("field", field)
}

// codeStatus is THE map from an API error code to its HTTP status (API.md
// "Conventions"), for the server, the agent's local socket and the client.
var codeStatus = map[string]int{
	EBADREQUEST:         http.StatusBadRequest,
	EUNAUTHENTICATED:    http.StatusUnauthorized,
	EINVALIDCREDENTIALS: http.StatusUnauthorized,
	EFORBIDDEN:          http.StatusForbidden,
	EQUOTAEXCEEDED:      http.StatusForbidden,
	EACCOUNTDISABLED:    http.StatusForbidden,
	ENOTFOUND:           http.StatusNotFound,
	ECONCURRENTSESSION:  http.StatusConflict,
	EIDENTITYINUSE:      http.StatusConflict,
	ECONFLICT:           http.StatusConflict,
	EVERSIONMISMATCH:    http.StatusPreconditionFailed,
	ELOCKHELD:           http.StatusLocked,
	ELOCKNOTHELD:        http.StatusLocked,
	EACCOUNTLOCKED:      http.StatusLocked,
	ESESSIONFAILED:      http.StatusGone,
	ERATELIMITED:        http.StatusTooManyRequests,
	EUNAVAILABLE:        http.StatusServiceUnavailable,
	EINTERNAL:           http.StatusInternalServerError,
}

// ErrorStatus returns the HTTP status of an error code, and false for a
// code the API does not know (answered as internal).
func ErrorStatus(code string) (int, bool) {
	s, ok := codeStatus[code]
	return s, ok
}

// ErrorCodes returns every code of the API, sorted.
func ErrorCodes() []string {
	codes := make([]string, 0, len(codeStatus))
	for c := range codeStatus {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	return codes
}

// ErrorBody is the wire shape of every error of the API and of the agent's
// local socket: {"error": {"code", "message", "details"}}.
type ErrorBody struct {
	Error ErrorFields `json:"error"`
}

// ErrorFields are an ErrorBody's fields.
type ErrorFields struct {
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details"`
}

// InternalErrorBody is the answer to anything uncoded: its cause never
// leaks to the caller.
var InternalErrorBody = ErrorBody{Error: ErrorFields{Code: EINTERNAL, Message: "internal error", Details: map[string]any{}}}

// WireError returns err's HTTP status and body. An uncoded error, or a
// code outside the table, is internal (ok false: the caller logs its
// cause once).
func WireError(err error) (status int, body ErrorBody, ok bool) {
	code := ErrorCode(err)
	status, ok = ErrorStatus(code)
	if !ok || code == EINTERNAL {
		return http.StatusInternalServerError, InternalErrorBody, false
	}
	details := ErrorDetails(err)
	if details == nil {
		details = map[string]any{}
	}
	return status, ErrorBody{Error: ErrorFields{Code: code, Message: ErrorMessage(err), Details: details}}, true
}

// ParseErrorBody returns the *Error an answer's body carries, or nil when
// the body is not in the API's error shape (a proxy's page, a crash).
func ParseErrorBody(data []byte) *Error {
	var b struct {
		Error *ErrorFields `json:"error"`
	}
	if json.Unmarshal(data, &b) != nil || b.Error == nil || b.Error.Code == "" {
		return nil
	}
	return &Error{Code: b.Error.Code, Message: b.Error.Message, Details: b.Error.Details}
}
