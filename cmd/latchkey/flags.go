package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"latchkey"
	"latchkey/client"
)

// defaultServer is where client commands look for a server when neither
// --server nor $LATCHKEY_SERVER says.
const defaultServer = "http://127.0.0.1:7420"

// cmd is one invocation of a leaf command: its flag set, the client flags
// and the streams.
type cmd struct {
	*env
	fs       *flag.FlagSet
	name     string // "site create"
	synopsis string // "--name N [flags]"

	server        string
	token         string
	json          bool
	terminalToken string
	usesTerminal  bool // the command acts with a terminal token
	// The transport and token-file flags (clientflags.go).
	tokenFile         string
	terminalTokenFile string
	ca                string
	insecureHTTP      bool
}

// newCmd returns a leaf command with its flag set; client adds the client
// flags (--server, --token, --json).
func (e *env) newCmd(name, synopsis string, client bool) *cmd {
	c := &cmd{env: e, name: name, synopsis: synopsis}
	c.fs = flag.NewFlagSet("latchkey "+name, flag.ContinueOnError)
	c.fs.SetOutput(e.stderr)
	c.fs.Usage = func() {}
	if client {
		c.fs.StringVar(&c.server, "server", "", "server `URL`, or the nodes of a cluster as URL,URL,... to fail over between (default $LATCHKEY_SERVER, else "+defaultServer+")")
		c.fs.StringVar(&c.token, "token", "", "user token (default $LATCHKEY_TOKEN, else the saved token file)")
		c.fs.BoolVar(&c.json, "json", false, "print the API's JSON")
		c.server, c.token, c.json = e.global.server, e.global.token, e.global.json
		c.addTransportFlags()
	}
	return c
}

// withTerminalToken adds --terminal-token: the command acts for a terminal.
func (c *cmd) withTerminalToken() *cmd {
	c.fs.StringVar(&c.terminalToken, "terminal-token", "", "terminal token (default $LATCHKEY_TERMINAL_TOKEN, else the user token)")
	c.fs.StringVar(&c.terminalTokenFile, "terminal-token-file", "", "read the terminal token from `FILE` (mode 0600; keeps it out of ps)")
	c.usesTerminal = true
	return c
}

func (c *cmd) printUsage(w io.Writer) {
	fmt.Fprintf(w, "usage: latchkey %s %s\n", c.name, c.synopsis)
	var hasFlags bool
	c.fs.VisitAll(func(*flag.Flag) { hasFlags = true })
	if hasFlags {
		fmt.Fprintln(w, "\nflags:")
		c.fs.SetOutput(w)
		c.fs.PrintDefaults()
		c.fs.SetOutput(c.stderr)
	}
}

// flagSynopsis returns "[--NAME ARG]" for every flag of fs, in name order
// (flag.FlagSet.VisitAll), so a synopsis cannot drift from the flags. ARG
// is the value's name as -h shows it: the `ARG` quoted in the flag's
// usage (flag.UnquoteUsage), else D for a duration, N for a number, VALUE
// for anything else, and none for a bool. A flag whose usage says it is
// repeatable gets "...".
func flagSynopsis(fs *flag.FlagSet) string {
	var parts []string
	fs.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		switch arg {
		case "duration":
			arg = "D"
		case "int", "int64", "uint", "uint64", "float":
			arg = "N"
		case "string", "value":
			arg = "VALUE"
		}
		p := "[--" + f.Name
		if arg != "" {
			p += " " + arg
		}
		p += "]"
		if strings.Contains(usage, "repeatable") {
			p += "..."
		}
		parts = append(parts, p)
	})
	return strings.Join(parts, " ")
}

// parse parses args, flags and positional arguments in any order ("--"
// ends the flags), and checks that exactly the named positional arguments
// are there. When ok is false the command returns status.
func (c *cmd) parse(args []string, positional ...string) (pos []string, status int, ok bool) {
	pos, err := parseArgs(c.fs, args)
	if err != nil {
		return nil, c.parseFailed(err), false
	}
	// A last positional named "X..." takes any number of arguments.
	variadic := len(positional) > 0 && strings.HasSuffix(positional[len(positional)-1], "...")
	if len(pos) != len(positional) && !(variadic && len(pos) >= len(positional)-1) {
		if len(pos) < len(positional) {
			return nil, c.usageError("missing %s", positional[len(pos)]), false
		}
		return nil, c.usageError("unexpected argument %q", pos[len(positional)]), false
	}
	for i, p := range pos {
		if strings.TrimSpace(p) == "" {
			return nil, c.usageError("%s must not be empty", positional[min(i, len(positional)-1)]), false
		}
	}
	return pos, 0, true
}

