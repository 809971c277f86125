package http

import (
	"context"
	nethttp "net/http"

	"latchkey"
)

// siteBody is POST /v1/sites: absent settings take the API's defaults
// (latchkey.DefaultSite).
type siteBody latchkey.SiteCreate

func (b *siteBody) validate() error { return latchkey.SiteCreate(*b).Validate() }

// sitePatch is PATCH /v1/sites/{id}: absent fields stay. A change of the
// signup settings is managed by the admin/signup lock.
type sitePatch struct {
	latchkey.SiteUpdate
	underLock
}

func (b *sitePatch) validate() error { return b.SiteUpdate.Validate() }

func (s *Server) createSite(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	in, err := decode[siteBody](r, s.maxBody)
	if err != nil {
		return 0, nil, err
	}
	site, err := s.store.CreateSite(r.Context(), c, latchkey.SiteCreate(in).Site())
	if err != nil {
		return 0, nil, err
	}
	return nethttp.StatusCreated, site, nil
}

func (s *Server) listSites(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	return listed(r, func(ctx context.Context, p latchkey.Page) ([]latchkey.Site, string, error) {
		return s.store.ListSites(ctx, c, p)
	})
}

func (s *Server) getSite(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	site, err := s.store.GetSite(r.Context(), c, r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return nethttp.StatusOK, site, nil
}

func (s *Server) updateSite(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	in, err := decode[sitePatch](r, s.maxBody)
	if err != nil {
		return 0, nil, err
	}
	site, err := s.store.UpdateSite(r.Context(), in.caller(c), r.PathValue("id"), in.SiteUpdate)
	if err != nil {
		return 0, nil, err
	}
	return nethttp.StatusOK, site, nil
}
