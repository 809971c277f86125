package client

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"latchkey"
)

// A client given several server URLs ("http://a:7420,http://b:7420",
// the nodes of one cluster) fails over between them: a call goes to the
// node that last answered, and is sent to the next one when that node
// cannot be reached, answers 503 (draining, or its store unreachable),
// or breaks off after the request went out. Every mutating call of such a
// client carries an Idempotency-Key (one per call, the same on every
// retry; not the two whose answer is a token shown once, terminal
// registration and token rotation, on which the server refuses a key),
// so a request that reached a node that died is applied at most
// once: the next node replays the first answer, runs the request if it
// never took effect, or says its answer was lost (conflict,
// idempotency_response_lost) if it did and the node died before
// answering. While the first node may still be working on it (conflict,
// idempotency_key_in_progress), the client waits and asks again, for at
// most InProgressWait.

// InProgressWait bounds how long a failing-over call waits for a keyed
// request another node may still be running (a dead node is known dead
// within 3 s).
const InProgressWait = 8 * time.Second

// servers is a client's list of nodes and the one it talks to now.
type servers struct {
	urls []string
	cur  atomic.Int32
}

func newServers(list string) *servers {
	s := &servers{}
	for _, u := range strings.Split(list, ",") {
		if u = strings.TrimRight(strings.TrimSpace(u), "/"); u != "" {
			s.urls = append(s.urls, u)
		}
	}
	if len(s.urls) == 0 {
		s.urls = []string{""}
	}
	return s
}

// at is the i-th server after the current one.
func (s *servers) at(i int) (int, string) {
	k := (int(s.cur.Load()) + i) % len(s.urls)
	return k, s.urls[k]
}

// answered makes server k the current one.
func (s *servers) answered(k int) { s.cur.Store(int32(k)) }

// failsOver reports whether the client has more than one server.
func (s *servers) failsOver() bool { return len(s.urls) > 1 }

// ServerURLs returns the servers the client calls, the current one first.
func (c *Client) ServerURLs() []string {
	out := make([]string, 0, len(c.servers.urls))
	for i := range c.servers.urls {
		_, u := c.servers.at(i)
		out = append(out, u)
	}
	return out
}

// mutating reports a method that changes state.
func mutating(method string) bool {
	return method != http.MethodGet && method != http.MethodHead && method != http.MethodOptions
}

// newCallKey makes an Idempotency-Key for one call.
func newCallKey() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand: " + err.Error())
	}
	return "lk-" + hex.EncodeToString(b[:])
}

// notSent reports a transport error before the request reached the
// server (it could not be connected to): always safe to send elsewhere.
func notSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// retryElsewhere says whether an answer (status, or the API error of a
// refusal) sends the call to the next node: 503, the node did not act.
func retryElsewhere(status int) bool { return status == http.StatusServiceUnavailable }

// inProgress reports the refusal of a keyed request another node may
// still be running.
func inProgress(err error) bool {
	return latchkey.ErrorCode(err) == latchkey.ECONFLICT && latchkey.ErrorDetails(err)["reason"] == "idempotency_key_in_progress"
}
