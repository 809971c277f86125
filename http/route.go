package http

import (
	nethttp "net/http"
	"slices"
	"strings"

	"latchkey"
)

// access is the set of token roles a route admits.
type access uint8

const (
	allowAdmin access = 1 << iota
	allowDelegate
	allowUser
	allowTerminal
)

const (
	public           access = 0 // no token needed (a token sent is ignored)
	adminOnly               = allowAdmin
	staff                   = allowAdmin | allowDelegate
	people                  = staff | allowUser
	terminalOnly            = allowTerminal
	staffOrTerminal         = staff | allowTerminal
	peopleOrTerminal        = people | allowTerminal
)

// maxBearerTokenSize bounds the token of an Authorization header.
const maxBearerTokenSize = 1024

func (a access) allows(r latchkey.Role) bool {
	switch r {
	case latchkey.RoleAdmin:
		return a&allowAdmin != 0
	case latchkey.RoleDelegate:
		return a&allowDelegate != 0
	case latchkey.RoleUser:
		return a&allowUser != 0
	case latchkey.RoleTerminal:
		return a&allowTerminal != 0
	}
	return false
}

// handler is an API endpoint: it answers a status and a value to encode as
// JSON, or an error to answer in the error shape.
type handler func(r *nethttp.Request, c latchkey.Caller) (int, any, error)

// routes registers every endpoint with the roles it admits.
func (s *Server) routes() {
	s.route("GET /healthz", public, s.healthz)
	s.route("GET /readyz", public, s.readyz)
	s.handle("GET /metrics", nethttp.HandlerFunc(s.serveMetrics)) // authorizes itself
	s.route("GET /v1/cluster/nodes", adminOnly, s.listNodes)
	s.route("POST /v1/tasks", adminOnly, s.createTask)
	s.route("GET /v1/tasks", adminOnly, s.listTasks)
	s.route("GET /v1/tasks/{id}", adminOnly, s.getTask)
	s.route("GET /v1/tasks/{id}/result", adminOnly, s.taskResult)
	s.route("GET /v1/tasks/{id}/chart", adminOnly, s.taskChart)
	s.route("GET /v1/jobs", adminOnly, s.listJobs)
	s.route("GET /v1/jobs/{id}", adminOnly, s.getJob)
	s.route("POST /v1/jobs/{id}/retry", adminOnly, s.retryJob)
	s.route("POST /v1/jobs/{id}/cancel", adminOnly, s.cancelJob)

	s.route("POST /v1/auth/login", public, s.login)
	s.route("POST /v1/auth/logout", people, s.logout)

	s.route("POST /v1/principals", staff, s.createPrincipal)
	s.route("GET /v1/principals", staff, s.listPrincipals)
	s.route("GET /v1/principals/{id}", people, s.getPrincipal)
	s.route("PATCH /v1/principals/{id}", staff, s.updatePrincipal)
	s.route("POST /v1/principals/{id}/identities", staff, s.addIdentity)
	s.route("GET /v1/principals/{id}/sessions", people, s.listPrincipalSessions)
	s.route("POST /v1/identities/{login}/password", people, s.changePassword)
	s.route("POST /v1/principals/{id}/revoke-tokens", staff, s.revokeTokens)

	s.route("POST /v1/sites", staff, s.createSite)
	s.route("GET /v1/sites", people, s.listSites)
	s.route("GET /v1/sites/{id}", peopleOrTerminal, s.getSite)
	s.route("PATCH /v1/sites/{id}", staff, s.updateSite)

	s.route("POST /v1/terminals", staff, s.registerTerminal)
	s.route("POST /v1/terminals/{id}/token", staff, s.rotateTerminalToken)
	s.route("GET /v1/terminals", people, s.listTerminals)
	s.route("GET /v1/terminals/{id}", peopleOrTerminal, s.getTerminal)
	s.route("POST /v1/terminals/{id}/events", terminalOnly, s.recordTerminalEvents)
	s.route("GET /v1/terminals/{id}/events", staffOrTerminal, s.listTerminalEvents)
	s.route("GET /v1/terminals/{id}/instructions", staff, s.listTerminalInstructions)

	s.route("POST /v1/terminals/{id}/sessions", terminalOnly, s.startSession)
	s.route("GET /v1/sessions/{id}", peopleOrTerminal, s.getSession)
	s.route("POST /v1/sessions/{id}/lock", terminalOnly, s.lockSession)
	s.route("POST /v1/sessions/{id}/unlock", terminalOnly, s.unlockSession)
	s.route("POST /v1/sessions/{id}/touch", terminalOnly, s.touchSession)
	s.route("DELETE /v1/sessions/{id}", terminalOnly, s.endSession)

	s.route("POST /v1/groupsets", staff, s.createGroupSet)
	s.route("GET /v1/groupsets", people, s.listGroupSets)
	s.route("GET /v1/groupsets/{id}", people, s.getGroupSet)

	s.route("POST /v1/checkouts", people, s.createCheckout)
	s.route("GET /v1/checkouts/{id}", peopleOrTerminal, s.getCheckout)
	s.route("POST /v1/checkouts/{id}/checkin", people, s.checkinCheckout)
	s.route("POST /v1/checkouts/{id}/extend", people, s.extendCheckout)
	s.route("GET /v1/agent/instructions", terminalOnly, s.pollInstructions)
	s.route("POST /v1/agent/instructions/{id}/reply", terminalOnly, s.replyInstruction)

	s.route("POST /v1/reservations", people, s.createReservation)
	s.route("GET /v1/reservations", peopleOrTerminal, s.listReservations)
	s.route("DELETE /v1/reservations/{id}", people, s.deleteReservation)

	s.route("POST /v1/requests", people, s.createRequest)
	s.route("GET /v1/requests", people, s.listRequests)
	s.route("GET /v1/requests/{id}", people, s.getRequest)
	s.route("POST /v1/requests/{id}/cancel", people, s.cancelRequest)
	s.route("GET /v1/workitems", people, s.listWorkItems)
	s.route("POST /v1/workitems/{id}/decide", people, s.decideWorkItem)
	s.route("GET /v1/workflows/{id}", people, s.getWorkflow)

	s.route("GET /v1/agent/policy", terminalOnly, s.agentPolicy)
	s.route("POST /v1/agent/journal", terminalOnly, s.uploadJournal)
	s.route("POST /v1/agent/status", terminalOnly, s.reportAgentStatus)
	s.route("PUT /v1/principals/{id}/offline-logon", staff, s.setOfflineLogon)

	s.route("POST /v1/locks/{rest...}", staff, s.lockAction)
	s.route("GET /v1/locks/{rest...}", staff, s.getLock)
	s.route("GET /v1/locks", staff, s.listLocks)

	s.route("GET /v1/config/{domain...}", staff, s.getConfig)
	s.route("PUT /v1/config/{domain...}", staff, s.putConfig)

	s.handle("GET /v1/events", nethttp.HandlerFunc(s.streamEvents)) // authorizes itself

	s.route("GET /v1/audit", staff, s.listAudit)
	s.route("GET /v1/audit/verify", adminOnly, s.verifyAudit)
	s.route("GET /v1/audit/seal", adminOnly, s.sealAudit)
	s.route("GET /v1/audit/export", adminOnly, s.exportAudit)
}

