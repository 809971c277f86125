package latchkey

import (
	"context"
	"time"
)

// Clock tells the time; tests inject a fake one so the seeds' timeouts run
// in milliseconds.
type Clock interface{ Now() time.Time }

// SystemClock is the wall clock, in UTC.
type SystemClock struct{}

func (SystemClock) Now() time.Time { return time.Now().UTC() }

// UserToken is the answer of a successful POST /v1/auth/login.
type UserToken struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
	Principal struct {
		ID   string `json:"id"`
		Name string `json:"name"`
		Role Role   `json:"role"`
	} `json:"principal"`
}

// AuthService turns credentials into tokens and tokens into callers.
type AuthService interface {
	// Login checks an identity's password (counting failures towards the
	// lockout) and issues a user token. Errors: invalid_credentials,
	// account_locked, account_disabled.
	Login(ctx context.Context, login, password string) (*UserToken, error)
	// Logout revokes a user token. It is idempotent.
	Logout(ctx context.Context, token string) error
	// Authenticate resolves a bearer token. Errors: unauthenticated.
	Authenticate(ctx context.Context, token string) (Caller, error)
}

// PrincipalUpdate is a PATCH of a principal; nil fields stay as they are.
type PrincipalUpdate struct {
	Disabled *bool `json:"disabled"`
	Role     *Role `json:"role"`
	Global   *bool `json:"global"`
}

// PrincipalService manages people and their identities. Writes need an
// admin or delegate caller (forbidden otherwise).
type PrincipalService interface {
	// CreatePrincipal errors: bad_request, forbidden, conflict (name taken).
	CreatePrincipal(ctx context.Context, c Caller, p Principal) (*Principal, error)
	// GetPrincipal: staff, or the principal itself. Errors: not_found, forbidden.
	GetPrincipal(ctx context.Context, c Caller, id string) (*Principal, error)
	ListPrincipals(ctx context.Context, c Caller, page Page) ([]Principal, string, error)
	// UpdatePrincipal errors: bad_request, forbidden, not_found.
	UpdatePrincipal(ctx context.Context, c Caller, id string, u PrincipalUpdate) (*Principal, error)
	// AddIdentity errors: bad_request, forbidden, not_found, conflict (login taken).
	AddIdentity(ctx context.Context, c Caller, principalID, login, password string) (*Identity, error)
	// ChangePassword: anyone for their own identity (old password
	// required), staff for people below them (CanSetPassword); the owner's
	// other user tokens are revoked. Errors: bad_request,
	// invalid_credentials, account_locked, forbidden, not_found.
	ChangePassword(ctx context.Context, c Caller, login, oldPassword, newPassword string) error
	// RevokeTokens makes every user token of a principal stop working
	// (CanRevokeTokens). Errors: forbidden, not_found.
	RevokeTokens(ctx context.Context, c Caller, principalID string) error
}

// TerminalService registers terminals. A terminal token sees only itself.
type TerminalService interface {
	// RegisterTerminal returns the terminal with its token, shown once.
	// Errors: bad_request (unknown site: details.field "site"), forbidden.
	RegisterTerminal(ctx context.Context, c Caller, name, siteID string) (*Terminal, error)
	GetTerminal(ctx context.Context, c Caller, id string) (*Terminal, error)
	ListTerminals(ctx context.Context, c Caller, page Page) ([]Terminal, string, error)
	// RotateTerminalToken returns a new token for the terminal, shown once;
	// its old tokens stop working at once (CanRotateTerminalToken).
	// Errors: forbidden, not_found.
	RotateTerminalToken(ctx context.Context, c Caller, terminalID string) (string, error)
}

// LoginRequest is POST /v1/terminals/{id}/sessions.
type LoginRequest struct {
	Identity string    `json:"identity"`
	Password string    `json:"password"`
	Force    bool      `json:"force"`
	TimeSent time.Time `json:"time_sent"`
}

// LoginResult is the answer of a successful terminal login.
type LoginResult struct {
	Session Session  `json:"session"`
	Failed  []string `json:"failed"`
}

// LockRequest is POST /v1/sessions/{id}/lock.
type LockRequest struct {
	TimeSent time.Time `json:"time_sent"`
	Reason   string    `json:"reason"`
}

// UnlockRequest is POST /v1/sessions/{id}/unlock.
type UnlockRequest struct {
	Identity string    `json:"identity"`
	Password string    `json:"password"`
	Force    bool      `json:"force"`
	TimeSent time.Time `json:"time_sent"`
}

