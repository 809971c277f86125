package http

import (
	nethttp "net/http"

	"latchkey"
)

// configBody is PUT /v1/config/{domain}: the items to set (null removes
// a key), the lock token for a managed domain, the expected version, and
// replace to drop the keys not given.
type configBody struct {
	Items     map[string]*string `json:"items"`
	LockToken uint64             `json:"lock_token"`
	IfVersion *int64             `json:"if_version"`
	Replace   bool               `json:"replace"`

	w latchkey.ConfigWrite
}

func (b *configBody) validate() error {
	b.w = latchkey.ConfigWrite{Items: b.Items, Replace: b.Replace, LockToken: b.LockToken, IfVersion: b.IfVersion}
	return b.w.Validate()
}

func configDomain(r *nethttp.Request) (string, error) {
	d := r.PathValue("domain")
	return d, latchkey.ValidConfigDomain(d)
}

// getConfig is GET /v1/config/{domain}: {domain, version, items}.
func (s *Server) getConfig(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	d, err := configDomain(r)
	if err != nil {
		return 0, nil, err
	}
	cfg, err := s.store.GetConfig(r.Context(), c, d)
	if err != nil {
		return 0, nil, err
	}
	return nethttp.StatusOK, cfg, nil
}

// putConfig is PUT /v1/config/{domain}: all items or none, → {version}.
func (s *Server) putConfig(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	d, err := configDomain(r)
	if err != nil {
		return 0, nil, err
	}
	in, err := decode[configBody](r, s.maxBody)
	if err != nil {
		return 0, nil, err
	}
	v, err := s.store.PutConfig(r.Context(), c, d, in.w)
	if err != nil {
		return 0, nil, err
	}
	return nethttp.StatusOK, map[string]any{"domain": d, "version": v}, nil
}
