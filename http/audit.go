package http

import (
	nethttp "net/http"
	"strconv"

	"latchkey"
)

// listAudit is GET /v1/audit?after=&limit=&actor=&action= and, beyond
// API.md, &terminal=&from=&to=&before=&order= (latchkey.ParseAuditQuery;
// docs/console-audit.md). next is the seq of the page's last record when
// the page is full (for after when oldest first, for before when newest
// first), else "".
func (s *Server) listAudit(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	f, err := latchkey.ParseAuditQuery(r.URL.Query())
	if err != nil {
		return 0, nil, err
	}
	items, err := s.store.ListAudit(r.Context(), c, f)
	if err != nil {
		return 0, nil, err
	}
	next := ""
	if n := f.NextAudit(items); n > 0 {
		next = strconv.FormatInt(n, 10)
	}
	return nethttp.StatusOK, listOf(items, next), nil
}

// verifyAudit is GET /v1/audit/verify (admin).
func (s *Server) verifyAudit(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	v, err := s.store.VerifyAudit(r.Context(), c)
	if err != nil {
		return 0, nil, err
	}
	return nethttp.StatusOK, v, nil
}

// sealAudit is GET /v1/audit/seal (admin): the chain's head signed with
// the server's key.
func (s *Server) sealAudit(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	seal, err := s.store.SealAudit(r.Context(), c)
	if err != nil {
		return 0, nil, err
	}
	return nethttp.StatusOK, seal, nil
}

// exportAudit is GET /v1/audit/export?after=SEQ (admin): every record after
// SEQ, up to the head when the export began, as JSON lines
// (latchkey.AuditLine), streamed a page of the store at a time.
func (s *Server) exportAudit(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	var after int64
	if a := r.URL.Query().Get("after"); a != "" {
		var err error
		if after, err = strconv.ParseInt(a, 10, 64); err != nil || after < 0 {
			return 0, nil, latchkey.BadField("after", "after must be a non-negative integer (an audit seq)")
		}
	}
	return nethttp.StatusOK, jsonLines(func(emit func(any) error) error {
		return s.store.ExportAudit(r.Context(), c, after, func(rec latchkey.AuditRecord) error {
			return emit(rec.ExportLine())
		})
	}), nil
}
