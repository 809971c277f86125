package http

import (
	nethttp "net/http"

	"latchkey"
)

// sessionLoginBody is POST /v1/terminals/{id}/sessions.
type sessionLoginBody struct {
	Identity string `json:"identity"`
	Password string `json:"password"`
	Force    bool   `json:"force"`
	TimeSent string `json:"time_sent"`

	req latchkey.LoginRequest // filled by validate
}

func (b *sessionLoginBody) validate() error {
	t, terr := parseTime("time_sent", b.TimeSent)
	b.req = latchkey.LoginRequest{Identity: b.Identity, Password: b.Password, Force: b.Force, TimeSent: t}
	return validateTimed(b.req, terr)
}

// validateTimed runs a request's Validate, whose time_sent is zero when
// it did not parse (terr): the request's own rules, in their order, with
// the parse error standing for the time_sent one.
func validateTimed(r interface{ Validate() error }, terr error) error {
	err := r.Validate()
	if terr != nil && (err == nil || latchkey.ErrorDetails(err)["field"] == "time_sent") {
		return terr
	}
	return err
}

// lockBody is POST /v1/sessions/{id}/lock.
type lockBody struct {
	TimeSent      string              `json:"time_sent"`
	Reason        latchkey.LockReason `json:"reason"`
	InTransaction bool                `json:"in_transaction"`

	req latchkey.LockRequest // filled by validate
}

func (b *lockBody) validate() error {
	t, terr := parseTime("time_sent", b.TimeSent)
	b.req = latchkey.LockRequest{TimeSent: t, Reason: b.Reason, InTransaction: b.InTransaction}
	return validateTimed(b.req, terr)
}

// unlockBody is POST /v1/sessions/{id}/unlock.
type unlockBody struct {
	Identity string `json:"identity"`
	Password string `json:"password"`
	Force    bool   `json:"force"`
	TimeSent string `json:"time_sent"`

	req latchkey.UnlockRequest // filled by validate
}

func (b *unlockBody) validate() error {
	t, terr := parseTime("time_sent", b.TimeSent)
	b.req = latchkey.UnlockRequest{Identity: b.Identity, Password: b.Password, Force: b.Force, TimeSent: t}
	return validateTimed(b.req, terr)
}

func (s *Server) startSession(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	in, err := decode[sessionLoginBody](r, s.maxBody)
	if err != nil {
		return 0, nil, err
	}
	var res *latchkey.LoginResult
	err = s.throttledCheck(r, in.Identity, func() (err error) {
		res, err = s.store.StartSession(r.Context(), c, r.PathValue("id"), in.req)
		return err
	})
	if err != nil {
		return 0, nil, err
	}
	if res.Failed == nil {
		res.Failed = []string{}
	}
	return nethttp.StatusCreated, res, nil
}

func (s *Server) getSession(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	return sessionAnswer(s.store.GetSession(r.Context(), c, r.PathValue("id")))
}

func (s *Server) lockSession(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	in, err := decode[lockBody](r, s.maxBody)
	if err != nil {
		return 0, nil, err
	}
	return sessionAnswer(s.store.LockSession(r.Context(), c, r.PathValue("id"), in.req))
}

func (s *Server) unlockSession(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	in, err := decode[unlockBody](r, s.maxBody)
	if err != nil {
		return 0, nil, err
	}
	var sess *latchkey.Session
	err = s.throttledCheck(r, in.Identity, func() (err error) {
		sess, err = s.store.UnlockSession(r.Context(), c, r.PathValue("id"), in.req)
		return err
	})
	return sessionAnswer(sess, err)
}

func (s *Server) touchSession(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	if _, err := decode[emptyBody](r, s.maxBody); err != nil {
		return 0, nil, err
	}
	return sessionAnswer(s.store.TouchSession(r.Context(), c, r.PathValue("id")))
}

func (s *Server) endSession(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	if _, err := decode[emptyBody](r, s.maxBody); err != nil {
		return 0, nil, err
	}
	return sessionAnswer(s.store.EndSession(r.Context(), c, r.PathValue("id")))
}

// sessionAnswer answers 200 with the session object itself.
func sessionAnswer(sess *latchkey.Session, err error) (int, any, error) {
	if err != nil {
		return 0, nil, err
	}
	return nethttp.StatusOK, sess, nil
}

// listPrincipalSessions is GET /v1/principals/{id}/sessions?status=.
func (s *Server) listPrincipalSessions(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	page, err := pageQuery(r)
	if err != nil {
		return 0, nil, err
	}
	status := latchkey.SessionStatus(r.URL.Query().Get("status"))
	switch status {
	case "", latchkey.SessionActive, latchkey.SessionFailed, latchkey.SessionEnded, latchkey.SessionExpired:
	default:
		return 0, nil, latchkey.BadField("status", "status must be active, failed, ended or expired")
	}
	items, next, err := s.store.ListPrincipalSessions(r.Context(), c, r.PathValue("id"), status, page)
	if err != nil {
		return 0, nil, err
	}
	return nethttp.StatusOK, listOf(items, next), nil
}
