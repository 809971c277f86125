package http

import (
	"crypto/hmac"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"html/template"
	"io/fs"
	"log/slog"
	nethttp "net/http"
	"strings"

	"latchkey"
)

// The web console (issue 13): server-rendered pages embedded in the
// binary, served at / by every node. A browser session is a user token
// like any client's, kept in an HttpOnly, SameSite=Strict cookie (Secure
// under TLS): the store holds it (hashed), so any node serves any page,
// and logging out, its expiry and a password change end it as they end
// any token. The console calls the same store operations as the API. The
// API itself never reads the cookie: a bearer token stays the only way
// in, so no cross-site request can use a browser's session there.

//go:embed console
var consoleFiles embed.FS

// consoleCookie names the browser session's cookie.
const consoleCookie = "latchkey_session"

var consolePages = template.Must(template.New("").Funcs(template.FuncMap{
	// idem is a fresh key for a form that changes something: sent again
	// (a retry after a node died, a second press), it is applied once.
	"idem": func() string { return latchkey.NewID("form") },
	"title": func(r latchkey.Role) string {
		if r == "" {
			return ""
		}
		return strings.ToUpper(string(r[:1])) + string(r[1:])
	},
}).ParseFS(consoleFiles, "console/*.html"))

// consoleRoutes registers the console's pages.
func (s *Server) consoleRoutes() {
	static, _ := fs.Sub(consoleFiles, "console/static")
	s.handle("GET /console/static/", nethttp.StripPrefix("/console/static/", nethttp.FileServerFS(static)))
	s.handle("GET /{$}", s.consolePage(s.consoleHome))
	s.handle("GET /login", nethttp.HandlerFunc(s.consoleLoginForm))
	s.handle("POST /login", nethttp.HandlerFunc(s.consoleLogin))
	s.handle("POST /logout", s.consolePage(s.consoleLogout))
	s.handle("GET /console/events", s.consolePage(func(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession) {
		s.serveStream(w, r, ss.caller, ss.token) // the pages' live updates
	}))
	s.dialogRoutes(s.usersDialog(), s.consoleUsersChange)
	s.dialogRoutes(s.signupDialog(), s.consoleSignupChange)
	s.dialogRoutes(s.trustsDialog(), s.consoleTrustsChange)
	s.handle("GET /approvals", s.consolePage(s.consoleApprovals))
	s.handle("POST /approvals/{id}", s.consolePage(s.consoleDecide))
	s.handle("GET /requests/{id}", s.consolePage(s.consoleRequest))
	s.handle("GET /access", s.consolePage(s.consoleAccess))
	s.handle("POST /access", s.consolePage(s.consoleAccessRequest))
	s.handle("GET /checkouts/{id}", s.consolePage(s.consoleCheckout))
	s.handle("GET /checkouts/{id}/state", s.consolePage(s.consoleCheckoutState))
	s.handle("POST /checkouts/{id}/checkin", s.consolePage(s.consoleCheckin))
	s.handle("POST /checkouts/{id}/extend", s.consolePage(s.consoleExtend))
	s.handle("POST /requests/{id}/cancel", s.consolePage(s.consoleCancelRequest))
	s.handle("GET /requests/{id}/live", s.consolePage(s.consoleRequestLive))
	s.sessionsRoutes()
	s.clusterRoutes()
	s.reservationsRoutes()
	s.auditRoutes()
}

// consoleSession is the browser's session: its token, who it is, and the
// CSRF token its forms carry.
type consoleSession struct {
	token  string
	caller latchkey.Caller
	CSRF   string
	claim  *latchkey.IdempotencyClaim // a keyed form's (see consoleOnce)
}

