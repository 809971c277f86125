package http

import (
	nethttp "net/http"
	"strings"
	"time"

	"latchkey"
)

// Lock actions, the last segment of POST /v1/locks/{name}/{action}.
const (
	lockAcquire   = "acquire"
	lockKeepalive = "keepalive"
	lockRelease   = "release"
)

// lockPath splits the path value of /v1/locks/{rest...} into a lock name
// and, for POST, its action. Names are path-like and come unescaped or
// with %2F; the mux hands over the unescaped rest either way.
func lockPath(r *nethttp.Request, withAction bool) (name, action string, err error) {
	rest := r.PathValue("rest")
	if withAction {
		i := strings.LastIndexByte(rest, '/')
		if i < 0 {
			return "", "", latchkey.Errorf(latchkey.ENOTFOUND, "no such route: POST /v1/locks/{name}/acquire|keepalive|release")
		}
		rest, action = rest[:i], rest[i+1:]
		switch action {
		case lockAcquire, lockKeepalive, lockRelease:
		default:
			return "", "", latchkey.Errorf(latchkey.ENOTFOUND, "no lock action %q: acquire, keepalive or release", action)
		}
	}
	if err := latchkey.ValidLockName("name", rest); err != nil {
		return "", "", err
	}
	return rest, action, nil
}

// acquireBody is POST /v1/locks/{name}/acquire; every field is optional.
type acquireBody struct {
	TTLSeconds *int   `json:"ttl_seconds"`
	Wait       bool   `json:"wait"`
	Force      bool   `json:"force"`
	Note       string `json:"note"`

	req latchkey.AcquireRequest
}

func (acquireBody) bodyOptional() {}

func (b *acquireBody) validate() error {
	b.req = latchkey.AcquireRequest{TTLSeconds: b.TTLSeconds, Wait: b.Wait, Force: b.Force, Note: b.Note}
	return b.req.Validate()
}

// keepaliveBody is POST /v1/locks/{name}/keepalive: the grant's token and,
// optionally, a new lease length (default: the grant's own).
type keepaliveBody struct {
	Token      uint64 `json:"token"`
	TTLSeconds *int   `json:"ttl_seconds"`

	ttl time.Duration
}

func (b *keepaliveBody) validate() error {
	if b.Token == 0 {
		return latchkey.BadField("token", "token is required: the fencing token of your grant")
	}
	if b.TTLSeconds != nil {
		ttl, err := latchkey.LockTTL(*b.TTLSeconds)
		if err != nil {
			return err
		}
		b.ttl = ttl
	}
	return nil
}

// releaseBody is POST /v1/locks/{name}/release: the grant's token, or
// leave_queue to give up a place in the queue (both may be sent).
type releaseBody struct {
	Token      uint64 `json:"token"`
	LeaveQueue bool   `json:"leave_queue"`
}

func (b *releaseBody) validate() error {
	if b.Token == 0 && !b.LeaveQueue {
		return latchkey.BadField("token", "token is required (or leave_queue: true to give up a place in the queue)")
	}
	return nil
}

// lockAction is POST /v1/locks/{name}/acquire|keepalive|release.
func (s *Server) lockAction(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	name, action, err := lockPath(r, true)
	if err != nil {
		return 0, nil, err
	}
	ctx := r.Context()
	switch action {
	case lockAcquire:
		in, err := decode[acquireBody](r, s.maxBody)
		if err != nil {
			return 0, nil, err
		}
		res, err := s.store.AcquireLock(ctx, c, name, in.req)
		if err != nil {
			return 0, nil, err
		}
		return nethttp.StatusOK, res, nil
	case lockKeepalive:
		in, err := decode[keepaliveBody](r, s.maxBody)
		if err != nil {
			return 0, nil, err
		}
		exp, err := s.store.KeepaliveLock(ctx, c, name, in.Token, in.ttl)
		if err != nil {
			return 0, nil, err
		}
		return nethttp.StatusOK, map[string]time.Time{"expires_at": exp}, nil
	default:
		in, err := decode[releaseBody](r, s.maxBody)
		if err != nil {
			return 0, nil, err
		}
		if err := s.store.ReleaseLock(ctx, c, name, in.Token, in.LeaveQueue); err != nil {
			return 0, nil, err
		}
		return nethttp.StatusNoContent, nil, nil
	}
}

// getLock is GET /v1/locks/{name}: holder, lease and queue.
func (s *Server) getLock(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	name, _, err := lockPath(r, false)
	if err != nil {
		return 0, nil, err
	}
	l, err := s.store.GetLock(r.Context(), c, name)
	if err != nil {
		return 0, nil, err
	}
	return nethttp.StatusOK, lockView(*l), nil
}

// listLocks is GET /v1/locks?after=&limit=, by name.
func (s *Server) listLocks(r *nethttp.Request, c latchkey.Caller) (int, any, error) {
	p, err := pageQuery(r)
	if err != nil {
		return 0, nil, err
	}
	items, err := s.store.ListLocks(r.Context(), c, p)
	if err != nil {
		return 0, nil, err
	}
	next := ""
	if len(items) > 0 && len(items) >= p.Normalize().Limit {
		next = items[len(items)-1].Name
	}
	out := make([]lockWire, len(items))
	for i, l := range items {
		out[i] = lockView(l)
	}
	return nethttp.StatusOK, listOf(out, next), nil
}

// lockWire is a lock's wire shape: the holder's expires_at also at the
// top (API.md names it there), the queue never null.
type lockWire struct {
	latchkey.Lock
	ExpiresAt *time.Time `json:"expires_at"`
}

func lockView(l latchkey.Lock) lockWire {
	if l.Queue == nil {
		l.Queue = []latchkey.LockWaiter{}
	}
	w := lockWire{Lock: l}
	if l.Holder != nil {
		w.ExpiresAt = &l.Holder.ExpiresAt
	}
	return w
}
