package apitest_test

// A sequential model of ONE exclusive edit lock for porcupine, the
// linearizability checker (linearizability_test.go records the histories).
// It follows the rules of lock.go (DecideAcquire, DecideKeepalive,
// DecideRelease, SettleLock) for leases that never run out: the histories
// are recorded with a lease of an hour, so the model has no clock.

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/anishathalye/porcupine"
)

// lockOpKind is what a client asks of a lock.
type lockOpKind uint8

const (
	opAcquire      lockOpKind = iota // acquire
	opAcquireWait                    // acquire with wait: true
	opAcquireForce                   // acquire with force: true
	opKeepalive                      // keepalive with Token
	opRelease                        // release with Token
	opLeave                          // release with leave_queue (and Token when non-zero)
	opGet                            // GET the lock
	numLockOps
)

var lockOpNames = [numLockOps]string{"acquire", "acquire(wait)", "acquire(force)", "keepalive", "release", "release(leave)", "get"}

func (k lockOpKind) String() string { return lockOpNames[k] }

// lockInput is one call: who (a client is one user token), on which lock,
// what, and with which fencing token.
type lockInput struct {
	Lock   string
	Client int
	Kind   lockOpKind
	Token  uint64
}

// Holder values in outputs besides client indexes.
const (
	lockFree     = -1 // the lock is free (no holder)
	lockStranger = -2 // a principal that is none of the clients
)

// lockOutput is one answer. Every field is a plain value so that answers
// compare with ==.
type lockOutput struct {
	Unknown     bool   // no answer (transport error): any outcome is possible
	Err         string // the error code, "" on success
	Exclusive   bool   // acquire: mode exclusive (else read_only)
	Token       uint64 // acquire: the grant's token when exclusive
	Holder      int    // acquire and get: the holder's client, or lockFree, lockStranger
	HolderToken uint64 // acquire and get: the holder's token where the answer shows it (0: not shown)
	Position    int    // acquire: the caller's queue position, if queued
	Fence       uint64 // get: the last token granted
	Queue       string // get: the waiting clients in order, one byte each
}

// lockState is the sequential lock: its holder (a client, or lockFree),
// the last token granted and the FIFO queue of waiting clients, one byte
// each. The holder's token is always Fence: every grant takes the next
// token and nothing else changes it. Comparable, so porcupine's default
// == equality applies.
type lockState struct {
	Holder int
	Fence  uint64
	Queue  string
}

func initLockState() lockState { return lockState{Holder: lockFree} }

// queued is c's 1-based place in the queue, 0 if none.
func (s lockState) queued(c int) int { return strings.IndexByte(s.Queue, byte(c)) + 1 }

// without returns the queue without c.
func (s lockState) without(c int) string {
	return strings.Replace(s.Queue, qbyte(c), "", 1)
}

// qbyte is client c as a byte of a queue string.
func qbyte(c int) string { return string([]byte{byte(c)}) }

// grantTo gives the lock to c with the next token (leaving c's place).
func (s lockState) grantTo(c int) lockState {
	s.Queue = s.without(c)
	s.Fence++
	s.Holder = c
	return s
}

// handOver gives a free lock to the first waiter, as grantNext does.
func (s lockState) handOver() lockState {
	if s.Holder != lockFree || s.Queue == "" {
		return s
	}
	return s.grantTo(int(s.Queue[0]))
}

// lockEvent names what an operation did, for the counts of a run.
type lockEvent string

const (
	evGrant       lockEvent = "grant (free lock)"
	evAgain       lockEvent = "grant again (holder)"
	evForce       lockEvent = "grant by force (broke a holder)"
	evDeny        lockEvent = "denied (read_only)"
	evQueue       lockEvent = "queued (read_only + position)"
	evRequeue     lockEvent = "renewed place in queue"
	evKeepalive   lockEvent = "keepalive ok"
	evNotHeld     lockEvent = "lock_not_held"
	evFree        lockEvent = "release (lock freed)"
	evHandOver    lockEvent = "release (queued grant to first waiter)"
	evStale       lockEvent = "release with a stale token (no change)"
	evLeave       lockEvent = "left the queue"
	evLeaveNoop   lockEvent = "leave_queue while not queued"
	evGet         lockEvent = "get"
	evGetNotFound lockEvent = "get (not_found)"
)

