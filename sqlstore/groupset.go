package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"latchkey"
)

var _ latchkey.GroupSetService = (*Store)(nil)

const groupSetCols = "id, name, groups_json, max_minutes, eligible, approval, created_at, sites, approvers"

func scanGroupSet(row interface{ Scan(...any) error }) (latchkey.GroupSet, error) {
	var x latchkey.GroupSet
	var groups, eligible, sites, approvers string
	var created int64
	if err := row.Scan(&x.ID, &x.Name, &groups, &x.MaxMinutes, &eligible, &x.Approval, &created, &sites, &approvers); err != nil {
		return x, err
	}
	x.CreatedAt = fromUS(created)
	if err := json.Unmarshal([]byte(groups), &x.Groups); err != nil {
		return x, fmt.Errorf("group set %s: groups: %w", x.ID, err)
	}
	if err := json.Unmarshal([]byte(eligible), &x.Eligible); err != nil {
		return x, fmt.Errorf("group set %s: eligible: %w", x.ID, err)
	}
	if err := json.Unmarshal([]byte(sites), &x.Sites); err != nil {
		return x, fmt.Errorf("group set %s: sites: %w", x.ID, err)
	}
	if err := json.Unmarshal([]byte(approvers), &x.Approvers); err != nil {
		return x, fmt.Errorf("group set %s: approvers: %w", x.ID, err)
	}
	return x, nil
}

// CreateGroupSet adds a group set (staff). Every eligible ID must name a
// principal, every site ID a site.
func (s *Store) CreateGroupSet(ctx context.Context, c latchkey.Caller, x latchkey.GroupSet) (*latchkey.GroupSet, error) {
	if err := latchkey.CanManageGroupSets(c); err != nil {
		return nil, err
	}
	x, err := x.Validate()
	if err != nil {
		return nil, err
	}
	x.ID = latchkey.NewID("gs")
	groups, _ := json.Marshal(x.Groups) // strings only: cannot fail
	eligible, _ := json.Marshal(x.Eligible)
	sites, _ := json.Marshal(x.Sites)
	approvers, _ := json.Marshal(x.Approvers)
	err = s.write(ctx, func(t *tx) error {
		for field, ps := range map[string][]string{"eligible": x.Eligible, "approvers": x.Approvers} {
			for _, p := range ps {
				var n int
				if err := t.queryRow("SELECT COUNT(*) FROM principals WHERE id = ?", p).Scan(&n); err != nil {
					return err
				}
				if n == 0 {
					return latchkey.BadField(field, "no principal %s", p).With("principal", p)
				}
			}
		}
		for _, site := range x.Sites {
			if _, err := t.loadSite(site); err != nil {
				if latchkey.ErrorCode(err) == latchkey.ENOTFOUND {
					return latchkey.BadField("sites", "no site %s", site).With("site", site)
				}
				return err
			}
		}
		x.CreatedAt = t.now
		if _, err := t.exec("INSERT INTO groupsets ("+groupSetCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
			x.ID, x.Name, string(groups), x.MaxMinutes, string(eligible), x.Approval, us(x.CreatedAt), string(sites), string(approvers)); err != nil {
			if s.d.uniqueViolation(err) {
				return latchkey.Errorf(latchkey.ECONFLICT, "a group set named %q exists", x.Name).With("field", "name")
			}
			return err
		}
		t.record(c.Actor(), "", latchkey.ActionGroupSetCreate, x.ID, map[string]any{"name": x.Name, "groups": x.Groups,
			"max_minutes": x.MaxMinutes, "eligible": x.Eligible, "sites": x.Sites, "approval": x.Approval, "approvers": x.Approvers})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &x, nil
}

// GetGroupSet reads a group set (people).
func (s *Store) GetGroupSet(ctx context.Context, c latchkey.Caller, id string) (*latchkey.GroupSet, error) {
	if err := latchkey.CanReadGroupSets(c); err != nil {
		return nil, err
	}
	x, err := scanGroupSet(s.queryRow(ctx, "SELECT "+groupSetCols+" FROM groupsets WHERE id = ?", id))
	if err != nil {
		return nil, notFound(err, "group set %s not found", id)
	}
	return &x, nil
}

// ListGroupSets lists group sets by ID (people).
func (s *Store) ListGroupSets(ctx context.Context, c latchkey.Caller, page latchkey.Page) ([]latchkey.GroupSet, string, error) {
	if err := latchkey.CanReadGroupSets(c); err != nil {
		return nil, "", err
	}
	return list(ctx, s, "SELECT "+groupSetCols+" FROM groupsets WHERE id > ?", page, scanGroupSet,
		func(x latchkey.GroupSet) string { return x.ID })
}

// groupsAt lists the local groups of the group sets that may be checked
// out at site, sorted: what a terminal's agent there may grant.
func (t *tx) groupsAt(site string) ([]string, error) {
	rows, err := t.query("SELECT " + groupSetCols + " FROM groupsets")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	seen := map[string]bool{}
	out := []string{}
	for rows.Next() {
		x, err := scanGroupSet(rows)
		if err != nil {
			return nil, err
		}
		if !x.AllowsSite(site) {
			continue
		}
		for _, g := range x.Groups {
			if !seen[g] {
				seen[g] = true
				out = append(out, g)
			}
		}
	}
	slices.Sort(out)
	return out, rows.Err()
}
