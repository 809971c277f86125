package apitest_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"latchkey"
	"latchkey/client"
	"latchkey/sqlstore/sqlstoretest"
)

// browser is a cookie-keeping HTTP client that does not follow redirects,
// so a test sees each answer the console gives.
type browser struct {
	t    testing.TB
	base string
	hc   *http.Client
}

func newBrowser(t testing.TB, base string) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, base: base, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) do(method, path string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	return resp, string(page)
}

// csrf is the CSRF token of the page's forms.
func csrf(t testing.TB, page string) string {
	t.Helper()
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token on the page:\n%s", page)
	}
	return m[1]
}

func wantRedirect(t testing.TB, resp *http.Response, to string) {
	t.Helper()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != to {
		t.Fatalf("%s %s: %d to %q, want 303 to %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, resp.Header.Get("Location"), to)
	}
}

// The console's browser session through a real server on both stores:
// pages need a session; log-on has the API's messages and throttling;
// the cookie is HttpOnly and SameSite=Strict; a form without the
// session's CSRF token is refused; logging off and a password change end
// the session on the server; the API never takes the cookie.
func TestConsoleBrowserSession(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 1)
		br := newBrowser(t, w.url)
		resp, _ := br.do("GET", "/", nil)
		wantRedirect(t, resp, "/login")
		resp, page := br.do("GET", "/login", nil)
		if resp.StatusCode != 200 || !strings.Contains(page, `<label for="identity">`) || !strings.Contains(page, `<label for="password">`) {
			t.Fatalf("log-on page: %d\n%s", resp.StatusCode, page)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || resp.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("headers: %v", resp.Header)
		}

		resp, page = br.do("POST", "/login", url.Values{"identity": {"alice"}, "password": {"not-her-password"}})
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(page, `role="alert"`) || len(resp.Cookies()) != 0 {
			t.Fatalf("a wrong password: %d %v\n%s", resp.StatusCode, resp.Cookies(), page)
		}
		if !strings.Contains(page, `value="alice"`) {
			t.Fatal("the log-on page forgot the login ID typed")
		}

		resp, _ = br.do("POST", "/login", url.Values{"identity": {"alice"}, "password": {pw("alice")}})
		wantRedirect(t, resp, "/")
		var ck *http.Cookie
		for _, c := range resp.Cookies() {
			if c.Name == "latchkey_session" {
				ck = c
			}
		}
		if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Secure || ck.Path != "/" {
			t.Fatalf("the session cookie: %+v", ck)
		}
		w.mustLogin(0, "alice", false)
		resp, page = br.do("GET", "/", nil)
		if resp.StatusCode != 200 || !strings.Contains(page, "Signed in as <strong>alice</strong> (User)") || !strings.Contains(page, "<td>counter 0</td>") {
			t.Fatalf("home: %d\n%s", resp.StatusCode, page)
		}
		token := csrf(t, page)

		// The API ignores the cookie: a bearer token is its only way in.
		req, _ := http.NewRequest("GET", w.url+"/v1/principals/"+w.alice.ID, nil)
		req.AddCookie(ck)
		if r2, err := http.DefaultClient.Do(req); err != nil || r2.StatusCode != http.StatusUnauthorized {
			t.Fatalf("the API with the console's cookie: %v %v", r2.StatusCode, err)
		}
		// The cookie's token is a user token like any other, on any node.
		other := newBrowser(t, w.addNode())
		u, _ := url.Parse(other.base)
		other.hc.Jar.SetCookies(u, []*http.Cookie{{Name: "latchkey_session", Value: ck.Value}})
		if resp, page := other.do("GET", "/", nil); resp.StatusCode != 200 || !strings.Contains(page, "alice") {
			t.Fatalf("the session on another node: %d", resp.StatusCode)
		}

		// A form without the session's CSRF token changes nothing.
		resp, page = br.do("POST", "/logout", url.Values{"csrf": {"forged"}})
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(page, "did not come from this console") {
			t.Fatalf("a forged log-off: %d\n%s", resp.StatusCode, page)
		}
		if resp, _ := br.do("GET", "/", nil); resp.StatusCode != 200 {
			t.Fatal("the forged log-off ended the session")
		}
		resp, _ = br.do("POST", "/logout", url.Values{"csrf": {token}})
		wantRedirect(t, resp, "/login")
		resp, _ = br.do("GET", "/", nil)
		wantRedirect(t, resp, "/login")
		// The other node refuses it within a second (its token cache:
		// docs/architecture.md, "The token cache").
		for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
			if resp, _ := other.do("GET", "/", nil); resp.StatusCode == http.StatusSeeOther {
				break
			}
			if time.Since(start) > time.Second {
				t.Fatal("the logged-off session still works on the other node a second later")
			}
		}

		// A password change (here through the API) ends the browser's session.
		resp, _ = br.do("POST", "/login", url.Values{"identity": {"alice"}, "password": {pw("alice")}})
		wantRedirect(t, resp, "/")
		if err := w.userClient("alice").ChangePassword(context.Background(), "alice", pw("alice"), "alice-new-password-1"); err != nil {
			t.Fatal(err)
		}
		resp, _ = br.do("GET", "/", nil)
		wantRedirect(t, resp, "/login")

		// Throttled like the API: after the failures the identity allows,
		// the page says so, and says when to try again.
		var last string
		for i := 0; i < 12; i++ {
			resp, last = br.do("POST", "/login", url.Values{"identity": {"bob"}, "password": {"wrong-password-" + string(rune('a'+i))}})
			if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusLocked {
				break
			}
		}
		if resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusLocked {
			t.Fatalf("after 12 failures: %d\n%s", resp.StatusCode, last)
		}
		if !strings.Contains(last, `role="alert"`) {
			t.Fatalf("the refusal has no message:\n%s", last)
		}
	})
}

