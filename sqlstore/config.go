package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"maps"
	"slices"

	"latchkey"
)

var _ latchkey.ConfigService = (*Store)(nil)

// requireConfigCaller checks the caller and the domain: staff, and for
// a write of an admin-only domain, an admin.
func (s *Store) requireConfigCaller(c latchkey.Caller, domain string, write bool) error {
	if err := latchkey.CanUseConfig(c, domain, write, s.opts.Config.AdminOnly[domain]); err != nil {
		return err
	}
	return latchkey.ValidConfigDomain(domain)
}

// GetConfig reads a domain: its version and items (version 0 and no items
// for a domain never written).
func (s *Store) GetConfig(ctx context.Context, c latchkey.Caller, domain string) (*latchkey.ConfigDomain, error) {
	if err := s.requireConfigCaller(c, domain, false); err != nil {
		return nil, err
	}
	// One statement: the version and the items are read from the same
	// snapshot, so a concurrent write is seen whole or not at all.
	rows, err := s.query(ctx, `SELECT d.version, i.key, i.value FROM config_domains d
		LEFT JOIN config_items i ON i.domain = d.domain WHERE d.domain = ?`, domain)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := &latchkey.ConfigDomain{Domain: domain, Items: map[string]string{}}
	for rows.Next() {
		var k, v sql.NullString
		if err := rows.Scan(&out.Version, &k, &v); err != nil {
			return nil, err
		}
		if k.Valid {
			out.Items[k.String] = v.String
		}
	}
	return out, rows.Err()
}

// PutConfig commits a write of a domain: the managing lock's fence is
// checked, the items changed and the version bumped in one transaction.
func (s *Store) PutConfig(ctx context.Context, c latchkey.Caller, domain string, w latchkey.ConfigWrite) (int64, error) {
	if err := s.requireConfigCaller(c, domain, true); err != nil {
		return 0, err
	}
	if err := w.Validate(); err != nil {
		return 0, err
	}
	var version int64
	err := s.write(ctx, func(t *tx) error {
		g := latchkey.ConfigGuard{LockName: s.opts.Config.Managed[domain], TokenID: c.TokenID}
		if g.LockName != "" {
			// The lock row is locked for the rest of the transaction: a
			// force or a release waits until this write has committed,
			// so the write is made under a grant that was current.
			old, err := t.loadLock(g.LockName)
			if err != nil {
				return err
			}
			var ch []latchkey.LockChange
			g.Lock, ch = latchkey.SettleLock(old, t.now)
			if err := t.saveLock(old, g.Lock); err != nil {
				return err
			}
			t.recordLock("system", g.LockName, ch)
		}
		cur, err := t.loadConfig(domain)
		if err != nil {
			return err
		}
		next, err := latchkey.DecideConfigWrite(cur, w, g, t.now)
		if err != nil {
			d := map[string]any{"code": latchkey.ErrorCode(err), "keys": slices.Sorted(maps.Keys(w.Items))}
			if g.LockName != "" {
				d["lock"], d["token"] = g.LockName, w.LockToken
			}
			t.record(c.Actor(), "", latchkey.ActionConfigWriteRefused, domain, d)
			return keep(err) // the settled lock and the refusal's record stand
		}
		if err := t.saveConfig(cur, next); err != nil {
			return err
		}
		d := map[string]any{"version": next.Version, "keys": slices.Sorted(maps.Keys(w.Items)), "replace": w.Replace}
		if g.LockName != "" {
			d["lock"], d["token"] = g.LockName, w.LockToken
		}
		t.record(c.Actor(), "", latchkey.ActionConfigWrite, domain, d)
		version = next.Version
		return nil
	})
	return version, err
}

// loadConfig reads a domain inside a write, locking its row so that
// writes of one domain follow one another (the version check holds).
func (t *tx) loadConfig(domain string) (latchkey.ConfigDomain, error) {
	d := latchkey.ConfigDomain{Domain: domain, Items: map[string]string{}}
	if _, err := t.exec("INSERT INTO config_domains (domain, version) VALUES (?, 0) ON CONFLICT (domain) DO NOTHING", domain); err != nil {
		return d, err
	}
	if err := t.queryRow("SELECT version FROM config_domains WHERE domain = ?"+t.s.d.forUpdate(), domain).Scan(&d.Version); err != nil {
		return d, err
	}
	rows, err := t.query("SELECT key, value FROM config_items WHERE domain = ?", domain)
	if err != nil {
		return d, err
	}
	defer rows.Close()
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return d, err
		}
		d.Items[k] = v
	}
	return d, rows.Err()
}

// saveConfig writes the items that changed from cur to next and the new
// version.
func (t *tx) saveConfig(cur, next latchkey.ConfigDomain) error {
	for k, v := range next.Items {
		old, ok := cur.Items[k]
		switch {
		case !ok:
			if _, err := t.exec("INSERT INTO config_items (domain, key, value) VALUES (?, ?, ?)", next.Domain, k, v); err != nil {
				return err
			}
		case old != v:
			if _, err := t.exec("UPDATE config_items SET value = ? WHERE domain = ? AND key = ?", v, next.Domain, k); err != nil {
				return err
			}
		}
	}
	for k := range cur.Items {
		if _, ok := next.Items[k]; !ok {
			if _, err := t.exec("DELETE FROM config_items WHERE domain = ? AND key = ?", next.Domain, k); err != nil {
				return err
			}
		}
	}
	res, err := t.exec("UPDATE config_domains SET version = ? WHERE domain = ? AND version = ?", next.Version, next.Domain, cur.Version)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return errors.Join(err, errors.New("config version moved under a locked row"))
	}
	return nil
}
