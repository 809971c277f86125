// Command latchkey is the latchkey server and its command-line client: one
// binary, one subcommand per file. Every client command talks to a server
// through package client only.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = ""

func main() {
	os.Exit(Run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// command is one top-level subcommand.
type command struct {
	// run executes the command with the arguments after its name and
	// returns the exit status: 0 success, 1 failure, 2 usage error.
	run func(e *env, args []string) int
	// synopsis lists its usage lines, without the leading "latchkey ".
	synopsis []string
}

// commands maps a subcommand's name to its implementation. A new command
// (bench.go, agent.go ...) adds itself with register in an init function.
var commands = map[string]command{}

// register adds a top-level command; it panics on a duplicate name.
func register(name string, c command) {
	if _, dup := commands[name]; dup {
		panic("latchkey: command " + name + " registered twice")
	}
	commands[name] = c
}

func init() {
	register("serve", command{runServe, serveSynopsis})
	register("auth", command{runAuth, authSynopsis})
	register("principal", command{runPrincipal, principalSynopsis})
	register("identity", command{runIdentity, identitySynopsis})
	register("site", command{runSite, siteSynopsis})
	register("terminal", command{runTerminal, terminalSynopsis})
	register("session", command{runSession, sessionSynopsis})
	register("events", command{runEvents, eventsSynopsis})
	register("lock", command{runLock, lockSynopsis})
	register("config", command{runConfig, configSynopsis})
	register("groupset", command{runGroupSet, groupSetSynopsis})
	register("agent", command{runAgent, agentSynopsis})
	register("counter", command{runCounter, counterSynopsis})
	register("pam", command{runPAM, pamSynopsis})
	register("checkout", command{runCheckout, checkoutSynopsis})
	register("reservation", command{runReservation, reservationSynopsis})
	register("request", command{runRequest, requestSynopsis})
	register("workitem", command{runWorkItem, workItemSynopsis})
	register("cluster", command{runCluster, clusterSynopsis})
	register("job", command{runJob, jobSynopsis})
	register("task", command{runTask, taskSynopsis})
	register("audit", command{runAudit, auditSynopsis})
	register("version", command{runVersion, []string{"version"}})
	register("help", command{runHelp, []string{"help [COMMAND]"}})
}

// env is what a command runs with: the process's context and streams, and
// the client flags given before the command name.
type env struct {
	ctx    context.Context
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	global globals
}

// globals are the client flags every client command takes; given before
// the command name they become that command's defaults.
type globals struct {
	server string
	token  string
	json   bool
	// tokenFile, ca and insecureHTTP: see clientflags.go.
	tokenFile    string
	ca           string
	insecureHTTP bool
}

// Run runs the latchkey command line args (without the program name) and
// returns the process exit status.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr}
	top := flag.NewFlagSet("latchkey", flag.ContinueOnError)
	top.SetOutput(stderr)
	top.Usage = func() {}
	top.StringVar(&e.global.server, "server", "", "server URL, or URL,URL,... of a cluster's nodes")
	top.StringVar(&e.global.token, "token", "", "bearer token")
	top.BoolVar(&e.global.json, "json", false, "machine-readable output")
	e.global.addFlags(top)
	showVersion := top.Bool("version", false, "print the version")
	if err := top.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(stdout)
			return 0
		}
		fmt.Fprintln(stderr, "Run 'latchkey help' for usage.")
		return 2
	}
	if *showVersion {
		return runVersion(e, nil)
	}
	rest := top.Args()
	if len(rest) == 0 {
		printUsage(stderr)
		return 2
	}
	cmd, ok := commands[rest[0]]
	if !ok {
		fmt.Fprintf(stderr, "latchkey: unknown command %q\nRun 'latchkey help' for usage.\n", rest[0])
		return 2
	}
	return cmd.run(e, rest[1:])
}

func printUsage(w io.Writer) {
	fmt.Fprint(w, `latchkey: session and access broker for shared terminals

Usage: latchkey [--server URL] [--token T | --token-file FILE] [--ca FILE] [--insecure-http] [--json] COMMAND [ARGS]

Commands:
`)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, s := range commands[n].synopsis {
			fmt.Fprintf(w, "  latchkey %s\n", s)
		}
	}
	fmt.Fprint(w, `
Client flags (every command that calls a server; also accepted before COMMAND):
  --server URL   server address (default $LATCHKEY_SERVER, else `+defaultServer+`)
  --token T      user token (default $LATCHKEY_TOKEN, else the token file written by
                 'latchkey auth login': $LATCHKEY_TOKEN_FILE, $XDG_CONFIG_HOME/latchkey/token
                 or ~/.config/latchkey/token)
  --token-file FILE
                 read the user token from FILE (mode 0600), so it does not show in ps
  --ca FILE      trust only the PEM certificates in FILE for an https:// server
                 (default $LATCHKEY_CA, else the system's roots)
  --insecure-http
                 allow sending the token and passwords over plain http:// to a host that
                 is not loopback (refused otherwise)
  --json         print the API's JSON instead of text

Passwords come from $LATCHKEY_PASSWORD, from one line of stdin with --password-stdin,
or from a prompt when stdin is a terminal.
Exit status: 0 success, 1 failure (an API error prints "latchkey: CODE: MESSAGE"), 2 usage error.
Run 'latchkey COMMAND SUBCOMMAND -h' for the flags of a command.
`)
}

func runHelp(e *env, args []string) int {
	if len(args) == 0 {
		printUsage(e.stdout)
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "latchkey: unknown command %q\n", args[0])
		return 2
	}
	if len(args) == 1 {
		fmt.Fprintln(e.stdout, "Usage:")
		for _, s := range cmd.synopsis {
			fmt.Fprintf(e.stdout, "  latchkey %s\n", s)
		}
		return 0
	}
	// "help site create" is "site create -h".
	return cmd.run(e, append(append([]string{}, args[1:]...), "-h"))
}

func runVersion(e *env, args []string) int {
	if len(args) > 0 {
		fmt.Fprintln(e.stderr, "usage: latchkey version")
		return 2
	}
	fmt.Fprintf(e.stdout, "latchkey %s (%s)\n", versionString(), runtime.Version())
	return 0
}

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// dispatch runs the subcommand of group named by args[0].
func (e *env) dispatch(group string, synopsis []string, subs map[string]func(*env, []string) int, args []string) int {
	usage := func(w io.Writer) {
		fmt.Fprintln(w, "Usage:")
		for _, s := range synopsis {
			fmt.Fprintf(w, "  latchkey %s\n", s)
		}
	}
	if len(args) == 0 {
		usage(e.stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(e.stdout)
		return 0
	}
	run, ok := subs[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "latchkey %s: unknown subcommand %q\n", group, args[0])
		usage(e.stderr)
		return 2
	}
	return run(e, args[1:])
}

// synopsisOf returns the usage line of "group sub" from a synopsis list.
func synopsisOf(synopsis []string, name string) string {
	for _, s := range synopsis {
		if s == name || strings.HasPrefix(s, name+" ") {
			return strings.TrimSpace(strings.TrimPrefix(s, name))
		}
	}
	return ""
}