// csrfToken binds a form to the session: an HMAC of a fixed label keyed
// by the session's own token, which another site can neither read (the
// cookie is HttpOnly and SameSite=Strict) nor compute. Any node can check
// it: it needs nothing but the cookie.
func csrfToken(session string) string {
	m := hmac.New(sha256.New, []byte(session))
	m.Write([]byte("latchkey console form"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// session authenticates the request's cookie; ok false when there is
// none or its token is no longer valid.
func (s *Server) session(r *nethttp.Request) (consoleSession, bool) {
	ck, err := r.Cookie(consoleCookie)
	if err != nil || ck.Value == "" || len(ck.Value) > maxBearerTokenSize {
		return consoleSession{}, false
	}
	c, err := s.store.Authenticate(r.Context(), ck.Value)
	if err != nil || c.PrincipalID == "" {
		return consoleSession{}, false
	}
	return consoleSession{token: ck.Value, caller: c, CSRF: csrfToken(ck.Value)}, true
}

// consolePage wraps a page that needs a session: without one the browser
// is sent to the log-on page; a form posted without the session's CSRF
// token is refused.
func (s *Server) consolePage(h func(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession)) nethttp.Handler {
	return nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		ss, ok := s.session(r)
		if !ok {
			nethttp.Redirect(w, r, "/login", nethttp.StatusSeeOther)
			return
		}
		if r.Method == nethttp.MethodPost {
			r.Body = nethttp.MaxBytesReader(w, r.Body, s.maxBody)
			if err := r.ParseForm(); err != nil || !hmac.Equal([]byte(r.PostFormValue("csrf")), []byte(ss.CSRF)) {
				s.render(w, r, nethttp.StatusForbidden, "error.html", consoleView{Session: &ss,
					Error: "This form has expired or did not come from this console. Go back, reload the page and try again."})
				return
			}
			if key := r.PostFormValue("idem"); key != "" {
				s.consoleOnce(w, r, ss, key, h)
				return
			}
		}
		h(w, r, ss)
	})
}

// consoleView is what every page template gets.
type consoleView struct {
	Session *consoleSession
	Name    string // the signed-in person's name
	Error   string
	// Page-specific values.
	Identity   string
	Sessions   []latchkey.Session
	Dialog     *dialogView
	Principals []latchkey.Principal
	Notice     string
	GroupSets  []latchkey.GroupSet
	Checkout   *checkoutState
	Sites      []latchkey.Site
	// Collaborate Trusts: the entries in this admin's view, how many it
	// removed from it, and the domain's version.
	Trusts        []trustRow
	HiddenTrusts  int
	TrustsVersion int64
	Inbox         []inboxItem
	Request       *latchkey.Request
	Workflow      *latchkey.Workflow
	// TerminalNames names the terminals the page mentions (by ID).
	TerminalNames map[string]string
	// Page is a screen's own values, a type of its own file's (the
	// templates read it as .Page), so screens need not share this struct.
	Page any
}

// Terminal is a terminal's name on a page, its ID when unknown.
func (v consoleView) Terminal(id string) string {
	if n := v.TerminalNames[id]; n != "" {
		return n
	}
	return id
}

// Staff says whether the signed-in person is an admin or a delegate.
func (v consoleView) Staff() bool { return v.Session != nil && v.Session.caller.IsStaff() }

// Admin says whether the signed-in person is an admin.
func (v consoleView) Admin() bool { return v.Role() == latchkey.RoleAdmin }

// Role is the signed-in person's role.
func (v consoleView) Role() latchkey.Role {
	if v.Session == nil {
		return ""
	}
	return v.Session.caller.Role
}

// render writes a page with the console's headers: no caching, no
// framing, scripts and styles only from this origin.
func (s *Server) render(w nethttp.ResponseWriter, r *nethttp.Request, status int, page string, v consoleView) {
	if v.Session != nil && v.Name == "" {
		v.Name = v.Session.caller.Name
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	var b strings.Builder
	if err := consolePages.ExecuteTemplate(&b, page, v); err != nil {
		s.internal(w, r, "render "+page, slog.Any("err", err))
		return
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}

// setSessionCookie gives the browser its session (Secure under TLS).
func setSessionCookie(w nethttp.ResponseWriter, r *nethttp.Request, token string) {
	nethttp.SetCookie(w, &nethttp.Cookie{Name: consoleCookie, Value: token, Path: "/", HttpOnly: true,
		SameSite: nethttp.SameSiteStrictMode, Secure: r.TLS != nil})
}

// clearSessionCookie makes the browser forget its session.
func clearSessionCookie(w nethttp.ResponseWriter, r *nethttp.Request) {
	nethttp.SetCookie(w, &nethttp.Cookie{Name: consoleCookie, Value: "", Path: "/", HttpOnly: true,
		SameSite: nethttp.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: -1})
}
