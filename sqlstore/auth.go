package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"latchkey"
	"latchkey/passhash"
)

// identityRow is an identity with what the credential check needs.
type identityRow struct {
	login, principalID, hash string
	state                    latchkey.AttemptState
	hasVerifier              bool // an offline logon verifier was made
}

const identityCols = "login, principal_id, password_hash, failures, locked_until, offline_verifier <> ''"

func scanIdentity(row interface{ Scan(...any) error }) (identityRow, error) {
	var r identityRow
	var locked sql.NullInt64
	err := row.Scan(&r.login, &r.principalID, &r.hash, &r.state.Failures, &locked, &r.hasVerifier)
	r.state.LockedUntil = optTime(locked)
	return r, err
}

// verified is the result of checking a password outside any transaction
// (argon2id is slow and must not hold locks).
type verified struct {
	found       bool
	login       string
	hash        string // the hash the password was checked against
	ok          bool
	hasVerifier bool // the identity has its offline logon verifier
}

// verifyPassword checks password against login's stored hash. An unknown
// login verifies a dummy hash so both cases take the same time; a locked
// identity is not checked at all.
func (s *Store) verifyPassword(ctx context.Context, login, password string) (verified, error) {
	row, err := scanIdentity(s.queryRow(ctx, "SELECT "+identityCols+" FROM identities WHERE login = ?", login))
	if errors.Is(err, sql.ErrNoRows) {
		s.verifyHash(password, s.dummy)
		return verified{login: login}, nil
	}
	if err != nil {
		return verified{}, err
	}
	v := verified{found: true, login: login, hash: row.hash, hasVerifier: row.hasVerifier}
	if l := row.state.LockedUntil; l != nil && s.now().Before(*l) {
		return v, nil
	}
	v.ok = s.verifyHash(password, row.hash)
	return v, nil
}

func (s *Store) verifyHash(password, hash string) bool {
	s.hashes <- struct{}{}
	defer func() { <-s.hashes }()
	ok, err := passhash.Verify(password, hash)
	if err != nil {
		s.log.Error("stored password hash is malformed")
	}
	return ok
}

func (s *Store) hashPassword(password string) (string, error) {
	s.hashes <- struct{}{}
	defer func() { <-s.hashes }()
	return s.opts.Password.Hash(password)
}

// credentials applies rule 1 inside a write transaction: it locks the
// identity's principal, applies latchkey.CheckCredentials to the verified
// password and stores the failed-attempt count. It returns the principal
// on success, or the refusal and its event-26 reason.
func (t *tx) credentials(v verified, password string) (latchkey.Principal, string, error) {
	if !v.found {
		o := latchkey.CheckCredentials(latchkey.AttemptState{}, latchkey.CredentialCheck{}, t.now, t.s.opts.Attempts)
		return latchkey.Principal{}, o.Reason, o.Err
	}
	var pid string
	if err := t.queryRow("SELECT principal_id FROM identities WHERE login = ?", v.login).Scan(&pid); err != nil {
		return latchkey.Principal{}, "", notFound(err, "identity vanished")
	}
	p, err := t.lockPrincipal(pid)
	if err != nil {
		return p, "", err
	}
	row, err := scanIdentity(t.queryRow("SELECT "+identityCols+" FROM identities WHERE login = ?", v.login))
	if err != nil {
		return p, "", err
	}
	ok := v.ok
	if row.hash != v.hash { // the password changed while we hashed: check again
		ok = t.s.verifyHash(password, row.hash)
	}
	o := latchkey.CheckCredentials(row.state, latchkey.CredentialCheck{Known: true, PasswordOK: ok, Disabled: p.Disabled, Staff: p.Role.IsStaff()}, t.now, t.s.opts.Attempts)
	if o.Changed {
		if _, err := t.exec("UPDATE identities SET failures = ?, locked_until = ? WHERE login = ?",
			o.State.Failures, nullUS(o.State.LockedUntil), v.login); err != nil {
			return p, "", err
		}
	}
	if o.Err == nil {
		if _, err := t.exec("UPDATE identities SET last_login_at = ? WHERE login = ?", us(t.now), v.login); err != nil {
			return p, "", err
		}
	}
	return p, o.Reason, o.Err
}

// actorFor names who made a refused credential check in the audit log.
func actorFor(p latchkey.Principal, login string) string {
	if p.ID != "" {
		return p.ID
	}
	return "login:" + login
}

