package http

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	nethttp "net/http"
	"strings"
	"time"

	"latchkey"
)

const (
	idempotencyHeader = "Idempotency-Key"
	replayedHeader    = "Idempotent-Replayed"
	maxIdempotencyKey = 200
	// idempotencyFinishTimeout bounds storing a response after the handler
	// ran; it runs even when the client has gone away, so that a retry
	// replays instead of acting twice.
	idempotencyFinishTimeout = 10 * time.Second
)

// idempotent runs serve under the request's Idempotency-Key: a repeat of a
// finished request (same caller, method, path, key and body) gets the first
// response back without serve running; a key reused with another body, or
// whose first request is still running, is refused by the store (conflict).
// What the store is given of the body is blankedRequest's form: every
// password value replaced, so a key reused with only another password is
// taken as the same request (it gets the first answer).
func (s *Server) idempotent(w nethttp.ResponseWriter, r *nethttp.Request, c latchkey.Caller,
	serve func(nethttp.ResponseWriter, *nethttp.Request)) {
	key, err := idempotencyKey(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	body, err := readBody(r, s.maxBody)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	request, ok := blankedRequest(body)
	if !ok {
		// Not one well-formed JSON value: the decoder would refuse it, so
		// refuse it here, before anything of it is hashed or kept.
		if _, err := decodeBytes[any](r.Header.Get("Content-Type"), body); err != nil {
			s.writeError(w, r, err)
		} else {
			s.writeError(w, r, latchkey.BadField("body", "malformed JSON"))
		}
		return
	}
	// Every route that takes a key needs a token (the one public mutating
	// route, login, ignores keys), so the caller names the scope.
	scope := c.Actor() + " " + r.Method + " " + r.URL.EscapedPath()

	stored, err := s.store.BeginIdempotent(r.Context(), scope, key, request)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if stored != nil {
		h := w.Header()
		h.Set(replayedHeader, "true")
		if len(stored.Body) > 0 {
			h.Set("Content-Type", "application/json")
			h.Set("X-Content-Type-Options", "nosniff")
		}
		w.WriteHeader(stored.Status)
		if len(stored.Body) > 0 {
			_, _ = w.Write(stored.Body)
		}
		return
	}

	rec := &bufferedWriter{ResponseWriter: w}
	finished := false
	ctx := context.WithoutCancel(r.Context())
	defer func() {
		if finished {
			return
		}
		// serve panicked: free the key, then let the panic reach the
		// recovery middleware.
		s.abandon(ctx, r, scope, key)
	}()
	serve(rec, r.WithContext(latchkey.WithIdempotencyClaim(r.Context(), latchkey.IdempotencyClaim{Scope: scope, Key: key})))
	finished = true

	status := rec.statusCode()
	acted := status < 500 && status != nethttp.StatusTooManyRequests // otherwise a retry must run
	s.settleKey(ctx, r, scope, key, acted, latchkey.StoredResponse{Status: status, Body: rec.buf.Bytes()})
	w.WriteHeader(status)
	_, _ = w.Write(rec.buf.Bytes())
}

// settleKey ends a keyed request: when it acted, its answer is kept for
// a replay; when it did not, the key is freed so that a retry runs.
func (s *Server) settleKey(ctx context.Context, r *nethttp.Request, scope, key string, acted bool, answer latchkey.StoredResponse) {
	if !acted {
		s.abandon(ctx, r, scope, key)
		return
	}
	fctx, cancel := context.WithTimeout(ctx, idempotencyFinishTimeout)
	defer cancel()
	if err := s.store.FinishIdempotent(fctx, scope, key, answer); err != nil {
		// The request has acted: leave the key claimed (a retry is
		// refused as in progress until the store lets it go) rather
		// than free it to act twice.
		s.logger.LogAttrs(r.Context(), slog.LevelError, "store idempotent response",
			append(requestAttrs(r), slog.Any("err", err))...)
	}
}

func (s *Server) abandon(ctx context.Context, r *nethttp.Request, scope, key string) {
	actx, cancel := context.WithTimeout(ctx, idempotencyFinishTimeout)
	defer cancel()
	if err := s.store.AbandonIdempotent(actx, scope, key); err != nil {
		s.logger.LogAttrs(r.Context(), slog.LevelError, "abandon idempotency key",
			append(requestAttrs(r), slog.Any("err", err))...)
	}
}

// idempotencyKey returns the request's key: one header value of 1 to 200
// printable ASCII characters.
func idempotencyKey(r *nethttp.Request) (string, error) {
	vs := r.Header.Values(idempotencyHeader)
	bad := latchkey.BadField(idempotencyHeader,
		"Idempotency-Key must be one value of 1 to %d printable ASCII characters", maxIdempotencyKey)
	if len(vs) != 1 || len(vs[0]) > maxIdempotencyKey || !printableASCII(vs[0]) {
		return "", bad
	}
	return vs[0], nil
}

// bufferedWriter holds a response back (status and body) so it can be
// stored before it is sent. Headers go straight to the real writer.
type bufferedWriter struct {
	nethttp.ResponseWriter
	status int
	buf    bytes.Buffer
}

func (b *bufferedWriter) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func (b *bufferedWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = nethttp.StatusOK
	}
	return b.buf.Write(p)
}

