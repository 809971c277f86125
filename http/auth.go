package http

import (
	nethttp "net/http"

	"latchkey"
)

// loginBody is POST /v1/auth/login.
type loginBody struct {
	Identity string `json:"identity"`
	Password string `json:"password"`
}

func (b *loginBody) validate() error {
	return latchkey.ValidCredentials(b.Identity, b.Password)
}

// login issues a user token for an identity and its password.
func (s *Server) login(r *nethttp.Request, _ latchkey.Caller) (int, any, error) {
	in, err := decode[loginBody](r, s.maxBody)
	if err != nil {
		return 0, nil, err
	}
	var tok *latchkey.UserToken
	err = s.throttledCheck(r, in.Identity, func() (err error) {
		tok, err = s.store.Login(r.Context(), in.Identity, in.Password)
		return err
	})
	if err != nil {
		return 0, nil, err
	}
	return nethttp.StatusOK, tok, nil
}

// logout revokes the caller's user token.
func (s *Server) logout(r *nethttp.Request, _ latchkey.Caller) (int, any, error) {
	if _, err := decode[emptyBody](r, s.maxBody); err != nil {
		return 0, nil, err
	}
	token, _ := bearerToken(r) // present: the auth gate passed
	if err := s.store.Logout(r.Context(), token); err != nil {
		return 0, nil, err
	}
	return nethttp.StatusNoContent, nil, nil
}
