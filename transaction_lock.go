package latchkey

// EUM-CE-CL-30: locking a counter during a transaction pauses the
// transaction, if the site allows it; otherwise the data centre tells the
// counter that the transaction must be completed first. The site's
// transaction_on_lock says which.

// TransactionOnLock is a site's answer to a lock during a transaction.
type TransactionOnLock string

const (
	TransactionPause    TransactionOnLock = "pause"    // the lock pauses the transaction (the default)
	TransactionComplete TransactionOnLock = "complete" // a manual lock waits until it is completed
)

// TransactionMustComplete is details.transaction of a lock refused until
// the transaction is completed.
const TransactionMustComplete = "must_complete"

// Valid reports whether t is one of the settings.
func (t TransactionOnLock) Valid() bool { return t == TransactionPause || t == TransactionComplete }

// DecideTransactionOnLock checks a lock of reason during a transaction
// (inTransaction) at site: refused with conflict (details.transaction
// "must_complete") when the site wants transactions completed first and
// the person pressed lock. An inactivity lock always locks (an unattended
// counter must not stay open); outside a transaction there is nothing to
// decide.
func DecideTransactionOnLock(site Site, reason LockReason, inTransaction bool) error {
	if !inTransaction || reason == LockInactivity || site.TransactionOnLock != TransactionComplete {
		return nil
	}
	return Errorf(ECONFLICT, "this site does not pause transactions on lock: complete the transaction, then lock the counter").
		With("transaction", TransactionMustComplete)
}
