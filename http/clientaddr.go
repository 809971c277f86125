package http

import (
	"fmt"
	"net/netip"
	"strings"
)

// clientAddress names the client of a request for the login throttle: the
// IP address of the connection's remote end, or, when that is a trusted
// proxy, the address the proxies say they received it from
// (X-Forwarded-For, read right to left: the first hop that is not itself a
// trusted proxy). An X-Forwarded-For from anyone else is ignored, since
// a client can write anything there. IPv6 clients are named by their /64
// network, the least that one machine usually holds, so that hopping
// through its own addresses does not escape the throttle.
func clientAddress(remoteAddr string, forwarded []string, trusted []netip.Prefix) string {
	ip, ok := parseHostIP(remoteAddr)
	if !ok {
		return "remote:" + remoteAddr // not an IP peer (a unix socket): one key
	}
	if inAny(ip, trusted) {
		hops := forwardedHops(forwarded)
		for i := len(hops) - 1; i >= 0; i-- {
			hop, ok := parseHostIP(hops[i])
			if !ok {
				break // garbage from a hop: believe nothing further left
			}
			ip = hop
			if !inAny(ip, trusted) {
				break
			}
		}
	}
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

// parseHostIP reads "ip", "ip:port" or "[ipv6]:port".
func parseHostIP(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
	if err != nil || ip.Zone() != "" && !ip.Is6() {
		return netip.Addr{}, false
	}
	return ip.WithZone("").Unmap(), true
}

// forwardedHops are the addresses of X-Forwarded-For headers, in order.
func forwardedHops(values []string) []string {
	var hops []string
	for _, v := range values {
		for _, h := range strings.Split(v, ",") {
			if h = strings.TrimSpace(h); h != "" {
				hops = append(hops, h)
			}
		}
	}
	return hops
}

func inAny(ip netip.Addr, prefixes []netip.Prefix) bool {
	for _, p := range prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// ParseTrustedProxy reads a --trusted-proxy value: a CIDR ("10.0.0.0/8")
// or one address.
func ParseTrustedProxy(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	ip, err := netip.ParseAddr(s)
	if err != nil || ip.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("want a CIDR such as 10.0.0.0/8 or an IP address, got %q", s)
	}
	ip = ip.Unmap()
	return netip.PrefixFrom(ip, ip.BitLen()), nil
}
