package apitest_test

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"latchkey"
	"latchkey/client"
	"latchkey/sqlstore/sqlstoretest"
)

// Group sets through the API: staff create them (audited), people read
// them, and bad sets are refused without a trace.
func TestGroupSets(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 0)
		ctx := context.Background()
		set, err := w.admin.CreateGroupSet(ctx, latchkey.GroupSet{Name: "admin tools", Groups: []string{"wheel", "docker"}, Eligible: []string{w.alice.ID}})
		if err != nil || set.ID == "" || set.MaxMinutes != latchkey.DefaultSetMinutes || !slices.Equal(set.Groups, []string{"wheel", "docker"}) {
			t.Fatalf("create: %+v, %v; want the set with the default maximum", set, err)
		}
		alice := w.userClient("alice")
		got, err := alice.GetGroupSet(ctx, set.ID)
		if err != nil || got.Name != "admin tools" || !slices.Equal(got.Eligible, []string{w.alice.ID}) || !got.CreatedAt.Equal(set.CreatedAt) {
			t.Fatalf("a user reads it: %+v, %v", got, err)
		}
		if _, err := alice.CreateGroupSet(ctx, latchkey.GroupSet{Name: "mine", Groups: []string{"wheel"}}); latchkey.ErrorCode(err) != latchkey.EFORBIDDEN {
			t.Fatalf("a user creates a set: %v, want forbidden", err)
		}
		if _, err := w.admin.CreateGroupSet(ctx, latchkey.GroupSet{Name: "admin tools", Groups: []string{"backup"}}); latchkey.ErrorCode(err) != latchkey.ECONFLICT {
			t.Fatalf("a second set of the same name: %v, want conflict", err)
		}
		if _, err := w.admin.GetGroupSet(ctx, "gs_nope"); latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
			t.Fatalf("an unknown set: %v, want not_found", err)
		}
		items, _, err := alice.ListGroupSets(ctx, latchkey.Page{})
		if err != nil || len(items) != 1 || items[0].ID != set.ID {
			t.Fatalf("list: %+v, %v", items, err)
		}
		if recs, _, _ := w.admin.ListAudit(ctx, latchkey.AuditFilter{Action: "groupset.create"}); len(recs) != 1 || recs[0].Target != set.ID {
			t.Fatalf("audit: %+v, want one groupset.create", recs)
		}

		before := w.snapshot()
		for _, body := range []string{
			`{"name": "x", "groups": []}`,
			`{"name": "x", "groups": ["Wheel"]}`,
			`{"name": "x", "groups": ["wheel", "wheel"]}`,
			`{"name": "x", "groups": ["9lives"]}`,
			`{"name": "x", "groups": ["wheel"], "max_minutes": 1441}`,
			`{"name": "x", "groups": ["wheel"], "max_minutes": -1}`,
			`{"name": "x", "groups": ["wheel"], "approval": true, "approvers": ["prn_nobody"]}`,
			`{"name": "x", "groups": ["wheel"], "approval": true, "approvers": "prn_nobody"}`,
			`{"name": "x", "groups": ["wheel"], "eligible": ["prn_nobody"]}`,
			`{"name": "", "groups": ["wheel"]}`,
			`{"name": "x", "groups": "wheel"}`,
			`{"name": "x", "groups": ["wheel"], "colour": "red"}`,
		} {
			if st, _ := w.adminRaw(http.MethodPost, "/v1/groupsets", body); st != http.StatusBadRequest {
				t.Errorf("POST /v1/groupsets %s: %d, want 400", body, st)
			}
		}
		w.assertUnchanged(before, "bad group sets")
		if items, _, _ := w.admin.ListGroupSets(ctx, latchkey.Page{}); len(items) != 1 {
			t.Fatalf("bad group sets were stored: %+v", items)
		}
	})
}