// stepLock is the sequential lock: the state after in, the answer the
// lock gives, and what happened.
func stepLock(s lockState, in lockInput) (lockState, lockOutput, lockEvent) {
	c := in.Client
	switch in.Kind {
	case opAcquire, opAcquireWait, opAcquireForce:
		switch {
		case s.Holder == lockFree:
			s = s.grantTo(c)
			return s, lockOutput{Exclusive: true, Token: s.Fence, Holder: c, HolderToken: s.Fence}, evGrant
		case s.Holder == c: // asking again, even with force: the same grant
			return s, lockOutput{Exclusive: true, Token: s.Fence, Holder: c, HolderToken: s.Fence}, evAgain
		case in.Kind == opAcquireForce:
			s = s.grantTo(c)
			return s, lockOutput{Exclusive: true, Token: s.Fence, Holder: c, HolderToken: s.Fence}, evForce
		case in.Kind == opAcquireWait:
			ev := evRequeue
			if s.queued(c) == 0 {
				s.Queue += qbyte(c)
				ev = evQueue
			}
			return s, lockOutput{Holder: s.Holder, HolderToken: s.Fence, Position: s.queued(c)}, ev
		}
		return s, lockOutput{Holder: s.Holder, HolderToken: s.Fence, Position: s.queued(c)}, evDeny
	case opKeepalive:
		if s.Holder == c && in.Token == s.Fence {
			return s, lockOutput{Holder: lockFree}, evKeepalive
		}
		return s, lockOutput{Err: "lock_not_held", Holder: lockFree}, evNotHeld
	case opRelease, opLeave:
		// The server releases the token, then gives up the caller's
		// place, in one transaction.
		ev := evStale
		if in.Token != 0 && s.Holder == c && in.Token == s.Fence {
			ev = evFree
			if s.Queue != "" {
				ev = evHandOver
			}
			s.Holder = lockFree
			s = s.handOver()
		}
		if in.Kind == opLeave && ev == evStale {
			ev = evLeaveNoop
			if s.queued(c) > 0 {
				s.Queue = s.without(c)
				ev = evLeave
			}
		}
		return s, lockOutput{Holder: lockFree}, ev
	case opGet:
		out := lockOutput{Holder: s.Holder, Fence: s.Fence, Queue: s.Queue}
		if s.Holder != lockFree {
			out.HolderToken = s.Fence
		}
		return s, out, evGet
	}
	panic(fmt.Sprintf("unknown lock operation %d", in.Kind))
}

// lockAdmits reports whether the lock in state s may answer in with got. A
// call without an answer admits anything and still moves the state as
// the call would: its return is after the end of the history, so a call
// that never happened is linearized last, where nobody sees its effect.
func lockAdmits(s lockState, in lockInput, want, got lockOutput) bool {
	if got.Unknown {
		return true
	}
	if got.HolderToken == 0 {
		want.HolderToken = 0 // an answer may leave the holder's token out
	}
	if in.Kind == opGet && s == initLockState() && got.Err == "not_found" {
		return true // a lock never acquired
	}
	return want == got
}

// lockModel is the porcupine model: one lock per partition.
var lockModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byLock := map[string][]porcupine.Operation{}
		var names []string
		for _, op := range history {
			n := op.Input.(lockInput).Lock
			if _, ok := byLock[n]; !ok {
				names = append(names, n)
			}
			byLock[n] = append(byLock[n], op)
		}
		out := make([][]porcupine.Operation, 0, len(names))
		for _, n := range names {
			out = append(out, byLock[n])
		}
		return out
	},
	Init: func() any { return initLockState() },
	Step: func(state, input, output any) (bool, any) {
		s, in := state.(lockState), input.(lockInput)
		next, want, _ := stepLock(s, in)
		return lockAdmits(s, in, want, output.(lockOutput)), next
	},
	Hash: func(state any) uint64 {
		s := state.(lockState)
		h := fnv.New64a()
		var b [16]byte
		binary.LittleEndian.PutUint64(b[:8], uint64(s.Holder))
		binary.LittleEndian.PutUint64(b[8:], s.Fence)
		h.Write(b[:])
		h.Write([]byte(s.Queue))
		return h.Sum64()
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(lockInput), output.(lockOutput)
		call := fmt.Sprintf("c%d %s", in.Client, in.Kind)
		if in.Token != 0 {
			call += fmt.Sprintf("(%d)", in.Token)
		}
		return call + " -> " + describeOutput(in, out)
	},
	DescribeState: func(state any) string {
		s := state.(lockState)
		if s.Holder == lockFree {
			return fmt.Sprintf("free, fence %d, queue %s", s.Fence, describeQueue(s.Queue))
		}
		return fmt.Sprintf("c%d holds %d, queue %s", s.Holder, s.Fence, describeQueue(s.Queue))
	},
}

func describeQueue(q string) string {
	parts := make([]string, len(q))
	for i := range len(q) {
		parts[i] = fmt.Sprintf("c%d", q[i])
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func describeHolder(h int) string {
	switch h {
	case lockFree:
		return "nobody"
	case lockStranger:
		return "a stranger"
	}
	return fmt.Sprintf("c%d", h)
}

func describeOutput(in lockInput, out lockOutput) string {
	switch {
	case out.Unknown:
		return "unknown (no answer)"
	case out.Err != "":
		return out.Err
	}
	switch in.Kind {
	case opAcquire, opAcquireWait, opAcquireForce:
		if out.Exclusive {
			return fmt.Sprintf("exclusive %d", out.Token)
		}
		s := fmt.Sprintf("read_only, %s holds %d", describeHolder(out.Holder), out.HolderToken)
		if out.Position > 0 {
			s += fmt.Sprintf(", queue position %d", out.Position)
		}
		return s
	case opGet:
		return fmt.Sprintf("%s holds %d, fence %d, queue %s", describeHolder(out.Holder), out.HolderToken, out.Fence, describeQueue(out.Queue))
	}
	return "ok"
}

// tallyLinearization replays the linearization porcupine found for each
// lock and counts what the answered operations did (an operation without
// an answer still moves the state but is not counted).
func tallyLinearization(info porcupine.LinearizationInfo) map[lockEvent]int {
	counts := map[lockEvent]int{}
	for _, partials := range info.PartialLinearizationsOperations() {
		if len(partials) == 0 {
			continue
		}
		s := initLockState()
		for _, op := range partials[0] {
			in, out := op.Input.(lockInput), op.Output.(lockOutput)
			next, _, ev := stepLock(s, in)
			if in.Kind == opGet && out.Err == "not_found" {
				ev = evGetNotFound
			}
			if !out.Unknown {
				counts[ev]++
			}
			s = next
		}
	}
	return counts
}
