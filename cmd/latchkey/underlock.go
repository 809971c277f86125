package main

import (
	"context"

	"latchkey/client"
)

// underLock adds --lock-token to a command whose change an admin
// dialog's edit lock manages (lock names it in the help), and returns the
// context to make the call with: the command's, carrying the token when
// one was given.
func (c *cmd) underLock(lock string) func() context.Context {
	token := c.fs.Uint64("lock-token", 0, "the token of your grant of "+lock+", which manages this change while someone holds it")
	return func() context.Context {
		if *token == 0 {
			return c.ctx
		}
		return client.UnderLock(c.ctx, *token)
	}
}
