package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"maps"
	"slices"
	"strings"

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

// CreatePrincipal adds a person.
func (s *Store) CreatePrincipal(ctx context.Context, c latchkey.Caller, p latchkey.Principal) (*latchkey.Principal, error) {
	if err := latchkey.CanManagePrincipals(c); err != nil {
		return nil, err
	}
	if err := latchkey.ValidName("name", p.Name); err != nil {
		return nil, err
	}
	if !latchkey.ValidPrincipalRole(p.Role) {
		return nil, latchkey.BadField("role", "role must be admin, delegate or user")
	}
	if err := latchkey.CanCreatePrincipal(c, p.Role); err != nil {
		return nil, err
	}
	p.ID = latchkey.NewID("prn")
	err := s.write(ctx, func(t *tx) error {
		if err := t.checkManaged(latchkey.LockAdminUsers, c); err != nil {
			return err
		}
		p.CreatedAt = t.now
		if _, err := t.exec("INSERT INTO principals ("+principalCols+") VALUES (?, ?, ?, ?, ?, ?)",
			p.ID, p.Name, p.Role, p.Global, p.Disabled, us(p.CreatedAt)); err != nil {
			if s.d.uniqueViolation(err) {
				return latchkey.Errorf(latchkey.ECONFLICT, "a principal named %q exists", p.Name).With("field", "name")
			}
			return err
		}
		t.record(c.Actor(), "", latchkey.ActionPrincipalCreate, p.ID, map[string]any{"name": p.Name, "role": p.Role, "global": p.Global, "disabled": p.Disabled})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// GetPrincipal reads a principal: staff, or the principal itself.
func (s *Store) GetPrincipal(ctx context.Context, c latchkey.Caller, id string) (*latchkey.Principal, error) {
	if err := latchkey.CanReadPrincipal(c, id); err != nil {
		return nil, err
	}
	p, err := scanPrincipal(s.queryRow(ctx, "SELECT "+principalCols+" FROM principals WHERE id = ?", id))
	if err != nil {
		return nil, notFound(err, "principal %s not found", id)
	}
	return &p, nil
}

// ListPrincipals lists principals by id.
func (s *Store) ListPrincipals(ctx context.Context, c latchkey.Caller, page latchkey.Page) ([]latchkey.Principal, string, error) {
	if err := latchkey.CanManagePrincipals(c); err != nil {
		return nil, "", err
	}
	return list(ctx, s, "SELECT "+principalCols+" FROM principals WHERE id > ?", page, scanPrincipal,
		func(p latchkey.Principal) string { return p.ID })
}

// UpdatePrincipal patches role, global and disabled.
func (s *Store) UpdatePrincipal(ctx context.Context, c latchkey.Caller, id string, u latchkey.PrincipalUpdate) (*latchkey.Principal, error) {
	if err := latchkey.CanManagePrincipals(c); err != nil {
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
		if err := latchkey.CanUpdatePrincipal(c, p.Role, u.Role); err != nil {
			return err
		}
		if err := t.checkManaged(latchkey.LockAdminUsers, c); err != nil {
			return err
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
		t.record(c.Actor(), "", latchkey.ActionPrincipalUpdate, id, details)
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
	if err := latchkey.CanManagePrincipals(c); err != nil {
		return nil, err
	}
	if !latchkey.ValidLogin(login) {
		return nil, latchkey.BadField("login", "login %q: %s", login, latchkey.LoginRule)
	}
	if err := latchkey.CheckNewPassword("password", password); err != nil {
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
		if err := latchkey.CanAddIdentity(c, p.Role); err != nil {
			return err
		}
		if err := t.checkManaged(latchkey.LockAdminUsers, c); err != nil {
			return err
		}
		if _, err := t.exec("INSERT INTO identities (login, principal_id, password_hash, created_at, offline_verifier, offline_verifier_at) VALUES (?, ?, ?, ?, ?, ?)",
			login, principalID, hash, us(t.now), verifier, us(t.now)); err != nil {
			if s.d.uniqueViolation(err) {
				return latchkey.Errorf(latchkey.ECONFLICT, "identity %q exists", login).With("field", "login")
			}
			return err
		}
		t.record(c.Actor(), "", latchkey.ActionIdentityAdd, login, map[string]any{"principal": principalID})
		id = latchkey.Identity{Login: login, PrincipalID: principalID, CreatedAt: t.now}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &id, nil
}

// ChangePassword sets a new password under latchkey.CanSetPassword:
// anyone for their own identity with the old password, staff for people
// below them without it. It needs no edit lock. The owner's other user
// tokens are revoked in the same transaction (the caller's own token
// stays when it changes its own password).
func (s *Store) ChangePassword(ctx context.Context, c latchkey.Caller, login, oldPassword, newPassword string) error {
	if err := latchkey.CheckNewPassword("new_password", newPassword); err != nil {
		return err
	}
	if c.PrincipalID == "" {
		_, err := latchkey.CanSetPassword(c, latchkey.PasswordChange{})
		return err
	}
	var ch latchkey.PasswordChange
	err := s.queryRow(ctx, "SELECT i.principal_id, p.role FROM identities i JOIN principals p ON p.id = i.principal_id WHERE i.login = ?", login).
		Scan(&ch.OwnerID, &ch.OwnerRole)
	if errors.Is(err, sql.ErrNoRows) && !c.IsStaff() {
		// No telling a missing login from someone else's: the same refusal.
		_, err := latchkey.CanSetPassword(c, latchkey.PasswordChange{})
		return err
	}
	if err != nil {
		return notFound(err, "identity %q not found", login)
	}
	needOld, err := latchkey.CanSetPassword(c, ch)
	if err != nil {
		return err
	}
	var v verified
	if needOld {
		if oldPassword == "" {
			return latchkey.BadField("old_password", "old_password is required to change your own password")
		}
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
		p, err := t.lockPrincipal(ch.OwnerID)
		if err != nil {
			return err
		}
		// The role may have changed since it was read: judge again on the
		// locked row.
		if _, err := latchkey.CanSetPassword(c, latchkey.PasswordChange{OwnerID: p.ID, OwnerRole: p.Role}); err != nil {
			return err
		}
		if needOld {
			if _, reason, cerr := t.credentials(v, oldPassword); cerr != nil {
				if latchkey.ErrorCode(cerr) == latchkey.EINTERNAL {
					return cerr
				}
				t.record(c.Actor(), "", latchkey.ActionIdentityPasswordRefused, login, map[string]any{"reason": reason})
				return keep(cerr)
			}
		}
		res, err := t.exec("UPDATE identities SET password_hash = ?, failures = 0, locked_until = NULL, offline_verifier = ?, offline_verifier_at = ? WHERE login = ? AND principal_id = ?",
			hash, verifier, us(t.now), login, p.ID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return latchkey.Errorf(latchkey.ENOTFOUND, "identity %q not found", login)
		}
		except := ""
		if ch.Own(c) {
			except = c.TokenID
		}
		revoked, err := t.revokeUserTokens(p.ID, except, c.Actor())
		if err != nil {
			return err
		}
		t.record(c.Actor(), "", latchkey.ActionIdentityPassword, login, map[string]any{"reset": !needOld, "tokens_revoked": revoked})
		return nil
	})
}

// SearchPrincipals implements latchkey.PrincipalService: names and login
// IDs by prefix (latchkey.SearchPrefix), each through its index, merged
// by name.
func (s *Store) SearchPrincipals(ctx context.Context, c latchkey.Caller, q string) ([]latchkey.Principal, error) {
	if err := latchkey.CanManagePrincipals(c); err != nil {
		return nil, err
	}
	b, err := latchkey.SearchPrefix(q)
	if err != nil {
		return nil, err
	}
	n, l := s.d.nameKey(), s.d.loginKey()
	found := map[string]latchkey.Principal{}
	for _, q := range []struct {
		sql    string
		lo, hi string
	}{
		{"SELECT " + principalCols + " FROM principals WHERE " + n + " >= ? AND " + n + " < ? ORDER BY " + n + " LIMIT ?", b.NameLo, b.NameHi},
		{"SELECT " + principalCols + " FROM principals WHERE id IN (SELECT principal_id FROM identities WHERE " + l + " >= ? AND " + l + " < ? ORDER BY " + l + " LIMIT ?)", b.LoginLo, b.LoginHi},
	} {
		rows, err := s.query(ctx, q.sql, q.lo, q.hi, latchkey.MaxSearchResults)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			p, err := scanPrincipal(rows)
			if err != nil {
				rows.Close()
				return nil, err
			}
			found[p.ID] = p
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	out := slices.Collect(maps.Values(found))
	slices.SortFunc(out, func(a, b latchkey.Principal) int {
		return cmp.Or(strings.Compare(latchkey.FoldASCII(a.Name), latchkey.FoldASCII(b.Name)), strings.Compare(a.ID, b.ID))
	})
	return out[:min(len(out), latchkey.MaxSearchResults)], nil
}