// Login checks a password and issues a user token.
func (s *Store) Login(ctx context.Context, login, password string) (*latchkey.UserToken, error) {
	if err := latchkey.ValidCredentials(login, password); err != nil {
		return nil, err
	}
	v, err := s.verifyPassword(ctx, login, password)
	if err != nil {
		return nil, err
	}
	var out latchkey.UserToken
	err = s.write(ctx, func(t *tx) error {
		p, reason, cerr := t.credentials(v, password)
		if cerr != nil {
			if latchkey.ErrorCode(cerr) == latchkey.EINTERNAL {
				return cerr
			}
			t.record(actorFor(p, login), "", latchkey.ActionAuthLoginRefused, login,
				map[string]any{"code": latchkey.ErrorCode(cerr), "reason": reason})
			return keep(cerr)
		}
		token, hash := newToken(userTokenPrefix)
		exp := t.now.Add(t.s.opts.TokenTTL)
		if _, err := t.exec("INSERT INTO tokens (hash, kind, principal_id, created_at, expires_at) VALUES (?, 'user', ?, ?, ?)",
			hash, p.ID, us(t.now), us(exp)); err != nil {
			return err
		}
		t.record(p.ID, "", latchkey.ActionAuthLogin, login, map[string]any{"expires_at": exp})
		out.Token, out.ExpiresAt = token, exp
		out.Principal.ID, out.Principal.Name, out.Principal.Role = p.ID, p.Name, p.Role
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.ensureVerifier(ctx, v, password)
	return &out, nil
}

// Logout revokes a user token; revoking an unknown or revoked one is a no-op.
// The token's locks are released and its places in queues given up.
func (s *Store) Logout(ctx context.Context, token string) error {
	return s.write(ctx, func(t *tx) error {
		var pid sql.NullString
		err := t.queryRow("SELECT principal_id FROM tokens WHERE hash = ? AND kind = 'user' AND revoked_at IS NULL",
			tokenHash(token)).Scan(&pid)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := t.exec("UPDATE tokens SET revoked_at = ? WHERE hash = ?", us(t.now), tokenHash(token)); err != nil {
			return err
		}
		t.record(pid.String, "", latchkey.ActionAuthLogout, pid.String, nil)
		return t.releaseTokenLocks(tokenHash(token), pid.String)
	})
}

// Authenticate resolves a bearer token to its caller: from the node's
// cache while it is fresh (authcache.go), else from the store.
func (s *Store) Authenticate(ctx context.Context, token string) (latchkey.Caller, error) {
	unauth := latchkey.Errorf(latchkey.EUNAUTHENTICATED, "missing, invalid or expired token")
	if !strings.HasPrefix(token, userTokenPrefix) && !strings.HasPrefix(token, terminalTokenPrefix) {
		return latchkey.Caller{}, unauth
	}
	hash := tokenHash(token)
	s.refreshAuth(ctx)
	if c, ok := s.auth.get(hash, s.now(), time.Now()); ok {
		return c, nil
	}
	gen := s.auth.begin()
	var kind string
	var pid, tid, role, pname sql.NullString
	var exp, revoked sql.NullInt64
	var disabled sql.NullBool
	err := s.queryRow(ctx, `SELECT k.kind, k.principal_id, k.terminal_id, k.expires_at, k.revoked_at, p.role, p.disabled, p.name
		FROM tokens k LEFT JOIN principals p ON p.id = k.principal_id WHERE k.hash = ?`, hash).
		Scan(&kind, &pid, &tid, &exp, &revoked, &role, &disabled, &pname)
	if errors.Is(err, sql.ErrNoRows) {
		return latchkey.Caller{}, unauth
	}
	if err != nil {
		return latchkey.Caller{}, err
	}
	e := authEntry{}
	if exp.Valid {
		e.expires = fromUS(exp.Int64)
	}
	if revoked.Valid || (exp.Valid && !s.now().Before(e.expires)) {
		return latchkey.Caller{}, unauth
	}
	if kind == "terminal" {
		e.caller = latchkey.Caller{Role: latchkey.RoleTerminal, TerminalID: tid.String}
	} else {
		if !role.Valid || disabled.Bool {
			return latchkey.Caller{}, unauth
		}
		e.caller = latchkey.Caller{Role: latchkey.Role(role.String), PrincipalID: pid.String, TokenID: hash, Name: pname.String}
	}
	s.auth.put(gen, hash, e)
	return e.caller, nil
}
