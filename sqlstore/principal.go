package sqlstore

import (
	"context"

	"latchkey"
)

const principalCols = "id, name, role, global, disabled, created_at"

func scanPrincipal(row interface{ Scan(...any) error }) (latchkey.Principal, error) {
	var p latchkey.Principal
	var created int64
	err := row.Scan(&p.ID, &p.Name, &p.Role, &p.Global, &p.Disabled, &created)
	p.CreatedAt = fromUS(created)
	return p, err
}

// lockPrincipal reads a principal and (PostgreSQL) locks its row until the
// transaction ends: every change to a principal's sessions holds it, so
// the one-unlocked-session rule is judged on a stable set.
func (t *tx) lockPrincipal(id string) (latchkey.Principal, error) {
	p, err := scanPrincipal(t.queryRow("SELECT "+principalCols+" FROM principals WHERE id = ?"+t.s.d.forUpdate(), id))
	return p, notFound(err, "principal %s not found", id)
}

func checkPassword(field, pw string) error {
	if pw == "" || len(pw) > latchkey.MaxPasswordLen {
		return latchkey.BadField(field, "%s must be 1 to %d bytes", field, latchkey.MaxPasswordLen)
	}
	return nil
}

// CreatePrincipal adds a person.
func (s *Store) CreatePrincipal(ctx context.Context, c latchkey.Caller, p latchkey.Principal) (*latchkey.Principal, error) {
	if err := requireStaff(c); err != nil {
		return nil, err
	}
	if err := latchkey.ValidName("name", p.Name); err != nil {
		return nil, err
	}
	if !latchkey.ValidPrincipalRole(p.Role) {
		return nil, latchkey.BadField("role", "role must be admin, delegate or user")
	}
	if p.Role == latchkey.RoleAdmin && c.Role != latchkey.RoleAdmin {
		return nil, latchkey.Errorf(latchkey.EFORBIDDEN, "only an admin may create an admin")
	}
	p.ID = latchkey.NewID("prn")
	err := s.write(ctx, func(t *tx) error {
		p.CreatedAt = t.now
		if _, err := t.exec("INSERT INTO principals ("+principalCols+") VALUES (?, ?, ?, ?, ?, ?)",
			p.ID, p.Name, p.Role, p.Global, p.Disabled, us(p.CreatedAt)); err != nil {
			if s.d.uniqueViolation(err) {
				return latchkey.Errorf(latchkey.ECONFLICT, "a principal named %q exists", p.Name).With("field", "name")
			}
			return err
		}
		t.record(c.Actor(), "", "principal.create", p.ID, map[string]any{"name": p.Name, "role": p.Role, "global": p.Global, "disabled": p.Disabled})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// GetPrincipal reads a principal: staff, or the principal itself.
func (s *Store) GetPrincipal(ctx context.Context, c latchkey.Caller, id string) (*latchkey.Principal, error) {
	if !c.IsStaff() && c.PrincipalID != id {
		return nil, latchkey.Errorf(latchkey.EFORBIDDEN, "you may only read your own principal")
	}
	p, err := scanPrincipal(s.queryRow(ctx, "SELECT "+principalCols+" FROM principals WHERE id = ?", id))
	if err != nil {
		return nil, notFound(err, "principal %s not found", id)
	}
	return &p, nil
}

// ListPrincipals lists principals by id.
func (s *Store) ListPrincipals(ctx context.Context, c latchkey.Caller, page latchkey.Page) ([]latchkey.Principal, string, error) {
	if err := requireStaff(c); err != nil {
		return nil, "", err
	}
	return list(ctx, s, "SELECT "+principalCols+" FROM principals WHERE id > ?", page, scanPrincipal,
		func(p latchkey.Principal) string { return p.ID })
}

// UpdatePrincipal patches role, global and disabled.
func (s *Store) UpdatePrincipal(ctx context.Context, c latchkey.Caller, id string, u latchkey.PrincipalUpdate) (*latchkey.Principal, error) {
	if err := requireStaff(c); err != nil {
		return nil, err
	}
	if u.Role != nil && !latchkey.ValidPrincipalRole(*u.Role) {
		return nil, latchkey.BadField("role", "role must be admin, delegate or user")
	}
	var out latchkey.Principal
	err := s.write(ctx, func(t *tx) error {
		p, err := t.lockPrincipal(id)
		if err != nil {
			return err
		}
		if c.Role != latchkey.RoleAdmin && (p.Role == latchkey.RoleAdmin || (u.Role != nil && *u.Role == latchkey.RoleAdmin)) {
			return latchkey.Errorf(latchkey.EFORBIDDEN, "only an admin may change an admin or make one")
		}
		details := map[string]any{}
		if u.Role != nil {
			p.Role, details["role"] = *u.Role, *u.Role
		}
		if u.Global != nil {
			p.Global, details["global"] = *u.Global, *u.Global
		}
		if u.Disabled != nil {
			p.Disabled, details["disabled"] = *u.Disabled, *u.Disabled
		}
		if _, err := t.exec("UPDATE principals SET role = ?, global = ?, disabled = ? WHERE id = ?",
			p.Role, p.Global, p.Disabled, id); err != nil {
			return err
		}
		t.record(c.Actor(), "", "principal.update", id, details)
		out = p
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// AddIdentity gives a principal a login ID with a password.
func (s *Store) AddIdentity(ctx context.Context, c latchkey.Caller, principalID, login, password string) (*latchkey.Identity, error) {
	if err := requireStaff(c); err != nil {
		return nil, err
	}
	if !latchkey.ValidLogin(login) {
		return nil, latchkey.BadField("login", "login %q: %s", login, latchkey.LoginRule)
	}
	if err := checkPassword("password", password); err != nil {
		return nil, err
	}
	hash, err := s.hashPassword(password)
	if err != nil {
		return nil, err
	}
	verifier, err := s.hashPassword(password)
	if err != nil {
		return nil, err
	}
	var id latchkey.Identity
	err = s.write(ctx, func(t *tx) error {
		p, err := t.lockPrincipal(principalID)
		if err != nil {
			return err
		}
		if p.Role == latchkey.RoleAdmin && c.Role != latchkey.RoleAdmin {
			return latchkey.Errorf(latchkey.EFORBIDDEN, "only an admin may add an identity to an admin")
		}
		if _, err := t.exec("INSERT INTO identities (login, principal_id, password_hash, created_at, offline_verifier, offline_verifier_at) VALUES (?, ?, ?, ?, ?, ?)",
			login, principalID, hash, us(t.now), verifier, us(t.now)); err != nil {
			if s.d.uniqueViolation(err) {
				return latchkey.Errorf(latchkey.ECONFLICT, "identity %q exists", login).With("field", "login")
			}
			return err
		}
		t.record(c.Actor(), "", "identity.add", login, map[string]any{"principal": principalID})
		id = latchkey.Identity{Login: login, PrincipalID: principalID, CreatedAt: t.now}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &id, nil
}

// ChangePassword sets a new password: a user for their own identity with
// the old password, staff for any identity. It needs no edit lock.
func (s *Store) ChangePassword(ctx context.Context, c latchkey.Caller, login, oldPassword, newPassword string) error {
	if err := checkPassword("new_password", newPassword); err != nil {
		return err
	}
	if c.PrincipalID == "" {
		return latchkey.Errorf(latchkey.EFORBIDDEN, "a password is changed by a person")
	}
	var owner string
	if err := s.queryRow(ctx, "SELECT principal_id FROM identities WHERE login = ?", login).Scan(&owner); err != nil {
		return notFound(err, "identity %q not found", login)
	}
	var v verified
	if !c.IsStaff() {
		if owner != c.PrincipalID {
			return latchkey.Errorf(latchkey.EFORBIDDEN, "you may only change your own password")
		}
		var err error
		if v, err = s.verifyPassword(ctx, login, oldPassword); err != nil {
			return err
		}
	}
	hash, err := s.hashPassword(newPassword)
	if err != nil {
		return err
	}
	verifier, err := s.hashPassword(newPassword)
	if err != nil {
		return err
	}
	return s.write(ctx, func(t *tx) error {
		if !c.IsStaff() {
			if _, reason, cerr := t.credentials(v, oldPassword); cerr != nil {
				if latchkey.ErrorCode(cerr) == latchkey.EINTERNAL {
					return cerr
				}
				t.record(c.Actor(), "", "identity.password_refused", login, map[string]any{"reason": reason})
				return keep(cerr)
			}
		} else if _, err := t.lockPrincipal(owner); err != nil {
			return err
		}
		if _, err := t.exec("UPDATE identities SET password_hash = ?, failures = 0, locked_until = NULL, offline_verifier = ?, offline_verifier_at = ? WHERE login = ?",
			hash, verifier, us(t.now), login); err != nil {
			return err
		}
		t.record(c.Actor(), "", "identity.password", login, nil)
		return nil
	})
}

// list runs a keyset-paginated query whose last placeholder is the cursor
// and whose first column is the id it pages by.
func list[T any](ctx context.Context, s *Store, q string, page latchkey.Page, scan func(interface{ Scan(...any) error }) (T, error), key func(T) string, args ...any) ([]T, string, error) {
	page = page.Normalize()
	args = append(args, page.After, page.Limit+1)
	rows, err := s.query(ctx, q+" ORDER BY 1 LIMIT ?", args...)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, "", err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > page.Limit {
		out = out[:page.Limit]
		next = key(out[len(out)-1])
	}
	return out, next, nil
}
