package apitest_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"latchkey"
	"latchkey/client"
	"latchkey/sqlstore/sqlstoretest"
)

// Group sets limited to sites: a check-out for a terminal elsewhere is
// forbidden (to staff too) and changes nothing; at one of its sites it
// goes ahead; a set without sites is for every site. The sites are
// stored, read, listed and audited; unknown or repeated sites are a
// bad_request. A terminal's policy lists only the groups of the sets that
// may be checked out there.
func TestGroupSetSites(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 1)
		ctx := context.Background()
		north, err := w.admin.CreateSite(ctx, client.SiteCreate{Name: "north"})
		if err != nil {
			t.Fatal(err)
		}
		far, err := w.admin.RegisterTerminal(ctx, "north counter", north.ID)
		if err != nil {
			t.Fatal(err)
		}
		farClient := client.New(w.url, client.WithToken(far.Token))
		limited, err := w.admin.CreateGroupSet(ctx, latchkey.GroupSet{Name: "north wheel", Groups: []string{"wheel"},
			Eligible: []string{w.bob.ID}, Sites: []string{north.ID}})
		if err != nil || !slices.Equal(limited.Sites, []string{north.ID}) {
			t.Fatalf("create a set for north: %+v, %v", limited, err)
		}
		everywhere, err := w.admin.CreateGroupSet(ctx, latchkey.GroupSet{Name: "backup", Groups: []string{"backup"}, Eligible: []string{w.bob.ID}})
		if err != nil || everywhere.Sites == nil || len(everywhere.Sites) != 0 {
			t.Fatalf("create a set for every site: %+v, %v", everywhere, err)
		}
		bob := w.userClient("bob")
		if got, err := bob.GetGroupSet(ctx, limited.ID); err != nil || !slices.Equal(got.Sites, []string{north.ID}) {
			t.Fatalf("read: %+v, %v", got, err)
		}
		if items, _, err := bob.ListGroupSets(ctx, latchkey.Page{}); err != nil || len(items) != 2 ||
			!slices.ContainsFunc(items, func(s latchkey.GroupSet) bool { return slices.Equal(s.Sites, []string{north.ID}) }) {
			t.Fatalf("list: %+v, %v", items, err)
		}
		recs, _, _ := w.admin.ListAudit(ctx, latchkey.AuditFilter{Action: "groupset.create"})
		if !slices.ContainsFunc(recs, func(r latchkey.AuditRecord) bool {
			return r.Target == limited.ID && strings.Contains(string(r.Details), north.ID)
		}) {
			t.Fatalf("the audit does not record the set's sites: %+v", recs)
		}

		before := w.snapshot()
		if _, err := bob.CreateCheckout(ctx, latchkey.CheckoutCreate{GroupSet: limited.ID, Terminal: w.terms[0].ID}); latchkey.ErrorCode(err) != latchkey.EFORBIDDEN {
			t.Fatalf("bob checks the north set out at the branch: %v, want forbidden", err)
		}
		if _, err := w.admin.CreateCheckout(ctx, latchkey.CheckoutCreate{GroupSet: limited.ID, Terminal: w.terms[0].ID, Principal: w.bob.ID}); latchkey.ErrorCode(err) != latchkey.EFORBIDDEN {
			t.Fatalf("an admin checks the north set out at the branch: %v, want forbidden", err)
		}
		w.assertUnchanged(before, "check-outs outside the set's sites")
		if ins, err := w.tc[0].PollInstructions(ctx, 0); err != nil || len(ins) != 0 {
			t.Fatalf("a refused check-out reached the agent: %+v, %v", ins, err)
		}
		if co, err := bob.CreateCheckout(ctx, latchkey.CheckoutCreate{GroupSet: limited.ID, Terminal: far.ID}); err != nil || co.Status != latchkey.CheckingOut {
			t.Fatalf("bob checks the north set out at north: %+v, %v", co, err)
		}
		if co, err := bob.CreateCheckout(ctx, latchkey.CheckoutCreate{GroupSet: everywhere.ID, Terminal: w.terms[0].ID}); err != nil || co.Status != latchkey.CheckingOut {
			t.Fatalf("bob checks the set for every site out at the branch: %+v, %v", co, err)
		}

		// The policy of each terminal lists the groups it may be asked to grant.
		for _, c := range []struct {
			name string
			cl   *client.Client
			want []string
		}{{"branch", w.tc[0], []string{"backup"}}, {"north", farClient, []string{"backup", "wheel"}}} {
			p, err := c.cl.AgentPolicy(ctx)
			if err != nil || !slices.Equal(p.Groups, c.want) {
				t.Fatalf("%s policy groups %v, %v; want %v", c.name, p.Groups, err, c.want)
			}
		}

		before = w.snapshot()
		for _, body := range []string{
			`{"name": "x", "groups": ["wheel"], "sites": ["sit_nowhere"]}`,
			`{"name": "x", "groups": ["wheel"], "sites": ["` + north.ID + `", "` + north.ID + `"]}`,
			`{"name": "x", "groups": ["wheel"], "sites": [""]}`,
			`{"name": "x", "groups": ["wheel"], "sites": "` + north.ID + `"}`,
		} {
			if st, out := w.adminRaw(http.MethodPost, "/v1/groupsets", body); st != http.StatusBadRequest || !strings.Contains(out, `"sites"`) {
				t.Errorf("POST /v1/groupsets %s: %d %s, want 400 naming sites", body, st, out)
			}
		}
		w.assertUnchanged(before, "bad sites")
	})
}
