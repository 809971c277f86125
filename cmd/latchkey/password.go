package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"latchkey"
)

// passwordInput is how a command gets a password: --password-stdin, an
// environment variable, or a no-echo prompt when stdin is a terminal.
type passwordInput struct {
	c     *cmd
	stdin bool
}

// passwordFlag adds --password-stdin.
func (c *cmd) passwordFlag() *passwordInput {
	p := &passwordInput{c: c}
	c.fs.BoolVar(&p.stdin, "password-stdin", false, "read the password from the first line of stdin")
	return p
}

// errNoPassword is a usage error: there is no way to get a password.
var errNoPassword = errors.New("no password: set LATCHKEY_PASSWORD, pass --password-stdin, or run from a terminal to be prompted")

// read returns the password: the first line of stdin with --password-stdin,
// else $envName, else a prompt (twice when confirm) on a terminal.
func (p *passwordInput) read(envName, prompt string, confirm bool) (string, error) {
	if p.stdin {
		return readLine(p.c.stdin)
	}
	if v := os.Getenv(envName); v != "" {
		return v, nil
	}
	fd, ok := terminalFD(p.c.stdin)
	if !ok {
		return "", errNoPassword
	}
	pw, err := promptPassword(fd, p.c.stderr, prompt)
	if err != nil {
		return "", err
	}
	if confirm {
		again, err := promptPassword(fd, p.c.stderr, "Repeat: ")
		if err != nil {
			return "", err
		}
		if again != pw {
			return "", errors.New("the passwords do not match")
		}
	}
	return pw, nil
}

// get is read for a command: it returns the password, or (ok false) the
// exit status after reporting why there is none — a usage error when
// there is no way to get a password, a failure otherwise.
func (p *passwordInput) get(envName, prompt string, confirm bool) (password string, status int, ok bool) {
	password, err := p.read(envName, prompt, confirm)
	if errors.Is(err, errNoPassword) {
		return "", p.c.usageError("%v", err), false
	}
	if err != nil {
		return "", p.c.fail(err), false
	}
	return password, 0, true
}

// getNew is get for a password being set (field names it, as the API
// would): one that latchkey.CheckNewPassword refuses (too short, too
// common) fails here, before anything is sent.
func (p *passwordInput) getNew(field, envName, prompt string) (password string, status int, ok bool) {
	password, status, ok = p.get(envName, prompt, true)
	if !ok {
		return "", status, false
	}
	if err := latchkey.CheckNewPassword(field, password); err != nil {
		return "", p.c.fail(err), false
	}
	return password, 0, true
}

// canPrompt reports whether the password can be asked for at a prompt.
func (p *passwordInput) canPrompt() bool {
	_, ok := terminalFD(p.c.stdin)
	return ok && !p.stdin
}

// prompt asks for a password at the terminal.
func (p *passwordInput) prompt(prompt string) (string, error) {
	fd, ok := terminalFD(p.c.stdin)
	if !ok {
		return "", errNoPassword
	}
	return promptPassword(fd, p.c.stderr, prompt)
}

func terminalFD(r io.Reader) (int, bool) {
	f, ok := r.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return 0, false
	}
	return int(f.Fd()), true
}

func promptPassword(fd int, w io.Writer, prompt string) (string, error) {
	fmt.Fprint(w, prompt)
	b, err := term.ReadPassword(fd)
	fmt.Fprintln(w)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	return string(b), nil
}

// readLine reads one line (without its line ending) from r, reading no
// further than that line so that stdin stays usable.
func readLine(r io.Reader) (string, error) {
	var sb strings.Builder
	var b [1]byte
	for {
		n, err := r.Read(b[:])
		if n == 1 {
			if b[0] == '\n' {
				break
			}
			sb.WriteByte(b[0])
		}
		if err == io.EOF {
			if sb.Len() == 0 {
				return "", errors.New("read password: stdin is empty")
			}
			break
		}
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
	}
	return strings.TrimSuffix(sb.String(), "\r"), nil
}
