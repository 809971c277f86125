package agent

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"time"

	"latchkey"
)

// LinuxExecutor changes real local groups with getent and gpasswd (and
// groupadd when CreateGroups is set). It needs root. It checks every name
// again (latchkey.ValidGroupName, latchkey.ValidLogin) and passes names
// after "--" or as an option's own argument, so no name is ever read as
// an option.
type LinuxExecutor struct {
	CreateGroups bool
}

// Apply implements Executor.
func (l LinuxExecutor) Apply(ch latchkey.Change, ref string) (bool, error) {
	if !latchkey.ValidGroupName(ch.Group) {
		return false, fmt.Errorf("group %q: %s", ch.Group, latchkey.GroupNameRule)
	}
	if !latchkey.ValidLogin(ch.Login) {
		return false, fmt.Errorf("login %q: %s", ch.Login, latchkey.LoginRule)
	}
	members, exists, err := groupMembers(ch.Group)
	if err != nil {
		return false, err
	}
	if !exists {
		if !ch.Add {
			return false, nil
		}
		if !l.CreateGroups {
			return false, fmt.Errorf("group %s does not exist (run the agent with group creation enabled, or create it)", ch.Group)
		}
		if err := run("groupadd", "--", ch.Group); err != nil {
			return false, err
		}
	}
	has := slices.Contains(members, ch.Login)
	switch {
	case ch.Add && has, !ch.Add && !has:
		return false, nil
	case ch.Add:
		return true, run("gpasswd", "-a", ch.Login, "--", ch.Group)
	default:
		return true, run("gpasswd", "-d", ch.Login, "--", ch.Group)
	}
}

// GroupMembers implements MemberLister (a group that does not exist has
// no members).
func (l LinuxExecutor) GroupMembers(groups []string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, g := range groups {
		if !latchkey.ValidGroupName(g) {
			return nil, fmt.Errorf("group %q: %s", g, latchkey.GroupNameRule)
		}
		members, _, err := groupMembers(g)
		if err != nil {
			return nil, err
		}
		out[g] = members
	}
	return out, nil
}

// groupMembers reads a group's member list from getent (exit 2: no such
// group).
func groupMembers(group string) ([]string, bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "getent", "group", "--", group).Output()
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 2 {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("getent group %s: %w", group, err)
	}
	f := strings.Split(strings.TrimSpace(string(out)), ":")
	if len(f) < 4 {
		return nil, false, fmt.Errorf("getent group %s: unexpected %q", group, out)
	}
	if f[3] == "" {
		return nil, true, nil
	}
	return strings.Split(f[3], ","), true, nil
}

func run(name string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return nil
}
