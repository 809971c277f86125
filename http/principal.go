package http

import (
	"context"
	nethttp "net/http"

	"latchkey"
)

// principalBody is POST /v1/principals.
type principalBody struct {
	Name     string        `json:"name"`
	Role     latchkey.Role `json:"role"`
	Global   bool          `json:"global"`
	Disabled bool          `json:"disabled"`
	underLock
}

// underLock is the lock_token of a body whose operation an admin dialog's
// edit lock manages (latchkey.CheckManaged): the grant it is made under.
type underLock struct {
	LockToken uint64 `json:"lock_token"`
}

// caller is c acting under the body's grant.
func (u underLock) caller(c latchkey.Caller) latchkey.Caller {
	c.LockToken = u.LockToken
	return c
}

func (b *principalBody) validate() error {
	if err := latchkey.ValidName("name", b.Name); err != nil {
		return err
	}
	return checkRole(b.Role)
}

func checkRole(r latchkey.Role) error {
	if r == "" {
		return latchkey.BadField("role", "role is required")
	}
	if !latchkey.ValidPrincipalRole(r) {
		return latchkey.BadField("role", `role must be "admin", "delegate" or "user"`)
	}
	return nil
}

// principalPatch is PATCH /v1/principals/{id}: absent fields stay.
type principalPatch struct {
	latchkey.PrincipalUpdate
	underLock
}

func (b *principalPatch) validate() error {
	if b.Role != nil {
		return checkRole(*b.Role)
	}
	return nil
}

// identityBody is POST /v1/principals/{id}/identities.
type identityBody struct {
	Login    string `json:"login"`
	Password string `json:"password"`
	underLock
}

func (b *identityBody) validate() error {
	if !latchkey.ValidLogin(b.Login) {
		return latchkey.BadField("login", "login %q: %s", b.Login, latchkey.LoginRule)
	}
	return latchkey.ValidPassword("password", b.Password)
}

// passwordBody is POST /v1/identities/{login}/password; old_password may
// be left out by staff.
type passwordBody struct {
	OldPassword string `json:"old_password"`
	NewPassword string `json:"new_password"`
}

func (b *passwordBody) validate() error {
	if b.OldPassword != "" {
		if err := latchkey.ValidPassword("old_password", b.OldPassword); err != nil {
			return err
		}
	}
	return latchkey.ValidPassword("new_password", b.NewPassword)
}

func (s *Server) createPrincipal(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	in, err := decode[principalBody](r, s.maxBody)
	if err != nil {
		return 0, nil, err
	}
	p, err := s.store.CreatePrincipal(r.Context(), in.caller(c), latchkey.Principal{
		Name: in.Name, Role: in.Role, Global: in.Global, Disabled: in.Disabled,
	})
	if err != nil {
		return 0, nil, err
	}
	return nethttp.StatusCreated, p, nil
}

func (s *Server) listPrincipals(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	return listed(r, func(ctx context.Context, p latchkey.Page) ([]latchkey.Principal, string, error) {
		return s.store.ListPrincipals(ctx, c, p)
	})
}

func (s *Server) getPrincipal(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	p, err := s.store.GetPrincipal(r.Context(), c, r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return nethttp.StatusOK, p, nil
}

func (s *Server) updatePrincipal(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	in, err := decode[principalPatch](r, s.maxBody)
	if err != nil {
		return 0, nil, err
	}
	p, err := s.store.UpdatePrincipal(r.Context(), in.caller(c), r.PathValue("id"), in.PrincipalUpdate)
	if err != nil {
		return 0, nil, err
	}
	return nethttp.StatusOK, p, nil
}

func (s *Server) addIdentity(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	in, err := decode[identityBody](r, s.maxBody)
	if err != nil {
		return 0, nil, err
	}
	id, err := s.store.AddIdentity(r.Context(), in.caller(c), r.PathValue("id"), in.Login, in.Password)
	if err != nil {
		return 0, nil, err
	}
	return nethttp.StatusCreated, id, nil
}

func (s *Server) changePassword(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	in, err := decode[passwordBody](r, s.maxBody)
	if err != nil {
		return 0, nil, err
	}
	login := r.PathValue("login")
	change := func() error { return s.store.ChangePassword(r.Context(), c, login, in.OldPassword, in.NewPassword) }
	if in.OldPassword != "" || !c.IsStaff() { // the old password is checked: throttled like a logon
		err = s.throttledCheck(r, login, change)
	} else { // a reset by staff checks no password
		err = change()
	}
	if err != nil {
		return 0, nil, err
	}
	return nethttp.StatusNoContent, nil, nil
}

func (s *Server) revokeTokens(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	if _, err := decode[emptyBody](r, s.maxBody); err != nil {
		return 0, nil, err
	}
	if err := s.store.RevokeTokens(r.Context(), c, r.PathValue("id")); err != nil {
		return 0, nil, err
	}
	return nethttp.StatusNoContent, nil, nil
}
