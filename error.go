package latchkey

import (
	"errors"
	"fmt"
)

// Error codes of the public API (see API.md "Conventions"). Each maps to
// exactly one HTTP status in the http package.
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
