package latchkey

import (
	"context"
	"slices"
	"time"
)

// GroupSet is a named set of privileged local groups.
type GroupSet struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	Groups     []string `json:"groups"`
	MaxMinutes int      `json:"max_minutes"`
	Eligible   []string `json:"eligible"`
	Approval   bool     `json:"approval"`
	// Approvers decide its access requests (empty: any admin or delegate
	// but the requester).
	Approvers []string `json:"approvers"`
	// Sites limits the set to terminals of these sites (empty: every
	// site): being eligible at one branch gives nothing at another.
	Sites     []string  `json:"sites"`
	CreatedAt time.Time `json:"created_at"`
}

// AllowsSite reports whether the set may be checked out on a terminal of
// site.
func (s GroupSet) AllowsSite(site string) bool {
	return len(s.Sites) == 0 || slices.Contains(s.Sites, site)
}

// Validate checks a new group set and fills in its default maximum.
func (s GroupSet) Validate() (GroupSet, error) {
	for _, p := range s.Eligible {
		if err := ValidName("eligible", p); err != nil {
			return s, err
		}
	}
	if err := ValidName("name", s.Name); err != nil {
		return s, err
	}
	if len(s.Groups) == 0 || len(s.Groups) > MaxGroupSetGroups {
		return s, BadField("groups", "groups must list 1 to %d local groups", MaxGroupSetGroups)
	}
	seen := map[string]bool{}
	for _, g := range s.Groups {
		if !ValidGroupName(g) {
			return s, BadField("groups", "group %q: %s", g, GroupNameRule)
		}
		if seen[g] {
			return s, BadField("groups", "group %q is listed twice", g)
		}
		seen[g] = true
	}
	if s.MaxMinutes == 0 {
		s.MaxMinutes = DefaultSetMinutes
	}
	if s.MaxMinutes < 1 || s.MaxMinutes > MaxGroupSetMinutes {
		return s, BadField("max_minutes", "max_minutes must be 1 to %d", MaxGroupSetMinutes)
	}
	if len(s.Approvers) > MaxGroupSetApprovers {
		return s, BadField("approvers", "approvers may list at most %d people", MaxGroupSetApprovers)
	}
	for i, p := range s.Approvers {
		if err := ValidName("approvers", p); err != nil {
			return s, err
		}
		if slices.Contains(s.Approvers[:i], p) {
			return s, BadField("approvers", "approver %s is listed twice", p)
		}
	}
	if s.Approvers == nil {
		s.Approvers = []string{}
	}
	if s.Eligible == nil {
		s.Eligible = []string{}
	}
	if len(s.Sites) > MaxGroupSetSites {
		return s, BadField("sites", "sites may list at most %d sites", MaxGroupSetSites)
	}
	for i, site := range s.Sites {
		if err := ValidName("sites", site); err != nil {
			return s, err
		}
		if slices.Contains(s.Sites[:i], site) {
			return s, BadField("sites", "site %q is listed twice", site)
		}
	}
	if s.Sites == nil {
		s.Sites = []string{}
	}
	return s, nil
}

// GroupSetService keeps group sets. Creating one needs an admin or a
// delegate; anyone with a user token may read them.
type GroupSetService interface {
	// CreateGroupSet errors: bad_request (also for an eligible ID that is
	// not a principal), forbidden, conflict (the name is taken).
	CreateGroupSet(ctx context.Context, c Caller, s GroupSet) (*GroupSet, error)
	GetGroupSet(ctx context.Context, c Caller, id string) (*GroupSet, error)
	ListGroupSets(ctx context.Context, c Caller, page Page) ([]GroupSet, string, error)
}
