package latchkey

import "strings"

// Action names what an audit record (and the event it is on the stream)
// says happened, as noun.verb. Every action the server records is one of
// the constants below and is listed in Actions, which docs/audit-actions.md
// is generated from; the store refuses to record any other.
type Action string

// Sign-in and tokens.
const (
	ActionAuthLogin        Action = "auth.login"
	ActionAuthLoginRefused Action = "auth.login_refused"
	ActionAuthLogout       Action = "auth.logout"
	ActionAuthRevokeTokens Action = "auth.revoke_tokens"
)

// People, identities and sites.
const (
	ActionPrincipalCreate         Action = "principal.create"
	ActionPrincipalUpdate         Action = "principal.update"
	ActionPrincipalOfflineLogon   Action = "principal.offline_logon"
	ActionIdentityAdd             Action = "identity.add"
	ActionIdentityPassword        Action = "identity.password"
	ActionIdentityPasswordRefused Action = "identity.password_refused"
	ActionSiteCreate              Action = "site.create"
	ActionSiteUpdate              Action = "site.update"
)

// Terminals.
const (
	ActionTerminalRegister    Action = "terminal.register"
	ActionTerminalTokenRotate Action = "terminal.token_rotate"
	ActionTerminalEvent       Action = "terminal.event"
	ActionTerminalStandalone  Action = "terminal.standalone"
)

// Terminal sessions.
const (
	ActionSessionLogin             Action = "session.login"
	ActionSessionLoginRefused      Action = "session.login_refused"
	ActionSessionLock              Action = "session.lock"
	ActionSessionUnlock            Action = "session.unlock"
	ActionSessionUnlockRefused     Action = "session.unlock_refused"
	ActionSessionLogout            Action = "session.logout"
	ActionSessionLogoff            Action = "session.logoff"
	ActionSessionExpired           Action = "session.expired"
	ActionSessionFailed            Action = "session.failed"
	ActionSessionWarn              Action = "session.warn"
	ActionSessionLimit             Action = "session.limit"
	ActionSessionClash             Action = "session.clash"
	ActionSessionStandalone        Action = "session.standalone"
	ActionSessionStandaloneUnknown Action = "session.standalone_unknown"
)

// Reservations.
const (
	ActionReservationCreate Action = "reservation.create"
	ActionReservationDelete Action = "reservation.delete"
)

// Edit locks.
const (
	ActionLockAcquire Action = "lock.acquire"
	ActionLockForce   Action = "lock.force"
	ActionLockQueue   Action = "lock.queue"
	ActionLockDequeue Action = "lock.dequeue"
	ActionLockDeny    Action = "lock.deny"
	ActionLockGrant   Action = "lock.grant"
	ActionLockRelease Action = "lock.release"
	ActionLockExpire  Action = "lock.expire"
)

// Configuration.
const (
	ActionConfigWrite        Action = "config.write"
	ActionConfigWriteRefused Action = "config.write_refused"
)

// Group sets and check-outs.
const (
	ActionGroupSetCreate  Action = "groupset.create"
	ActionCheckoutRequest Action = "checkout.request"
	ActionCheckoutDeliver Action = "checkout.deliver"
	ActionCheckoutReply   Action = "checkout.reply"
	ActionCheckoutExtend  Action = "checkout.extend"
	ActionCheckoutWarn    Action = "checkout.warn"
	ActionCheckoutCheckin Action = "checkout.checkin"
	ActionCheckoutExpire  Action = "checkout.expire"
	ActionAuditSeal       Action = "audit.seal"
)

// Access requests and their approval.
const (
	ActionRequestCreate    Action = "request.create"
	ActionRequestDecide    Action = "request.decide"
	ActionRequestProvision Action = "request.provision"
	ActionRequestActive    Action = "request.active"
	ActionRequestDone      Action = "request.done"
	ActionRequestCancel    Action = "request.cancel"
	ActionRequestExpire    Action = "request.expire"
	ActionRequestFail      Action = "request.fail"
)

// The cluster.
const ActionClusterResume Action = "cluster.resume"

// Scheduled tasks.
const (
	ActionTaskCreate Action = "task.create"
	ActionTaskDone   Action = "task.done"
	ActionTaskFail   Action = "task.fail"
	ActionTaskReply  Action = "task.reply"
	ActionTaskFix    Action = "task.fix"
)

// Background jobs.
const (
	ActionJobFail   Action = "job.fail"
	ActionJobRetry  Action = "job.retry"
	ActionJobCancel Action = "job.cancel"
)

// ActionInfo describes one action for the documentation.
type ActionInfo struct {
	Action Action
	// Target says what the record's target is.
	Target string
	// What says, in a few words, what happened.
	What string
}

