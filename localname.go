package latchkey

// Names that reach a workstation's local account tools (gpasswd,
// groupadd, getent) as arguments. The server checks them when a group set
// is created, when an identity is added and when a check-out is made; the
// agent, which runs as root, checks them again before it executes
// anything, with these same functions.

// Bounds of local names (the length Linux's utmp and most tools allow).
const (
	MaxGroupNameLen = 32
	MaxLoginLen     = 32
)

// ValidGroupName checks a local group's name the way Linux tools accept
// it portably: a lower-case letter or '_' first, then lower-case letters,
// digits, '_' and '-', at most 32 characters. Nothing that could be read
// as an option ('-' first), a path ('/'), a list (',' ':') or a second
// argument (spaces, control characters) gets through.
func ValidGroupName(g string) bool {
	if g == "" || len(g) > MaxGroupNameLen {
		return false
	}
	for i, r := range g {
		ok := r >= 'a' && r <= 'z' || r == '_' || i > 0 && (r >= '0' && r <= '9' || r == '-')
		if !ok {
			return false
		}
	}
	return true
}

// ValidLogin checks a login ID (an identity) as a POSIX-portable user
// name, which the agent may pass to gpasswd: 1 to 32 characters from the
// portable filename set (letters, digits, '.', '_', '-'), a letter, digit
// or '_' first (never '-' or '.'), and not digits only (a tool would read
// it as a user ID).
func ValidLogin(login string) bool {
	if login == "" || len(login) > MaxLoginLen {
		return false
	}
	digits := true
	for i, r := range login {
		alnum := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
		switch {
		case alnum || r == '_':
		case i > 0 && (r == '.' || r == '-'):
		default:
			return false
		}
		if r < '0' || r > '9' {
			digits = false
		}
	}
	return !digits
}

// LoginRule is ValidLogin's rule in words, for error messages.
const LoginRule = "a login is 1 to 32 letters, digits, '.', '_' or '-', not starting with '-' or '.', and not digits only"

// GroupNameRule is ValidGroupName's rule in words, for error messages.
const GroupNameRule = "a lower-case letter or '_' first, then lower-case letters, digits, '_' or '-', at most 32 characters"
