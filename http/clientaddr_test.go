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
		{"plain IPv4", "192.0.2.7:5123", nil, nil, "192.0.2.7"},
		{"loopback", "127.0.0.1:40000", nil, nil, "127.0.0.1"},
		{"IPv6 by /64", "[2001:db8:1:2:aaaa::1]:443", nil, nil, "2001:db8:1:2::/64"},
		{"IPv4-mapped", "[::ffff:192.0.2.9]:80", nil, nil, "192.0.2.9"},
		{"forwarded ignored without trust", "192.0.2.7:1", []string{"198.51.100.1"}, nil, "192.0.2.7"},
		{"forwarded ignored from an untrusted peer", "192.0.2.7:1", []string{"198.51.100.1"}, proxies, "192.0.2.7"},
		{"trusted proxy", "10.1.2.3:1", []string{"198.51.100.1"}, proxies, "198.51.100.1"},
		{"client's own prefix is not believed", "10.1.2.3:1", []string{"6.6.6.6, 198.51.100.1"}, proxies, "198.51.100.1"},
		{"chain of proxies", "10.1.2.3:1", []string{"198.51.100.1, 10.9.9.9", "10.8.8.8"}, proxies, "198.51.100.1"},
		{"all hops trusted", "10.1.2.3:1", []string{"10.4.4.4"}, proxies, "10.4.4.4"},
		{"garbage hop stops the walk", "10.1.2.3:1", []string{"198.51.100.1, bogus"}, proxies, "10.1.2.3"},
		{"trusted proxy without header", "10.1.2.3:1", nil, proxies, "10.1.2.3"},
		{"IPv6 client behind proxy", "[fd00::1]:1", []string{"2001:db8::5"}, proxies, "2001:db8::/64"},
		{"hop with port", "10.1.2.3:1", []string{"198.51.100.1:5555"}, proxies, "198.51.100.1"},
		{"not an IP peer", "@", nil, proxies, "remote:@"},
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
