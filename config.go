package latchkey

import (
	"context"
	"maps"
	"slices"
	"time"
	"unicode"
	"unicode/utf8"
)

// Bounds of a configuration write.
const (
	MaxConfigItems    = 1000
	MaxConfigKeyLen   = 200
	MaxConfigValueLen = 64 << 10
)

// ConfigDomain is a configuration domain (API.md "atomic configuration"):
// a set of string items and a version, 0 for a domain never written and
// +1 for every committed write.
type ConfigDomain struct {
	Domain  string            `json:"domain"`
	Version int64             `json:"version"`
	Items   map[string]string `json:"items"`
}

// ConfigWrite is PUT /v1/config/{domain}: items to set (a nil value
// removes the key; Replace drops every key not given), the lock token the
// write is made under, and the version it expects.
type ConfigWrite struct {
	Items     map[string]*string
	Replace   bool
	LockToken uint64 // 0: none given
	IfVersion *int64
}

// ConfigPolicy says which domains are managed by which lock, and which
// only admins may write.
type ConfigPolicy struct {
	Managed   map[string]string // domain → lock name
	AdminOnly map[string]bool
}

// DefaultConfigPolicy is API.md's: users is managed by admin/users and
// trusts by admin/trusts; security/2fa is for admins only.
func DefaultConfigPolicy() ConfigPolicy {
	return ConfigPolicy{
		Managed:   map[string]string{"users": "admin/users", "trusts": "admin/trusts"},
		AdminOnly: map[string]bool{"security/2fa": true},
	}
}

// ValidConfigDomain checks a domain name: path-like, as a lock name.
func ValidConfigDomain(domain string) error { return ValidLockName("domain", domain) }

// Validate checks a write's shape: bad input is refused before anything
// is read or changed.
func (w ConfigWrite) Validate() error {
	if len(w.Items) > MaxConfigItems {
		return BadField("items", "at most %d items in one write", MaxConfigItems)
	}
	if len(w.Items) == 0 && !w.Replace {
		return BadField("items", "items is required: at least one item to set or remove")
	}
	for _, k := range slices.Sorted(maps.Keys(w.Items)) {
		if k == "" || len(k) > MaxConfigKeyLen || !utf8.ValidString(k) || hasControl(k) {
			return BadField("items", "item keys must be 1 to %d printable characters: %q", MaxConfigKeyLen, k).With("key", k)
		}
		if v := w.Items[k]; v != nil && (len(*v) > MaxConfigValueLen || !utf8.ValidString(*v)) {
			return BadField("items", "item %q: values are UTF-8 strings of at most %d bytes", k, MaxConfigValueLen).With("key", k)
		}
	}
	if w.IfVersion != nil && *w.IfVersion < 0 {
		return BadField("if_version", "if_version must not be negative")
	}
	return nil
}

func hasControl(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) {
			return true
		}
	}
	return false
}

// ConfigGuard is what a managed write is checked against: the lock that
// manages the domain, settled, and who writes.
type ConfigGuard struct {
	LockName string // "" for an unmanaged domain
	Lock     Lock
	TokenID  string // the writer's user token
}

// DecideConfigWrite applies w to cur: refused with version_mismatch when
// if_version is not the current version, with lock_not_held when the
// domain is managed and the write's lock token is not the lock's current
// grant held by the writer's token. Otherwise every item changes and the
// version goes up by one, together.
func DecideConfigWrite(cur ConfigDomain, w ConfigWrite, g ConfigGuard, now time.Time) (ConfigDomain, error) {
	if g.LockName != "" {
		if w.LockToken == 0 {
			return cur, Errorf(ELOCKNOTHELD, "domain %s is managed by lock %s: send lock_token, the token of your grant", cur.Domain, g.LockName).
				With("lock", g.LockName)
		}
		if err := CheckFence(g.Lock, g.TokenID, w.LockToken, now); err != nil {
			return cur, err
		}
	}
	if w.IfVersion != nil && *w.IfVersion != cur.Version {
		return cur, Errorf(EVERSIONMISMATCH, "domain %s is at version %d, not %d", cur.Domain, cur.Version, *w.IfVersion).
			With("version", cur.Version)
	}
	next := ConfigDomain{Domain: cur.Domain, Version: cur.Version + 1, Items: map[string]string{}}
	if !w.Replace {
		maps.Copy(next.Items, cur.Items)
	}
	for k, v := range w.Items {
		if v == nil {
			delete(next.Items, k)
		} else {
			next.Items[k] = *v
		}
	}
	return next, nil
}

// ConfigService reads and writes configuration domains. Reading needs an
// admin or a delegate; so does writing, and a domain of
// ConfigPolicy.AdminOnly needs an admin.
type ConfigService interface {
	GetConfig(ctx context.Context, c Caller, domain string) (*ConfigDomain, error)
	// PutConfig commits w in one transaction (with the lock check and the
	// audit record) and returns the new version.
	PutConfig(ctx context.Context, c Caller, domain string, w ConfigWrite) (int64, error)
}
