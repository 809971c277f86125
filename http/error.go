package http

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	nethttp "net/http"
	"strconv"

	"latchkey"
)

// internalBody is the answer to anything uncoded; its cause never leaks.
var internalBody = mustEncode(latchkey.InternalErrorBody)

// encode renders v as one line of JSON (HTML characters left as they are).
func encode(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func mustEncode(v any) []byte {
	b, err := encode(v)
	if err != nil {
		panic(err)
	}
	return b
}

// writeError answers err in the API's error shape. An uncoded error (or a
// code outside the table) is a 500 "internal error", logged here once.
func (s *Server) writeError(w nethttp.ResponseWriter, r *nethttp.Request, err error) {
	if r.Context().Err() != nil && errors.Is(err, r.Context().Err()) {
		// The client went away (or the server is stopping) while the call
		// waited: nobody reads this answer, and it is not a bug.
		err = latchkey.Errorf(latchkey.EUNAVAILABLE, "the request ended before it was answered")
	}
	if u, ok := s.store.(interface{ Unavailable(error) bool }); ok && latchkey.ErrorCode(err) == latchkey.EINTERNAL && u.Unavailable(err) {
		// The store's database went away mid-call (a restart, a network
		// cut): nothing was acknowledged, and a retry, here or on another
		// node, is the client's to make. A 503, not a bug's 500.
		s.logger.LogAttrs(r.Context(), slog.LevelWarn, "store unavailable", append(requestAttrs(r), slog.Any("err", err))...)
		err = latchkey.Errorf(latchkey.EUNAVAILABLE, "the store is unreachable: try again").With("reason", "store_unreachable")
	}
	status, eb, ok := latchkey.WireError(err)
	if !ok {
		s.internal(w, r, "internal error", slog.Any("err", err))
		return
	}
	body, mErr := encode(eb)
	if mErr != nil {
		s.internal(w, r, "encode error response", slog.String("code", eb.Error.Code), slog.Any("err", mErr))
		return
	}
	code, details := eb.Error.Code, eb.Error.Details
	switch code {
	case latchkey.EUNAUTHENTICATED:
		w.Header().Set("WWW-Authenticate", `Bearer realm="latchkey"`)
	case latchkey.ERATELIMITED:
		if secs, ok := details[retryAfterDetail].(int64); ok {
			w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
		}
	}
	writeBytes(w, status, body)
}

// writeErrorStatus answers with an explicit status, for the few answers
// that are not a store error (405 from the router).
func writeErrorStatus(w nethttp.ResponseWriter, status int, e *latchkey.Error) {
	_, eb, _ := latchkey.WireError(e)
	writeBytes(w, status, mustEncode(eb))
}

// internal logs an internal failure once and answers 500.
func (s *Server) internal(w nethttp.ResponseWriter, r *nethttp.Request, msg string, attrs ...slog.Attr) {
	attrs = append(requestAttrs(r), attrs...)
	s.logger.LogAttrs(r.Context(), slog.LevelError, msg, attrs...)
	writeBytes(w, nethttp.StatusInternalServerError, internalBody)
}

// writeJSON answers v as JSON with the given status; 204 has no body.
func (s *Server) writeJSON(w nethttp.ResponseWriter, r *nethttp.Request, status int, v any) {
	if status == nethttp.StatusNoContent {
		w.WriteHeader(status)
		return
	}
	if lines, ok := v.(jsonLines); ok {
		s.writeLines(w, r, status, lines)
		return
	}
	if raw, ok := v.(rawBody); ok {
		h := w.Header()
		h.Set("Content-Type", raw.contentType)
		h.Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(status)
		_, _ = w.Write(raw.body)
		return
	}
	body, err := encode(v)
	if err != nil {
		s.internal(w, r, "encode response", slog.Any("err", err))
		return
	}
	writeBytes(w, status, body)
}

// rawBody is an answer that is not JSON (a report's CSV), sent as it is.
type rawBody struct {
	contentType string
	body        []byte
}

func writeBytes(w nethttp.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
