package http_test

import (
	"net/netip"
	"testing"

	lkhttp "latchkey/http"
)

func TestClientAddress(t *testing.T) {
	t.Parallel()
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	tests := []struct {
		name    string
		remote  string
		xff     []string
		trusted []netip.Prefix
		want    string
	}{
		{name: "plain IPv4", remote: "192.0.2.7:5123", xff: nil, trusted: nil, want: "192.0.2.7"},
		{name: "loopback", remote: "127.0.0.1:40000", xff: nil, trusted: nil, want: "127.0.0.1"},
		{name: "IPv6 by /64", remote: "[2001:db8:1:2:aaaa::1]:443", xff: nil, trusted: nil, want: "2001:db8:1:2::/64"},
		{name: "IPv4-mapped", remote: "[::ffff:192.0.2.9]:80", xff: nil, trusted: nil, want: "192.0.2.9"},
		{name: "forwarded ignored without trust", remote: "192.0.2.7:1", xff: []string{"198.51.100.1"}, trusted: nil, want: "192.0.2.7"},
		{name: "forwarded ignored from an untrusted peer", remote: "192.0.2.7:1", xff: []string{"198.51.100.1"}, trusted: proxies, want: "192.0.2.7"},
		{name: "trusted proxy", remote: "10.1.2.3:1", xff: []string{"198.51.100.1"}, trusted: proxies, want: "198.51.100.1"},
		{name: "client's own prefix is not believed", remote: "10.1.2.3:1", xff: []string{"6.6.6.6, 198.51.100.1"}, trusted: proxies, want: "198.51.100.1"},
		{name: "chain of proxies", remote: "10.1.2.3:1", xff: []string{"198.51.100.1, 10.9.9.9", "10.8.8.8"}, trusted: proxies, want: "198.51.100.1"},
		{name: "all hops trusted", remote: "10.1.2.3:1", xff: []string{"10.4.4.4"}, trusted: proxies, want: "10.4.4.4"},
		{name: "garbage hop stops the walk", remote: "10.1.2.3:1", xff: []string{"198.51.100.1, bogus"}, trusted: proxies, want: "10.1.2.3"},
		{name: "trusted proxy without header", remote: "10.1.2.3:1", xff: nil, trusted: proxies, want: "10.1.2.3"},
		{name: "IPv6 client behind proxy", remote: "[fd00::1]:1", xff: []string{"2001:db8::5"}, trusted: proxies, want: "2001:db8::/64"},
		{name: "hop with port", remote: "10.1.2.3:1", xff: []string{"198.51.100.1:5555"}, trusted: proxies, want: "198.51.100.1"},
		{name: "not an IP peer", remote: "@", xff: nil, trusted: proxies, want: "remote:@"},
	}
	for _, tt := range tests {
		if got := lkhttp.ClientAddress(tt.remote, tt.xff, tt.trusted); got != tt.want {
			t.Errorf("%s: %q", tt.name, got)
		}
	}
}

func TestParseTrustedProxy(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"10.0.0.0/8":     "10.0.0.0/8",
		"10.1.2.3/8":     "10.0.0.0/8",
		"192.0.2.1":      "192.0.2.1/32",
		"::1":            "::1/128",
		"fd00::/8":       "fd00::/8",
		"::ffff:1.2.3.4": "1.2.3.4/32",
	} {
		got, err := lkhttp.ParseTrustedProxy(in)
		if err != nil || got.String() != want {
			t.Errorf("ParseTrustedProxy(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "example.com", "10.0.0.0/33", "fe80::1%eth0"} {
		if _, err := lkhttp.ParseTrustedProxy(bad); err == nil {
			t.Errorf("ParseTrustedProxy(%q) accepted", bad)
		}
	}
}