// SessionService runs terminal sessions under the concurrent-login rules.
// Calls that change a session need the terminal token of the session's
// terminal (forbidden otherwise).
type SessionService interface {
	// StartSession (log on) errors: invalid_credentials, account_locked,
	// account_disabled, identity_in_use, concurrent_session, forbidden, not_found.
	StartSession(ctx context.Context, c Caller, terminalID string, r LoginRequest) (*LoginResult, error)
	// GetSession: staff, the session's principal or its terminal.
	GetSession(ctx context.Context, c Caller, id string) (*Session, error)
	// LockSession errors: session_failed, conflict (not active), forbidden, not_found.
	LockSession(ctx context.Context, c Caller, id string, r LockRequest) (*Session, error)
	// UnlockSession errors: as LockSession, plus the credential errors and concurrent_session.
	UnlockSession(ctx context.Context, c Caller, id string, r UnlockRequest) (*Session, error)
	// TouchSession records activity. Errors: as LockSession.
	TouchSession(ctx context.Context, c Caller, id string) (*Session, error)
	// EndSession logs out: it ends a session (idempotent on ended/expired ones). Errors:
	// session_failed, forbidden, not_found.
	EndSession(ctx context.Context, c Caller, id string) (*Session, error)
	// ListPrincipalSessions: staff or the principal itself; status "" = all.
	ListPrincipalSessions(ctx context.Context, c Caller, principalID string, status SessionStatus, page Page) ([]Session, string, error)
	// RecordTerminalEvents stores a batch of deferred events of the caller's
	// own terminal; events with an ID already stored are skipped.
	RecordTerminalEvents(ctx context.Context, c Caller, terminalID string, events []TerminalEvent) (int, error)
	// ListTerminalEvents: staff or the terminal itself.
	ListTerminalEvents(ctx context.Context, c Caller, terminalID string, page Page) ([]TerminalEvent, string, error)
	// ApplyTimeouts applies inactivity locks and forced timeouts due by now
	// to every ACTIVE session (the sweeper); it returns how many changed.
	ApplyTimeouts(ctx context.Context) (int, error)
}

// AuditService reads the audit log. Staff only (verify, seal and export:
// admin only; EFORBIDDEN otherwise).
type AuditService interface {
	ListAudit(ctx context.Context, c Caller, f AuditFilter) ([]AuditRecord, error)
	VerifyAudit(ctx context.Context, c Caller) (*AuditVerification, error)
	// SealAudit signs the chain's current head with the server's key.
	SealAudit(ctx context.Context, c Caller) (*AuditSeal, error)
	// ExportAudit calls fn for each record after seq after (EBADREQUEST
	// when negative), up to the head when it began, in seq order, reading
	// a page at a time; an error from fn stops it and is returned.
	ExportAudit(ctx context.Context, c Caller, after int64, fn func(AuditRecord) error) error
	// SealAuditIfDue is the periodic sealer's step: it seals the head and
	// records the seal as an `audit.seal` record when SealDue says so, and
	// returns the seal (nil when none was due).
	SealAuditIfDue(ctx context.Context, every time.Duration) (*AuditSeal, error)
}

// LockService keeps exclusive edit locks (API.md "Exclusive edit locks").
// Every route needs an admin's or a delegate's user token (EFORBIDDEN
// otherwise); a lock is held by the user token that acquired it.
type LockService interface {
	// AcquireLock grants, queues or denies (AcquireResult.Mode read_only);
	// EFORBIDDEN for force by a user, EBADREQUEST for a bad name or TTL.
	AcquireLock(ctx context.Context, c Caller, name string, r AcquireRequest) (*AcquireResult, error)
	// KeepaliveLock renews the caller's lease: ELOCKNOTHELD unless the
	// caller holds the lock with token. A zero ttl keeps the grant's lease
	// length.
	KeepaliveLock(ctx context.Context, c Caller, name string, token uint64, ttl time.Duration) (time.Time, error)
	// ReleaseLock frees the lock if the caller holds it with token (a
	// stale or zero token changes nothing) and, with leaveQueue, gives up
	// the caller's place in the queue: one transaction.
	ReleaseLock(ctx context.Context, c Caller, name string, token uint64, leaveQueue bool) error
	// GetLock shows a lock's holder, lease and queue (ENOTFOUND for a lock
	// never acquired); ListLocks lists them by name.
	GetLock(ctx context.Context, c Caller, name string) (*Lock, error)
	ListLocks(ctx context.Context, c Caller, p Page) ([]Lock, error)
	// SweepLocks applies lease expiry to every lock due and returns how
	// many locks it changed and how long until the next expiry is due (0
	// when none is).
	SweepLocks(ctx context.Context) (int, time.Duration, error)
}

// StoredResponse is a response kept for an Idempotency-Key.
type StoredResponse struct {
	Status int
	Body   []byte
}

// IdempotencyService remembers the first response to a keyed request.
type IdempotencyService interface {
	// BeginIdempotent claims (scope, key) for request: the canonical
	// request body with every password blanked (the HTTP layer's
	// fingerprint input). The store keeps only an HMAC of it under a
	// server secret, never the request. It returns the stored response of
	// an earlier, finished request with the same key and request;
	// conflict if the key was used with another request or its first
	// request is still running (DecideIdempotency). A key older than the
	// store's TTL is taken as new.
	BeginIdempotent(ctx context.Context, scope, key string, request []byte) (*StoredResponse, error)
	// FinishIdempotent stores the response; AbandonIdempotent frees the key
	// after a response that must not be replayed (a 5xx).
	FinishIdempotent(ctx context.Context, scope, key string, r StoredResponse) error
	AbandonIdempotent(ctx context.Context, scope, key string) error
	// SweepIdempotency deletes the records older than the TTL (the
	// sweeper) and returns how many.
	SweepIdempotency(ctx context.Context) (int, error)
}

// Store is everything the HTTP server needs of the store.
type Store interface {
	AuthService
	PrincipalService
	SiteService
	TerminalService
	SessionService
	AuditService
	IdempotencyService
	LockService
	EventService
	ConfigService
	GroupSetService
	CheckoutService
	ReservationService
	AgentService
	// Ping reports whether the store is reachable (readiness).
	Ping(ctx context.Context) error
	Close() error
}
