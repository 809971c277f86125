package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"latchkey/client"
)

// addFlags adds the transport and token-file flags given before the
// command name.
func (g *globals) addFlags(fs *flag.FlagSet) {
	fs.StringVar(&g.tokenFile, "token-file", "", "read the user token from FILE")
	fs.StringVar(&g.ca, "ca", "", "trust roots (PEM) for an https:// server")
	fs.BoolVar(&g.insecureHTTP, "insecure-http", false, "allow credentials over plain http:// to a host that is not loopback")
}

// addTransportFlags adds --token-file, --ca and --insecure-http to a
// client command, with the values given before the command name as
// defaults.
func (c *cmd) addTransportFlags() {
	c.fs.StringVar(&c.tokenFile, "token-file", "", "read the user token from `FILE` (mode 0600; keeps it out of ps)")
	c.fs.StringVar(&c.ca, "ca", "", "trust only the PEM certificates in `FILE` for an https:// server (default $LATCHKEY_CA, else the system's roots)")
	c.fs.BoolVar(&c.insecureHTTP, "insecure-http", false, "allow sending the token and passwords over plain http:// to a host that is not loopback")
	c.tokenFile, c.ca, c.insecureHTTP = c.global.tokenFile, c.global.ca, c.global.insecureHTTP
}

// transportOptions returns the client options of --ca and
// --insecure-http, and refuses a plain http:// server that is not
// loopback without --insecure-http, before anything is sent.
func (c *cmd) transportOptions() ([]client.Option, error) {
	var opts []client.Option
	ca := c.ca
	if ca == "" {
		ca = os.Getenv("LATCHKEY_CA")
	}
	if ca != "" {
		pool, err := client.LoadCAFile(ca)
		if err != nil {
			return nil, err
		}
		opts = append(opts, client.WithRootCAs(pool))
	}
	if c.insecureHTTP {
		return append(opts, client.WithInsecureHTTP()), nil
	}
	if err := checkPlainHTTP(c.serverURL()); err != nil {
		if !errors.Is(err, client.ErrPlainHTTP) {
			return nil, err
		}
		return nil, fmt.Errorf("%w\n"+
			"  The token or password would cross the network in clear text. Either use an https:// server URL\n"+
			"  (a server started with --tls-cert and --tls-key; add --ca FILE when its certificate is not\n"+
			"  signed by a system root), or give --insecure-http to send it in clear text anyway", err)
	}
	return opts, nil
}

// errEmptyToken is a token file without a token.
var errEmptyToken = errors.New("empty: no token in it")

// readTokenFile reads a token from path: its first line, trimmed. A file
// that its group or others may read or write is refused, as is an empty
// one.
func readTokenFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	if err := checkPrivateMode(path, fi.Mode()); err != nil {
		return "", err
	}
	b, err := io.ReadAll(io.LimitReader(f, 64<<10))
	if err != nil {
		return "", fmt.Errorf("token file %s: %w", path, err)
	}
	tok, _, _ := strings.Cut(string(b), "\n")
	if tok = strings.TrimSpace(tok); tok == "" {
		return "", fmt.Errorf("token file %s: %w", path, errEmptyToken)
	}
	return tok, nil
}

// checkPrivateMode refuses a regular file whose group or others have any
// permission; pipes and other special files (--token-file /dev/stdin,
// process substitution) are taken as they are.
func checkPrivateMode(path string, mode os.FileMode) error {
	if runtime.GOOS == "windows" || !mode.IsRegular() {
		return nil
	}
	if perm := mode.Perm(); perm&0o077 != 0 {
		return fmt.Errorf("token file %s is open to other users (mode %04o): run chmod 600 %s", path, perm, path)
	}
	return nil
}

// benchTransport checks a bench command's server before the run: the
// benchmark drivers use transports of their own, which take neither --ca
// nor --insecure-http, so a benchmark runs against a loopback server, or
// an https:// one whose certificate a system root signs.
func (c *cmd) benchTransport() int {
	if c.ca != "" || c.insecureHTTP {
		return c.usageError("--ca and --insecure-http do not apply to benchmarks: run them against a server on this machine (http://127.0.0.1:PORT)")
	}
	if err := checkPlainHTTP(c.serverURL()); err != nil {
		return c.usageError("%v: run benchmarks against a server on this machine (http://127.0.0.1:PORT)", err)
	}
	return 0
}

// parseBench parses a benchmark's arguments, checks its transport
// (benchTransport) and reads the admin's password from pw
// ($LATCHKEY_PASSWORD, stdin or a prompt); ok false: exit with st.
func (c *cmd) parseBench(args []string, pw *passwordInput) (password string, st int, ok bool) {
	if _, st, ok := c.parse(args); !ok {
		return "", st, false
	}
	if st := c.benchTransport(); st != 0 {
		return "", st, false
	}
	password, err := pw.read("LATCHKEY_PASSWORD", "admin password: ", false)
	if err != nil {
		return "", c.fail(err), false
	}
	return password, 0, true
}
