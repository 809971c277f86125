package http

import (
	nethttp "net/http"

	"latchkey"
)

// The agent's side of standalone mode (API.md "Reservations and standalone
// mode"): its policy, the upload of its offline journal, and its mode.

func (s *Server) agentPolicy(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	p, err := s.store.AgentPolicy(r.Context(), c)
	if err != nil {
		return 0, nil, err
	}
	return nethttp.StatusOK, p, nil
}

// journalBody is POST /v1/agent/journal; the store checks the entries
// against its clock (latchkey.ValidateJournal).
type journalBody struct {
	Entries []latchkey.JournalEntry `json:"entries"`
}

func (b *journalBody) validate() error { return nil }

func (s *Server) uploadJournal(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	in, err := decode[journalBody](r, s.maxBody)
	if err != nil {
		return 0, nil, err
	}
	res, err := s.store.UploadJournal(r.Context(), c, in.Entries)
	if err != nil {
		return 0, nil, err
	}
	return nethttp.StatusOK, map[string]any{"results": res}, nil
}

// agentStatusBody is POST /v1/agent/status.
type agentStatusBody struct {
	Standalone     *bool  `json:"standalone"`
	Since          string `json:"since"`
	StandaloneFrom string `json:"standalone_from"`

	st latchkey.AgentStatus
}

func (b *agentStatusBody) validate() error {
	if b.Standalone == nil {
		return latchkey.BadField("standalone", "standalone (true or false) is required")
	}
	b.st.Standalone = *b.Standalone
	if b.Since != "" {
		t, err := parseTime("since", b.Since)
		if err != nil {
			return err
		}
		b.st.Since = t
	}
	if b.StandaloneFrom != "" {
		t, err := parseTime("standalone_from", b.StandaloneFrom)
		if err != nil {
			return err
		}
		if *b.Standalone || (!b.st.Since.IsZero() && t.After(b.st.Since)) {
			return latchkey.BadField("standalone_from", "standalone_from is the start of a standalone period that ended at since")
		}
		b.st.StandaloneFrom = t
	}
	return nil
}

func (s *Server) reportAgentStatus(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	in, err := decode[agentStatusBody](r, s.maxBody)
	if err != nil {
		return 0, nil, err
	}
	t, err := s.store.ReportAgentStatus(r.Context(), c, in.st)
	if err != nil {
		return 0, nil, err
	}
	return nethttp.StatusOK, t, nil
}

// offlineLogonBody is PUT /v1/principals/{id}/offline-logon.
type offlineLogonBody struct {
	Enabled *bool `json:"enabled"`
	underLock
}

func (b *offlineLogonBody) validate() error {
	if b.Enabled == nil {
		return latchkey.BadField("enabled", "enabled (true or false) is required")
	}
	return nil
}

func (s *Server) setOfflineLogon(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	id := r.PathValue("id")
	if err := latchkey.ValidName("id", id); err != nil {
		return 0, nil, err
	}
	in, err := decode[offlineLogonBody](r, s.maxBody)
	if err != nil {
		return 0, nil, err
	}
	if err := s.store.SetOfflineLogon(r.Context(), in.caller(c), id, *in.Enabled); err != nil {
		return 0, nil, err
	}
	return nethttp.StatusOK, map[string]any{"principal": id, "offline_logon": *in.Enabled}, nil
}
