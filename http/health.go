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

// readyz answers 200 when the node takes work: the store is reachable
// and the node is not draining; else 503 unavailable, saying which.
func (s *Server) readyz(r *nethttp.Request, _ latchkey.Caller) (int, any, error) {
	if s.draining.Load() {
		return 0, nil, latchkey.Errorf(latchkey.EUNAVAILABLE, "this node is shutting down: send requests to another node").With("reason", "draining")
	}
	if err := s.store.Ping(r.Context()); err != nil {
		s.logger.LogAttrs(r.Context(), slog.LevelWarn, "store not ready", append(requestAttrs(r), slog.Any("err", err))...)
		return 0, nil, latchkey.Errorf(latchkey.EUNAVAILABLE, "the store is unreachable").With("reason", "store_unreachable")
	}
	return nethttp.StatusOK, map[string]bool{"ok": true}, nil
}

// listNodes is GET /v1/cluster/nodes (admins): every node of the cluster,
// alive or not, by ID.
func (s *Server) listNodes(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	nodes, err := s.store.Nodes(r.Context(), c)
	if err != nil {
		return 0, nil, err
	}
	return nethttp.StatusOK, listOf(nodes, ""), nil
}