// logOn opens a browser session for identity.
func (b *browser) logOn(identity, password string) string {
	b.t.Helper()
	resp, _ := b.do("POST", "/login", url.Values{"identity": {identity}, "password": {password}})
	wantRedirect(b.t, resp, "/")
	_, page := b.do("GET", "/", nil)
	return csrf(b.t, page)
}

// The Administer Users dialog over HTTP, two admins, both stores: the
// first to open it is EXCLUSIVE, the second READ ONLY with the holder's
// name and note and the managed controls disabled; the second's managed
// change is refused whatever it sends, its Change Pwd is not; REQ LOCK
// gives a place in the queue, the holder's Close grants the lock to the
// waiter, and FORCE LOCK takes it back, after which the old grant's
// changes are refused.
func TestConsoleAdministerUsers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 0)
		a, c, aCSRF, cCSRF := twoAdmins(t, w)
		grant := func(page string) string {
			m := regexp.MustCompile(`data-token="(\d+)"`).FindStringSubmatch(page)
			if m == nil {
				t.Fatalf("no token on the dialog:\n%s", page)
			}
			return m[1]
		}
		resp, page := a.do("GET", "/admin/users", nil)
		if resp.StatusCode != 200 || !strings.Contains(page, "ACCESS: EXCLUSIVE") || strings.Contains(page, `class="managed" disabled`) {
			t.Fatalf("the first admin: %d\n%s", resp.StatusCode, page)
		}
		aToken := grant(page)
		resp, page = c.do("GET", "/admin/users", nil)
		if resp.StatusCode != 200 || !strings.Contains(page, "ACCESS: READ ONLY") || !strings.Contains(page, "Held by admin (Administer Users (console))") ||
			!strings.Contains(page, `id="create" class="managed" disabled`) || !strings.Contains(page, `id="reqlock"`) || !strings.Contains(page, `id="forcelock"`) {
			t.Fatalf("the second admin: %d\n%s", resp.StatusCode, page)
		}
		// A managed change from the read-only dialog is refused, even with
		// the holder's token number; nothing is created.
		resp, page = c.do("POST", "/admin/users", url.Values{"csrf": {cCSRF}, "op": {"create"}, "name": {"erin"}, "role": {"user"}, "lock_token": {aToken}})
		if resp.StatusCode != http.StatusConflict || !strings.Contains(page, "being edited by admin") {
			t.Fatalf("a read-only create: %d\n%s", resp.StatusCode, page)
		}
		if ps, _, _ := w.admin.ListPrincipals(context.Background(), latchkey.Page{Limit: 100}); slices.ContainsFunc(ps, func(p latchkey.Principal) bool { return p.Name == "erin" }) {
			t.Fatal("erin was created from a read-only dialog")
		}
		// Change Pwd needs no lock.
		resp, page = c.do("POST", "/admin/users", url.Values{"csrf": {cCSRF}, "op": {"password"}, "login": {"bob"}, "password": {"bob-new-password-1"}})
		if resp.StatusCode != 200 || !strings.Contains(page, "The password of bob was changed.") {
			t.Fatalf("Change Pwd from the read-only dialog: %d\n%s", resp.StatusCode, page)
		}
		// REQ LOCK, then the holder closes: the waiter has it.
		resp, page = c.do("POST", "/admin/users/lock", url.Values{"csrf": {cCSRF}, "op": {"wait"}})
		if resp.StatusCode != 200 || !strings.Contains(page, "You are number 1 in the queue.") {
			t.Fatalf("REQ LOCK: %d\n%s", resp.StatusCode, page)
		}
		resp, _ = a.do("POST", "/admin/users/lock", url.Values{"csrf": {aCSRF}, "op": {"close"}, "lock_token": {aToken}})
		wantRedirect(t, resp, "/")
		_, page = c.do("GET", "/admin/users", nil)
		if !strings.Contains(page, "ACCESS: EXCLUSIVE") {
			t.Fatalf("the waiter after the holder closed:\n%s", page)
		}
		cToken := grant(page)
		// The create form sent twice with its key (a retry, a second
		// press): applied once.
		key := regexp.MustCompile(`id="createform">\s*<input type="hidden" name="csrf" value="[^"]+"><input type="hidden" name="idem" value="([^"]+)">`).FindStringSubmatch(page)
		if key == nil {
			t.Fatalf("the create form has no key:\n%s", page)
		}
		create := url.Values{"csrf": {cCSRF}, "idem": {key[1]}, "op": {"create"}, "name": {"erin"}, "role": {"user"}, "lock_token": {cToken}}
		resp, page = c.do("POST", "/admin/users", create)
		if resp.StatusCode != 200 || !strings.Contains(page, "erin was created.") {
			t.Fatalf("the new holder's create: %d\n%s", resp.StatusCode, page)
		}
		resp, _ = c.do("POST", "/admin/users", create)
		wantRedirect(t, resp, "/admin/users?sent=again")
		if _, page := c.do("GET", "/admin/users?sent=again", nil); !strings.Contains(page, "That form was sent before and applied once") {
			t.Fatalf("the page after a form sent again:\n%s", page)
		}
		if n := principalsNamed(t, w.admin, "erin"); n != 1 {
			t.Fatalf("%d principals named erin after the form was sent twice", n)
		}
		var erinID string
		if ps, _, _ := w.admin.ListPrincipals(context.Background(), latchkey.Page{Limit: 100}); true {
			for _, p := range ps {
				if p.Name == "erin" {
					erinID = p.ID
				}
			}
		}
		resp, page = c.do("POST", "/admin/users", url.Values{"csrf": {cCSRF}, "op": {"identity"}, "principal": {erinID}, "login": {"erin"}, "password": {pw("erin")}, "lock_token": {cToken}})
		if resp.StatusCode != 200 || !strings.Contains(page, "Login ID erin was added.") {
			t.Fatalf("adding a login ID: %d\n%s", resp.StatusCode, page)
		}
		if _, err := client.New(w.url).Login(context.Background(), "erin", pw("erin")); err != nil {
			t.Fatalf("erin logs on with the login ID added in the dialog: %v", err)
		}
		resp, page = c.do("POST", "/admin/users", url.Values{"csrf": {cCSRF}, "op": {"role"}, "principal": {w.bob.ID}, "role": {"delegate"}, "lock_token": {cToken}})
		if resp.StatusCode != 200 || !strings.Contains(page, "bob is now a delegate.") {
			t.Fatalf("a role change: %d\n%s", resp.StatusCode, page)
		}
		if p, _ := w.admin.GetPrincipal(context.Background(), w.bob.ID); p.Role != latchkey.RoleDelegate {
			t.Fatalf("bob's role: %s", p.Role)
		}
		// FORCE LOCK: the admin takes it; carol's old grant is refused.
		_, page = a.do("GET", "/admin/users", nil)
		if !strings.Contains(page, "ACCESS: READ ONLY") || !strings.Contains(page, "Held by carol") {
			t.Fatalf("the admin reopening:\n%s", page)
		}
		_, page = a.do("POST", "/admin/users/lock", url.Values{"csrf": {aCSRF}, "op": {"force"}})
		if !strings.Contains(page, "Take the lock from carol?") || !strings.Contains(page, "ACCESS: READ ONLY") {
			t.Fatalf("FORCE LOCK asks first, naming the holder:\n%s", page)
		}
		_, page = a.do("POST", "/admin/users/lock", url.Values{"csrf": {aCSRF}, "op": {"force"}, "confirm": {"yes"}})
		if !strings.Contains(page, "ACCESS: EXCLUSIVE") || !strings.Contains(page, "You took the lock.") {
			t.Fatalf("FORCE LOCK:\n%s", page)
		}
		resp, page = c.do("POST", "/admin/users", url.Values{"csrf": {cCSRF}, "op": {"create"}, "name": {"fay"}, "role": {"user"}, "lock_token": {cToken}})
		if resp.StatusCode != http.StatusConflict || !strings.Contains(page, "ACCESS: READ ONLY") {
			t.Fatalf("the forced-off holder's create: %d\n%s", resp.StatusCode, page)
		}
		// A user may not open the dialog.
		u := newBrowser(t, w.url)
		u.logOn("alice", pw("alice"))
		if resp, _ := u.do("GET", "/admin/users", nil); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("a user opening Administer Users: %d", resp.StatusCode)
		}
	})
}