func (b *bufferedWriter) statusCode() int {
	if b.status == 0 {
		return nethttp.StatusOK
	}
	return b.status
}

// maxJSONDepth is encoding/json's own nesting limit: blankedRequest gives
// up on deeper bodies, which the decoder refuses anyway.
const maxJSONDepth = 10000

// blankedRequest is the form of a request body an idempotency record is
// keyed on: the JSON value re-encoded canonically (numbers as sent, no
// white space), with the value of every key whose name contains
// "password", in any case and at any depth, replaced by "<blank>". So no
// record holds anything computed from a password, even under the server's
// secret. It is false when body is not exactly one well-formed JSON value;
// an empty body is nil, true.
func blankedRequest(body []byte) ([]byte, bool) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, true
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var out bytes.Buffer
	if err := writeBlanked(dec, &out, 0); err != nil {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false
	}
	return out.Bytes(), true
}

type tooDeep struct{}

func (tooDeep) Error() string { return "JSON nested too deeply" }

func writeBlanked(dec *json.Decoder, out *bytes.Buffer, depth int) error {
	if depth > maxJSONDepth {
		return tooDeep{}
	}
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch v := tok.(type) {
	case json.Delim:
		if v == '[' {
			out.WriteByte('[')
			for i := 0; dec.More(); i++ {
				if i > 0 {
					out.WriteByte(',')
				}
				if err := writeBlanked(dec, out, depth+1); err != nil {
					return err
				}
			}
			out.WriteByte(']')
		} else {
			out.WriteByte('{')
			for i := 0; dec.More(); i++ {
				if i > 0 {
					out.WriteByte(',')
				}
				kt, err := dec.Token()
				if err != nil {
					return err
				}
				key, _ := kt.(string)
				writeJSONString(out, key)
				out.WriteByte(':')
				if !strings.Contains(strings.ToLower(key), "password") {
					if err := writeBlanked(dec, out, depth+1); err != nil {
						return err
					}
					continue
				}
				var skip json.RawMessage
				if err := dec.Decode(&skip); err != nil {
					return err
				}
				out.WriteString(`"<blank>"`)
			}
			out.WriteByte('}')
		}
		_, err := dec.Token() // the closing delimiter
		return err
	case string:
		writeJSONString(out, v)
	case json.Number:
		out.WriteString(v.String())
	case bool:
		if v {
			out.WriteString("true")
		} else {
			out.WriteString("false")
		}
	case nil:
		out.WriteString("null")
	}
	return nil
}

func writeJSONString(out *bytes.Buffer, s string) {
	b, _ := json.Marshal(s) // a string always encodes
	out.Write(b)
}
