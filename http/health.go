package http

import (
	"log/slog"
	nethttp "net/http"

	"latchkey"
)

// healthz answers 200 while the process runs.
func (s *Server) healthz(*nethttp.Request, latchkey.Caller) (int, any, error) {
	return nethttp.StatusOK, map[string]bool{"ok": true}, nil
}

// readyz answers 200 when the store is reachable, else 503 unavailable.
func (s *Server) readyz(r *nethttp.Request, _ latchkey.Caller) (int, any, error) {
	if err := s.store.Ping(r.Context()); err != nil {
		s.logger.LogAttrs(r.Context(), slog.LevelWarn, "store not ready", append(requestAttrs(r), slog.Any("err", err))...)
		return 0, nil, latchkey.Errorf(latchkey.EUNAVAILABLE, "the store is unreachable")
	}
	return nethttp.StatusOK, map[string]bool{"ok": true}, nil
}
