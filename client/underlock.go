package client

import (
	"context"
	"encoding/json"
	"strconv"
)

type lockTokenKey struct{}

// UnderLock returns a context whose calls of operations an admin dialog's
// edit lock manages (principals and identities: admin/users; sites'
// signup settings: admin/signup) carry lock_token, the grant they are
// made under. While someone else holds the lock, they are refused with
// lock_held whatever the token; while nobody does, the token changes
// nothing.
func UnderLock(ctx context.Context, token uint64) context.Context {
	return context.WithValue(ctx, lockTokenKey{}, token)
}

// managedBody is v as a JSON object without null fields, with the
// context's lock_token when it has one.
func managedBody(ctx context.Context, v any) (map[string]json.RawMessage, error) {
	m, err := withoutNulls(v)
	if err != nil {
		return nil, err
	}
	if token, _ := ctx.Value(lockTokenKey{}).(uint64); token != 0 {
		m["lock_token"] = json.RawMessage(strconv.FormatUint(token, 10))
	}
	return m, nil
}