func principalsNamed(t *testing.T, admin *client.Client, name string) int {
	t.Helper()
	ps, _, err := admin.ListPrincipals(context.Background(), latchkey.Page{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range ps {
		if p.Name == name {
			n++
		}
	}
	return n
}

// Failover scenarios 1 and 4 in the console: three nodes on PostgreSQL
// behind HAProxy; an admin loads Administer Users through the balancer,
// a node is SIGKILLed, and the form's submit succeeds without logging on
// again (the session is in the store) and is applied once, even when it
// is sent again.
func TestConsoleFormSurvivesANodeDeath(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 0)
	lb := startHAProxy(t, c.nodes)
	br := newBrowser(t, lb)
	csrfToken := br.logOn("admin", procAdminPassword)
	_, page := br.do("GET", "/admin/users", nil)
	if !strings.Contains(page, "ACCESS: EXCLUSIVE") {
		t.Fatalf("the dialog:\n%s", page)
	}
	m := regexp.MustCompile(`data-token="(\d+)"`).FindStringSubmatch(page)
	key := regexp.MustCompile(`id="createform">\s*<input type="hidden" name="csrf" value="[^"]+"><input type="hidden" name="idem" value="([^"]+)">`).FindStringSubmatch(page)
	if m == nil || key == nil {
		t.Fatalf("the dialog has no grant or form key:\n%s", page)
	}
	c.nodes[0].kill()
	form := url.Values{"csrf": {csrfToken}, "idem": {key[1]}, "op": {"create"}, "name": {"gus"}, "role": {"user"}, "lock_token": {m[1]}}
	for i := range 3 { // whichever node each lands on: one of them is dead
		resp, page := br.do("POST", "/admin/users", form)
		switch {
		case i == 0 && (resp.StatusCode != 200 || !strings.Contains(page, "gus was created.")):
			t.Fatalf("the submit after the node died: %d\n%s", resp.StatusCode, page)
		case i > 0 && (resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin/users?sent=again"):
			t.Fatalf("the same form again: %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	if n := principalsNamed(t, c.admin, "gus"); n != 1 {
		t.Fatalf("%d principals named gus", n)
	}
}

// The Signup Policy dialog over HTTP, two admins, both stores: on the
// admin/signup lock like Administer Users; the second admin's save is
// refused while the first one's, under its grant, changes the site.
func TestConsoleSignupPolicy(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 0)
		a, c, aCSRF, cCSRF := twoAdmins(t, w)
		_, page := a.do("GET", "/admin/signup", nil)
		m := regexp.MustCompile(`data-token="(\d+)"`).FindStringSubmatch(page)
		if !strings.Contains(page, "ACCESS: EXCLUSIVE") || m == nil || !strings.Contains(page, `id="save-`+w.site.ID+`" class="managed" >`) {
			t.Fatalf("the first admin:\n%s", page)
		}
		_, page = c.do("GET", "/admin/signup", nil)
		if !strings.Contains(page, "ACCESS: READ ONLY") || !strings.Contains(page, "Held by admin (Signup Policy (console))") || !strings.Contains(page, `id="save-`+w.site.ID+`" class="managed" disabled`) {
			t.Fatalf("the second admin:\n%s", page)
		}
		save := func(csrf, token string, quota string) url.Values {
			return url.Values{"csrf": {csrf}, "site": {w.site.ID}, "lock_token": {token}, "allow_standalone": {"on"}, "standalone_auth": {"cached"},
				"daily_quota_minutes": {quota}, "max_reservations_per_user": {"2"}, "max_booking_days_ahead": {"14"}}
		}
		resp, page := c.do("POST", "/admin/signup", save(cCSRF, m[1], "45"))
		if resp.StatusCode != http.StatusConflict || !strings.Contains(page, "being edited by admin") {
			t.Fatalf("the read-only save: %d\n%s", resp.StatusCode, page)
		}
		resp, page = a.do("POST", "/admin/signup", save(aCSRF, m[1], "90"))
		if resp.StatusCode != 200 || !strings.Contains(page, "The signup policy of branch was saved.") {
			t.Fatalf("the holder's save: %d\n%s", resp.StatusCode, page)
		}
		site, err := w.admin.GetSite(context.Background(), w.site.ID)
		if err != nil || site.DailyQuotaMinutes != 90 || !site.AllowStandalone || site.StandaloneAuth != latchkey.StandaloneAuthCached ||
			site.MaxReservationsPerUser != 2 || site.MaxBookingDaysAhead != 14 {
			t.Fatalf("the site after the save: %+v, %v", site, err)
		}
		resp, page = a.do("POST", "/admin/signup", save(aCSRF, m[1], "ninety"))
		if resp.StatusCode != http.StatusConflict || !strings.Contains(page, "daily_quota_minutes must be a whole number.") {
			t.Fatalf("a bad number: %d\n%s", resp.StatusCode, page)
		}
	})
}

// Collaborate Trusts over HTTP, two admins, both stores: the holder adds
// a trust through the trusts config domain under its grant; the other
// admin's add is refused, but its Remove, which only hides an entry from
// its own view, works without the lock and hides nothing from anyone
// else.
func TestConsoleCollaborateTrusts(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 0)
		a, c, aCSRF, cCSRF := twoAdmins(t, w)
		_, page := a.do("GET", "/admin/trusts", nil)
		m := regexp.MustCompile(`data-token="(\d+)"`).FindStringSubmatch(page)
		if !strings.Contains(page, "ACCESS: EXCLUSIVE") || m == nil {
			t.Fatalf("the first admin:\n%s", page)
		}
		resp, page := a.do("POST", "/admin/trusts", url.Values{"csrf": {aCSRF}, "op": {"save"}, "name": {"partner-a"}, "settings": {"directory, read only"}, "lock_token": {m[1]}})
		if resp.StatusCode != 200 || !strings.Contains(page, "Trust partner-a was saved.") || !strings.Contains(page, `value="directory, read only"`) {
			t.Fatalf("the holder's add: %d\n%s", resp.StatusCode, page)
		}
		_, page = c.do("GET", "/admin/trusts", nil)
		if !strings.Contains(page, "ACCESS: READ ONLY") || !strings.Contains(page, `id="addtrust" class="managed" disabled`) || !strings.Contains(page, "partner-a") {
			t.Fatalf("the second admin:\n%s", page)
		}
		resp, page = c.do("POST", "/admin/trusts", url.Values{"csrf": {cCSRF}, "op": {"save"}, "name": {"partner-b"}, "settings": {"x"}, "lock_token": {m[1]}})
		if resp.StatusCode != http.StatusConflict || !strings.Contains(strings.ToLower(page), "lock") {
			t.Fatalf("the read-only add: %d\n%s", resp.StatusCode, page)
		}
		resp, page = c.do("POST", "/admin/trusts", url.Values{"csrf": {cCSRF}, "op": {"remove"}, "name": {"partner-a"}})
		if resp.StatusCode != 200 || strings.Contains(page, `id="remove-partner-a"`) || !strings.Contains(page, "Show the 1 you removed") {
			t.Fatalf("Remove from the read-only dialog: %d\n%s", resp.StatusCode, page)
		}
		if _, page := a.do("GET", "/admin/trusts", nil); !strings.Contains(page, `id="remove-partner-a"`) {
			t.Fatal("carol's Remove hid the trust from the admin too")
		}
		d, err := w.admin.GetConfig(context.Background(), "trusts")
		if err != nil || d.Items["partner-a"] != "directory, read only" || len(d.Items) != 1 {
			t.Fatalf("the trusts domain: %+v, %v", d, err)
		}
	})
}