// Actions is every action the server records, in the order
// docs/audit-actions.md lists them.
var Actions = []ActionInfo{
	{ActionAuthLogin, "login", "a person signed in and got a user token"},
	{ActionAuthLoginRefused, "login", "a sign-in was refused (details.reason)"},
	{ActionAuthLogout, "principal", "a user token was revoked by its holder"},
	{ActionAuthRevokeTokens, "principal", "every user token of a person was revoked"},

	{ActionPrincipalCreate, "principal", "a person was created"},
	{ActionPrincipalUpdate, "principal", "a person's role, scope or disabled flag changed"},
	{ActionPrincipalOfflineLogon, "principal", "offline logon was enabled or disabled for a person"},
	{ActionIdentityAdd, "login", "an identity (login and password) was added to a person"},
	{ActionIdentityPassword, "login", "a password was changed or reset"},
	{ActionIdentityPasswordRefused, "login", "a password change was refused (details.reason)"},
	{ActionSiteCreate, "site", "a site was created"},
	{ActionSiteUpdate, "site", "a site's settings changed"},

	{ActionTerminalRegister, "terminal", "a terminal was registered"},
	{ActionTerminalTokenRotate, "terminal", "a terminal's token was replaced; the old one stopped working"},
	{ActionTerminalEvent, "terminal", "a terminal uploaded its events"},
	{ActionTerminalStandalone, "terminal", "a terminal reported a standalone period"},

	{ActionSessionLogin, "session", "a person logged on at a terminal"},
	{ActionSessionLoginRefused, "login", "a logon at a terminal was refused (details.reason)"},
	{ActionSessionLock, "session", "a session was locked"},
	{ActionSessionUnlock, "session", "a session was unlocked"},
	{ActionSessionUnlockRefused, "session", "an unlock was refused (details.reason)"},
	{ActionSessionLogout, "session", "a session ended by log-out or force"},
	{ActionSessionLogoff, "session", "a session was ended by the server (a verdict or a limit)"},
	{ActionSessionExpired, "session", "a session ended by the idle rules (details.reason)"},
	{ActionSessionFailed, "session", "a session failed (its terminal lost it)"},
	{ActionSessionWarn, "session", "a warning was due for a session: the Time Critical Warning before its limit, or the one before its forced timeout"},
	{ActionSessionLimit, "session", "a session reached its limit (maximum, quota or reservation)"},
	{ActionSessionClash, "session", "a standalone session overlapped a reservation"},
	{ActionSessionStandalone, "session", "a standalone session was reconciled from a terminal's journal"},
	{ActionSessionStandaloneUnknown, "journal entry", "a journal entry named an unknown identity"},

	{ActionReservationCreate, "reservation", "a terminal was booked"},
	{ActionReservationDelete, "reservation", "a booking was cancelled"},

	{ActionLockAcquire, "lock", "an edit lock was taken (or renewed) by its caller"},
	{ActionLockForce, "lock", "an edit lock was taken over by force"},
	{ActionLockQueue, "lock", "a caller joined an edit lock's queue"},
	{ActionLockDequeue, "lock", "a caller left an edit lock's queue"},
	{ActionLockDeny, "lock", "an edit lock was refused (held by another)"},
	{ActionLockGrant, "lock", "an edit lock passed to the next in its queue"},
	{ActionLockRelease, "lock", "an edit lock was released"},
	{ActionLockExpire, "lock", "an edit lock's holder timed out"},

	{ActionConfigWrite, "config domain", "configuration items were written"},
	{ActionConfigWriteRefused, "config domain", "a configuration write was refused (details.reason)"},

	{ActionGroupSetCreate, "group set", "a group set was created"},
	{ActionCheckoutRequest, "check-out", "a group set was checked out"},
	{ActionCheckoutDeliver, "check-out", "an instruction was delivered to a terminal's agent"},
	{ActionCheckoutReply, "check-out", "a terminal's agent answered an instruction"},
	{ActionCheckoutExtend, "check-out", "a check-out was extended"},
	{ActionCheckoutWarn, "check-out", "a check-out's expiry warning was due"},
	{ActionCheckoutCheckin, "check-out", "a check-out was checked in"},
	{ActionCheckoutExpire, "check-out", "a check-out ran out and was checked in by the server"},
	{ActionAuditSeal, "head seq", "the audit head was sealed with the server's key"},

	{ActionRequestCreate, "request", "an access request was made (waiting for approval, or provisioning)"},
	{ActionRequestDecide, "request", "an approver approved or denied a request (details.decision)"},
	{ActionRequestProvision, "request", "a request's workflow checked its group set out to one of its terminals"},
	{ActionRequestActive, "request", "every terminal of a request was checked out; its requester is notified"},
	{ActionRequestDone, "request", "the last check-out of a request ended"},
	{ActionRequestCancel, "request", "a request was cancelled; what it provisioned was checked in"},
	{ActionRequestExpire, "request", "a request waited too long for approval"},
	{ActionRequestFail, "request", "a request's step failed; what it provisioned was checked in (details.error)"},

	{ActionClusterResume, "-", "the cluster came back after a silence (details.gap): live leases got the time back"},

	{ActionTaskCreate, "task", "an admin scheduled a task (or a recurring task scheduled its next run)"},
	{ActionTaskDone, "task", "a task ran to its end; its result is kept"},
	{ActionTaskFail, "task", "a task failed for good (details.error)"},
	{ActionTaskReply, "task", "a terminal's agent answered an instruction a task issued (a reconciliation's inventory or correction)"},
	{ActionTaskFix, "task", "a reconciliation found drift on a terminal and issued the instructions that correct it (details.unexpected, missing, instructions)"},

	{ActionJobFail, "job", "a background job used its attempts and ended failed (details.error)"},
	{ActionJobRetry, "job", "an admin made a failed or cancelled job run again"},
	{ActionJobCancel, "job", "an admin cancelled a job"},
}

var knownActions = func() map[Action]bool {
	m := make(map[Action]bool, len(Actions))
	for _, a := range Actions {
		m[a.Action] = true
	}
	return m
}()

// Known reports whether a is one of Actions.
func (a Action) Known() bool { return knownActions[a] }

// Noun is the part of a before the dot ("lock" for lock.grant).
func (a Action) Noun() string {
	noun, _, _ := strings.Cut(string(a), ".")
	return noun
}
