package http

import (
	"bufio"
	"encoding/json"
	"log/slog"
	nethttp "net/http"
)

// jsonLines is an answer streamed as JSON lines (application/x-ndjson):
// the function calls emit once per line. The status is sent with the first
// line, so an error before it is answered in the API's error shape; an
// error after it breaks the connection, so that a client never takes a cut
// stream for a whole one.
type jsonLines func(emit func(v any) error) error

func (s *Server) writeLines(w nethttp.ResponseWriter, r *nethttp.Request, status int, lines jsonLines) {
	var bw *bufio.Writer
	var enc *json.Encoder
	rc := nethttp.NewResponseController(w)
	n := 0
	err := lines(func(v any) error {
		if bw == nil {
			h := w.Header()
			h.Set("Content-Type", "application/x-ndjson")
			h.Set("X-Content-Type-Options", "nosniff")
			w.WriteHeader(status)
			bw = bufio.NewWriterSize(w, 32<<10)
			enc = json.NewEncoder(bw)
			enc.SetEscapeHTML(false)
		}
		if err := enc.Encode(v); err != nil {
			return err
		}
		if n++; n%1000 == 0 { // keep a slow reader's data moving
			if err := bw.Flush(); err != nil {
				return err
			}
			return rc.Flush()
		}
		return nil
	})
	if bw == nil {
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.WriteHeader(status)
		return
	}
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		if r.Context().Err() == nil {
			s.logger.LogAttrs(r.Context(), slog.LevelError, "streamed answer cut short", append(requestAttrs(r), slog.Any("err", err))...)
		}
		panic(nethttp.ErrAbortHandler)
	}
}