// twoAdmins makes carol a second admin and opens a browser session for
// the admin (a) and for carol (c), with their forms' CSRF tokens.
func twoAdmins(t *testing.T, w *world) (a, c *browser, aCSRF, cCSRF string) {
	t.Helper()
	carol := w.person("carol", true, "carol")
	if _, err := w.admin.UpdatePrincipal(context.Background(), carol.ID, latchkey.PrincipalUpdate{Role: client.Ptr(latchkey.RoleAdmin)}); err != nil {
		t.Fatal(err)
	}
	a, c = newBrowser(t, w.url), newBrowser(t, w.url)
	return a, c, a.logOn("admin", adminPassword), c.logOn("carol", pw("carol"))
}

// The approvals inbox over HTTP, both stores: alice's request for a set
// that needs bob's approval waits in bob's inbox with what was asked;
// bob approves it with a comment, the work item is decided, and the
// request's page shows its approve step done; alice's own inbox is empty.
func TestConsoleApprovalsInbox(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 1)
		ctx := context.Background()
		set, err := w.admin.CreateGroupSet(ctx, latchkey.GroupSet{Name: "root tools", Groups: []string{"adm"}, Eligible: []string{w.alice.ID},
			Approval: true, Approvers: []string{w.bob.ID}})
		if err != nil {
			t.Fatal(err)
		}
		req, err := w.userClient("alice").CreateRequest(ctx, latchkey.RequestCreate{GroupSet: set.ID, Terminals: []string{w.terms[0].ID}, Minutes: 30, Reason: "patch the kernel"})
		if err != nil {
			t.Fatal(err)
		}
		bob := newBrowser(t, w.url)
		bobCSRF := bob.logOn("bob", pw("bob"))
		resp, page := bob.do("GET", "/approvals", nil)
		if resp.StatusCode != 200 || !strings.Contains(page, "asks for group set root tools") || !strings.Contains(page, "On counter 0 for 30 minutes.") || !strings.Contains(page, "patch the kernel") {
			t.Fatalf("bob's inbox: %d\n%s", resp.StatusCode, page)
		}
		item := regexp.MustCompile(`action="/approvals/([^"]+)"`).FindStringSubmatch(page)
		if item == nil {
			t.Fatalf("no decision form:\n%s", page)
		}
		resp, page = bob.do("POST", "/approvals/"+item[1], url.Values{"csrf": {bobCSRF}, "decision": {"approve"}, "comment": {"go ahead"}})
		if resp.StatusCode != 200 || !strings.Contains(page, "Request "+req.ID+" approved.") || !strings.Contains(page, "Nothing waits for your decision.") {
			t.Fatalf("bob approves: %d\n%s", resp.StatusCode, page)
		}
		items, _, err := w.admin.ListWorkItems(ctx, latchkey.WorkItemDone, latchkey.Page{Limit: 10})
		if err != nil || len(items) != 1 || items[0].Decision != latchkey.DecisionApprove || items[0].Comment != "go ahead" || items[0].DecidedBy != w.bob.ID {
			t.Fatalf("the work item: %+v, %v", items, err)
		}
		_, page = bob.do("GET", "/requests/"+req.ID, nil)
		if !strings.Contains(page, `<td>Approval</td><td data-step-status="done">done</td>`) {
			t.Fatalf("the request's page:\n%s", page)
		}
		alice := newBrowser(t, w.url)
		alice.logOn("alice", pw("alice"))
		if _, page := alice.do("GET", "/approvals", nil); !strings.Contains(page, "Nothing waits for your decision.") {
			t.Fatalf("alice's inbox:\n%s", page)
		}
	})
}
