// Package counter is the counter application of issue 14: what the
// clerk or patron at a terminal sees, talking only to the local agent's
// socket. This file's siblings hold its rules as pure functions (the
// lock button, the lock menu, transient messages, the screen that comes
// back after unlock, the messages in the design note's words), each with
// its table test; the terminal program is built on them.
package counter