// Routes lists the pattern ("METHOD /path") of every endpoint, in the
// order they were registered: the authorization matrix test checks that
// each has its rows.
func (s *Server) Routes() []string { return slices.Clone(s.patterns) }

// handle registers h at pattern as it is (h authorizes itself, if at all).
func (s *Server) handle(pattern string, h nethttp.Handler) {
	s.patterns = append(s.patterns, pattern)
	s.mux.Handle(pattern, h)
}

// route registers h at pattern behind the auth gate for a, and the
// Idempotency-Key layer for mutating methods.
func (s *Server) route(pattern string, a access, h handler) {
	s.handle(pattern, nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		c, err := s.authorize(r, a)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		serve := func(w nethttp.ResponseWriter, r *nethttp.Request) {
			status, v, err := h(r, c)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			s.writeJSON(w, r, status, v)
		}
		if mutating(r.Method) && len(r.Header.Values(idempotencyHeader)) > 0 {
			switch secretAnswers[pattern] {
			case ignoreKey:
			case refuseKey:
				s.writeError(w, r, latchkey.BadField(idempotencyHeader,
					"%s answers with a token that is shown once and never stored, so it cannot be replayed: send it without %s",
					pattern, idempotencyHeader))
				return
			default:
				s.idempotent(w, r, c, serve)
				return
			}
		}
		serve(w, r)
	}))
}

// keyPolicy says how a route whose answer carries a bearer token treats an
// Idempotency-Key. Tokens are stored only hashed, so such an answer cannot
// be kept for replay: a login simply runs again (a retried login only
// issues another token); a terminal registration refuses the key rather
// than make a second terminal on a retry.
type keyPolicy int

const (
	storeAnswer keyPolicy = iota
	ignoreKey
	refuseKey
)

var secretAnswers = map[string]keyPolicy{
	"POST /v1/auth/login":           ignoreKey,
	"POST /v1/terminals":            refuseKey,
	"POST /v1/terminals/{id}/token": refuseKey,
}

func mutating(method string) bool {
	switch method {
	case nethttp.MethodPost, nethttp.MethodPut, nethttp.MethodPatch, nethttp.MethodDelete:
		return true
	}
	return false
}

// authorize resolves the bearer token of r and checks its role against a,
// before any handler runs: unauthenticated (401) or forbidden (403).
func (s *Server) authorize(r *nethttp.Request, a access) (latchkey.Caller, error) {
	if a == public {
		return latchkey.Caller{}, nil
	}
	token, ok := bearerToken(r)
	if !ok {
		return latchkey.Caller{}, latchkey.Errorf(latchkey.EUNAUTHENTICATED, "a bearer token is required (Authorization: Bearer <token>)")
	}
	c, err := s.store.Authenticate(r.Context(), token)
	if err != nil {
		return latchkey.Caller{}, err
	}
	if !a.allows(c.Role) {
		return latchkey.Caller{}, latchkey.Errorf(latchkey.EFORBIDDEN, "this call is not allowed with a %s token", roleName(c.Role)).
			With("role", string(c.Role))
	}
	return c, nil
}

func roleName(r latchkey.Role) string {
	if r == "" {
		return "role-less"
	}
	return string(r)
}

// bearerToken returns the token of an "Authorization: Bearer <token>"
// header.
func bearerToken(r *nethttp.Request) (string, bool) {
	h := r.Header.Values("Authorization")
	if len(h) != 1 {
		return "", false
	}
	scheme, token, ok := strings.Cut(strings.TrimSpace(h[0]), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" || len(token) > maxBearerTokenSize {
		return "", false
	}
	return token, true
}

// listBody is the wire shape of every list: items never null, next ""
// at the end.
type listBody[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next"`
}

func listOf[T any](items []T, next string) listBody[T] {
	if items == nil {
		items = []T{}
	}
	return listBody[T]{Items: items, Next: next}
}
