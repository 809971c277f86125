package agent

import (
	"testing"

	"latchkey"
)

func TestOfflineLogon(t *testing.T) {
	pol := func(allow bool, auth latchkey.StandaloneAuth) *latchkey.AgentPolicy {
		return &latchkey.AgentPolicy{Site: latchkey.Site{AllowStandalone: allow, StandaloneAuth: auth}}
	}
	for _, tc := range []struct {
		p    *latchkey.AgentPolicy
		want string
	}{
		{nil, OfflineLogonNone},
		{pol(false, latchkey.StandaloneAuthAny), OfflineLogonAdminsOnly},
		{pol(true, latchkey.StandaloneAuthCached), OfflineLogonCached},
		{pol(true, latchkey.StandaloneAuthAny), OfflineLogonAny},
	} {
		if got := offlineLogon(tc.p); got != tc.want {
			t.Errorf("%+v: %s, want %s", tc.p, got, tc.want)
		}
	}
}
