package counter

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"latchkey/agent"
)

// View draws the counter as text lines of at most width columns (80×24
// is enough): a header with the mode, the screen of the phase, a message
// box or the lock option box over it, and a footer naming the keys.
// Everything a person reads is in words; nothing depends on colour.
func (a App) View(width int) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, clip(fmt.Sprintf(format, args...), width)) }
	add("%s", a.header())
	if a.Status != nil && a.Status.Mode == agent.ModeStandalone {
		line := "The data centre cannot be reached: this counter works on its own."
		if a.Phase == PhaseLogOn {
			line = "The data centre cannot be reached. " + StandaloneWords(a.Status.OfflineLogon)
		}
		for _, l := range wrap(line, min(width, 80)) {
			add("%s", l)
		}
	}
	add("%s", strings.Repeat("─", min(width, 80)))
	switch a.Phase {
	case PhaseLogOn:
		add("Log on")
		add("")
		add("  Login ID: %s%s", a.Identity, cursor(a.Field == 0))
		add("  Password: %s%s", strings.Repeat("*", utf8.RuneCountInString(a.Password)), cursor(a.Field == 1))
	case PhaseLocked:
		add("THIS COUNTER IS LOCKED")
		if s := a.session(); s != nil {
			add("Locked by %s. Type the password to unlock it.", s.Identity)
			if t := a.Kept.Transaction; t != nil {
				add("The %s transaction in progress is paused: it comes back as it was.", t.Type)
			}
			if s.LockedOffline {
				for _, l := range wrap("The data centre was not told of this lock: other counters see the session as unlocked.", min(width, 80)) {
					add("%s", l)
				}
			}
		}
		add("")
		add("  Password: %s_", strings.Repeat("*", utf8.RuneCountInString(a.Password)))
	default:
		out = append(out, a.serveLines(width)...)
	}
	if w := a.warning(); w != "" {
		add("")
		for _, l := range wrap(w, min(width, 80)) {
			add("%s", l)
		}
	}
	if a.Menu != nil {
		add("")
		add("┌ Lock the counter ┐")
		add("  [l] Lock%s", dis(a.Menu.Lock))
		add("  [s] Suspend%s", dis(a.Menu.Suspend))
		add("  [r] Resume%s", dis(a.Menu.Resume))
		add("  [esc] Close")
	}
	if a.Box != nil {
		add("")
		add("┌ %s ┐", a.Box.Title)
		for _, l := range wrap(a.Box.Text, min(width, 80)-2) {
			add("  %s", l)
		}
		var cs []string
		for _, c := range a.Box.Choices {
			cs = append(cs, "["+choiceKey(c)+"] "+string(c))
		}
		add("  %s", strings.Join(cs, "   "))
	}
	add("")
	for _, l := range a.footer() {
		add("%s", l)
	}
	return out
}

func (a App) header() string {
	mode := "ONLINE"
	if a.Status != nil && a.Status.Mode == agent.ModeStandalone {
		mode = "STANDALONE"
	}
	who := "nobody logged on"
	if s := a.session(); s != nil {
		who = s.Identity
	}
	return fmt.Sprintf("latchkey counter · %s · %s", who, mode)
}

func (a App) session() *agent.SessionStatus {
	if a.Status == nil {
		return nil
	}
	return a.Status.Session
}

// warning is the agent's warning before the session ends (WarningWords),
// when it gives one.
func (a App) warning() string {
	if a.Status == nil || a.Status.Warning == nil {
		return ""
	}
	return WarningWords(*a.Status.Warning, a.Phase == PhaseLocked)
}

func (a App) serveLines(width int) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, clip(fmt.Sprintf(format, args...), width)) }
	sc := a.Screen.Showing(a.Now)
	if t := sc.Transaction; t != nil {
		add("%s — page %d", t.Type, t.Page+1)
		if len(t.Basket) == 0 {
			add("  The basket is empty.")
		}
		total := 0
		for _, it := range t.Basket {
			add("  %-40s %6.2f", it.What, float64(it.Pence)/100)
			total += it.Pence
		}
		if len(t.Basket) > 0 {
			add("  %-40s %6.2f", "Total", float64(total)/100)
		}
	} else {
		add("Menu: choose a transaction")
		for _, k := range []string{"1", "2", "3"} {
			add("  [%s] %s", k, TransactionTypes[k])
		}
		if a.Suspended != nil {
			add("  (%s suspended: F12, then r to resume it)", a.Suspended.Type)
		}
	}
	for _, b := range sc.Boxes {
		add("")
		add("  ┌ %s ┐", b.Text)
	}
	return out
}

// footer names the keys: what the screen takes, and the lock button's
// state on a line of its own.
func (a App) footer() []string {
	switch {
	case a.Busy:
		return []string{"Please wait…"}
	case a.Box != nil || a.Menu != nil:
		return []string{"Choose with the key in brackets."}
	case a.Phase == PhaseLogOn:
		return []string{"[tab] next field   [enter] log on"}
	case a.Phase == PhaseLocked:
		return []string{"[enter] unlock"}
	}
	lock := "[F12] Lock"
	if !a.LockButton() {
		lock = "(Lock unavailable while a message shows)"
	}
	if a.Screen.Transaction != nil {
		return []string{"[a] add item  [n]/[b] next/back page  [p] print  [enter] complete  [esc] abandon", lock}
	}
	return []string{"[1-3] start a transaction  [q] log off", lock}
}

func cursor(on bool) string {
	if on {
		return "_"
	}
	return ""
}

func dis(on bool) string {
	if on {
		return ""
	}
	return " (not available)"
}

// clip cuts a line to width columns.
func clip(s string, width int) string {
	if width <= 0 || utf8.RuneCountInString(s) <= width {
		return s
	}
	return string([]rune(s)[:width])
}

// wrap breaks text into lines of at most width columns, at spaces.
func wrap(text string, width int) []string {
	var out []string
	line := ""
	for _, w := range strings.Fields(text) {
		if line != "" && utf8.RuneCountInString(line)+1+utf8.RuneCountInString(w) > width {
			out = append(out, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	if line != "" {
		out = append(out, line)
	}
	return out
}
