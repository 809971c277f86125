package apitest_test

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"latchkey"
	"latchkey/client"
	"latchkey/sqlstore/sqlstoretest"
)

// The search of Administer Users, both stores: without a search the
// dialog lists the first 100 people and says there are more; a search
// finds people by the start of their name in any case of A-Z, or of a
// login ID, and nobody else; a bad search is said in words; a change made
// from the results keeps the search.
func TestConsoleAdministerUsersSearch(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 0)
		ctx := context.Background()
		for n, login := range map[string]string{"Ann Smith": "asmith", "anna b": "annab", "Annette": "annette", "Ölaf": "o-laf", "Hanna": "hanna"} {
			w.person(n, false, login)
		}
		olaf := w.person("Someone", false, "olaf.s")
		for i := 0; i < 95; i++ { // 3 + 5 + 1 + 95 = 104 people
			if _, err := w.admin.CreatePrincipal(ctx, latchkey.Principal{Name: fmt.Sprintf("zz %03d", i), Role: latchkey.RoleUser}); err != nil {
				t.Fatal(err)
			}
		}
		a := newBrowser(t, w.url)
		tok := a.logOn("admin", adminPassword)
		rows := func(page string) []string {
			var names []string
			for _, m := range regexp.MustCompile(`<tr>\s*<td>([^<]*)</td>`).FindAllStringSubmatch(page, -1) {
				names = append(names, m[1])
			}
			return names
		}
		_, page := a.do("GET", "/admin/users", nil)
		if got := len(rows(page)); got != 100 || !strings.Contains(page, "The first 100 people; find others by name or login ID.") {
			t.Fatalf("without a search: %d rows\n%s", got, page)
		}
		for q, want := range map[string]string{
			"ann":    "Ann Smith,anna b,Annette",
			"ANNA ":  "anna b",
			"olaf":   "Someone", // by login ID
			"Öl":     "Ölaf",    // as typed beyond A-Z
			"han":    "Hanna",   // the start of the name only: not "Ann Smith"
			"zz 09":  "zz 090,zz 091,zz 092,zz 093,zz 094",
			"nobody": "",
		} {
			_, page := a.do("GET", "/admin/users?q="+url.QueryEscape(q), nil)
			if got := strings.Join(rows(page), ","); got != want {
				t.Errorf("search %q found %q, want %q", q, got, want)
			}
			if n := len(strings.Split(want, ",")); want != "" && !strings.Contains(page, fmt.Sprintf("%d %s with “%s”", n, map[bool]string{true: "person starts", false: "people start"}[n == 1], strings.TrimSpace(q))) {
				t.Errorf("search %q does not say what it found:\n%s", q, page)
			}
		}
		resp, page := a.do("GET", "/admin/users?q=%01", nil)
		if resp.StatusCode != 200 || !strings.Contains(page, `role="alert">Q must not contain control characters.`) {
			t.Fatalf("a search with a control character: %d\n%s", resp.StatusCode, page)
		}
		grant := regexp.MustCompile(`data-token="(\d+)"`).FindStringSubmatch(page)
		resp, page = a.do("POST", "/admin/users", url.Values{"csrf": {tok}, "op": {"disable"}, "principal": {olaf.ID}, "q": {"olaf"}, "lock_token": {grant[1]}})
		if resp.StatusCode != 200 || !strings.Contains(page, "Someone was disabled.") || strings.Join(rows(page), ",") != "Someone" {
			t.Fatalf("disabling from the results: %d\n%s", resp.StatusCode, page)
		}
	})
}