// parseArgs parses args with fs, flags and positional arguments in any
// order ("--" ends the flags), and returns the positional arguments.
func parseArgs(fs *flag.FlagSet, args []string) (pos []string, err error) {
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// usageErr is a usage problem found in arguments that parsed: the command
// prints it with its usage line and exits 2.
type usageErr string

func (e usageErr) Error() string { return string(e) }

// usagef returns a usageErr.
func usagef(format string, args ...any) error { return usageErr(fmt.Sprintf(format, args...)) }

// parseFailed reports err, from parsing the command's arguments with c.fs,
// and returns the exit status: -h prints the usage to stdout (0); a
// usageErr is printed with the usage line (2); any other error is the flag
// package's, which has printed it already, so only the usage line follows
// (2).
func (c *cmd) parseFailed(err error) int {
	var ue usageErr
	switch {
	case errors.Is(err, flag.ErrHelp):
		c.printUsage(c.stdout)
		return 0
	case errors.As(err, &ue):
		return c.usageError("%s", string(ue))
	}
	fmt.Fprintf(c.stderr, "usage: latchkey %s %s\nRun 'latchkey %s -h' for its flags.\n", c.name, c.synopsis, c.name)
	return 2
}

// usageError prints a usage error and returns status 2.
func (c *cmd) usageError(format string, args ...any) int {
	fmt.Fprintf(c.stderr, "latchkey %s: %s\n", c.name, fmt.Sprintf(format, args...))
	fmt.Fprintf(c.stderr, "usage: latchkey %s %s\nRun 'latchkey %s -h' for its flags.\n", c.name, c.synopsis, c.name)
	return 2
}

// required returns a usage error status for the first flag in names that
// was given an empty value, or 0.
func (c *cmd) required(names ...string) int {
	for _, n := range names {
		f := c.fs.Lookup(n)
		if f == nil || strings.TrimSpace(f.Value.String()) == "" {
			return c.usageError("--%s is required", n)
		}
	}
	return 0
}

// setFlags returns the names of the flags given on the command line.
func (c *cmd) setFlags() map[string]bool {
	set := map[string]bool{}
	c.fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// serverURL resolves --server, $LATCHKEY_SERVER and the default.
func (c *cmd) serverURL() string {
	s := c.server
	if s == "" {
		s = os.Getenv("LATCHKEY_SERVER")
	}
	if s == "" {
		s = defaultServer
	}
	// Several servers (the nodes of a cluster) are comma-separated; the
	// client fails over between them.
	urls := strings.Split(s, ",")
	for i, u := range urls {
		if u = strings.TrimSpace(u); !strings.Contains(u, "://") {
			u = "http://" + u
		}
		urls[i] = u
	}
	return strings.Join(urls, ",")
}

// checkPlainHTTP is client.CheckPlainHTTP for each server of a list.
func checkPlainHTTP(servers string) error {
	for _, u := range strings.Split(servers, ",") {
		if err := client.CheckPlainHTTP(u); err != nil {
			return err
		}
	}
	return nil
}

// userToken resolves --token, $LATCHKEY_TOKEN and the token file; fromFile
// says the token came from the file.
func (c *cmd) userToken() (tok string, fromFile bool, err error) {
	if c.token != "" {
		return c.token, false, nil
	}
	if c.tokenFile != "" {
		t, err := readTokenFile(c.tokenFile)
		return t, false, err
	}
	if t := os.Getenv("LATCHKEY_TOKEN"); t != "" {
		return t, false, nil
	}
	path, err := tokenFile()
	if err != nil {
		return "", false, nil // no home: no saved token
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	t, err := readTokenFile(path)
	if errors.Is(err, errEmptyToken) {
		return "", false, nil // as good as none: not logged in
	}
	return t, err == nil, err
}

// client returns an API client acting with the user token (or, for a
// terminal command, the terminal token).
//
// A token read from --token-file or --terminal-token-file is read again
// when the server refuses it, so a long-running command (the agent) takes
// a rotated token from its file without a restart.
func (c *cmd) client() (*client.Client, error) {
	tok, _, err := c.userToken()
	if err != nil {
		return nil, err
	}
	from := ""
	if c.token == "" {
		from = c.tokenFile
	}
	if c.usesTerminal {
		switch {
		case c.terminalToken != "":
			tok, from = c.terminalToken, ""
		case c.terminalTokenFile != "":
			if tok, err = readTokenFile(c.terminalTokenFile); err != nil {
				return nil, err
			}
			from = c.terminalTokenFile
		case os.Getenv("LATCHKEY_TERMINAL_TOKEN") != "":
			tok, from = os.Getenv("LATCHKEY_TERMINAL_TOKEN"), ""
		}
	}
	opts, err := c.transportOptions()
	if err != nil {
		return nil, err
	}
	opts = append(opts, client.WithToken(tok))
	if from != "" {
		opts = append(opts, client.WithTokenReload(func() (string, error) { return readTokenFile(from) }))
	}
	return client.New(c.serverURL(), opts...), nil
}

// page adds --limit and --after and returns the page they make.
func (c *cmd) page() *latchkey.Page {
	p := &latchkey.Page{}
	c.fs.IntVar(&p.Limit, "limit", 0, "at most this many items (default: the server's)")
	c.fs.StringVar(&p.After, "after", "", "the cursor of the page to list (the previous page's next)")
	return p
}

// tokenFile is where 'latchkey auth login' keeps the user token.
func tokenFile() (string, error) {
	if p := os.Getenv("LATCHKEY_TOKEN_FILE"); p != "" {
		return p, nil
	}
	if d := os.Getenv("XDG_CONFIG_HOME"); d != "" {
		return filepath.Join(d, "latchkey", "token"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	return filepath.Join(home, ".config", "latchkey", "token"), nil
}

// saveToken writes tok to the token file (0600), creating its directory
// (0700), atomically.
func saveToken(tok string) (string, error) {
	path, err := tokenFile()
	if err != nil {
		return "", err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	f, err := os.CreateTemp(dir, ".token-*")
	if err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return "", fmt.Errorf("token file: %w", err)
	}
	if _, err := f.WriteString(tok + "\n"); err != nil {
		f.Close()
		return "", fmt.Errorf("token file: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	return path, nil
}
