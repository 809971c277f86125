package counter

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"latchkey"
	"latchkey/agent"
)

// The messages the counter shows when the agent refuses what the person
// asked, in the design note's words where it gives them (section 2.1.1,
// "New/Modified Messages", and EUM-CE-CL-10), with the choices each
// offers. Every refusal the agent's socket can give has its own message;
// one the app does not know shows the agent's own words.

// Action is what the person was doing.
type Action int

const (
	ActLogOn Action = iota
	ActLock
	ActUnlock
)

// Choice is a button of a message box.
type Choice string

const (
	ChoiceOK         Choice = "OK"
	ChoiceRetry      Choice = "Retry"       // after locking the other sessions there
	ChoiceEndThem    Choice = "End them"    // force, after a confirmation
	ChoiceCancel     Choice = "Cancel"      // leave things as they are
	ChoiceLockAnyway Choice = "Lock anyway" // lock here though the server was not told
	ChoiceDontLock   Choice = "Do not lock" // keep the counter unlocked
	ChoiceTryAgain   Choice = "Try again"   // the same call again
)

// Refusal is the agent's error as the socket gives it: its code and the
// details the messages use.
type Refusal struct {
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Details RefusalDetails `json:"details"`
}

// RefusalDetails are the details of a refusal that the messages name.
type RefusalDetails struct {
	Sessions    []latchkey.SessionRef `json:"sessions"`
	Until       *time.Time            `json:"until"`
	ResetAt     *time.Time            `json:"reset_at"`
	Offline     bool                  `json:"offline"`
	Reservation string                `json:"reservation"`
	Transaction string                `json:"transaction"` // latchkey.TransactionMustComplete: a lock refused during a transaction
	Choices     []string              `json:"choices"`
}

// Message is a message box: a title, the words, and its choices.
type Message struct {
	Title   string
	Text    string
	Choices []Choice
}

// Words says a refusal of a the way the counter shows it. names names
// terminals by ID (an unknown one is shown by its ID); times are shown in
// loc, with how long from now.
func Words(a Action, r Refusal, names map[string]string, now time.Time, loc *time.Location) Message {
	d := r.Details
	at := func(t time.Time) string { return t.In(loc).Format("15:04") + " (" + inWords(t.Sub(now)) + ")" }
	switch r.Code {
	case latchkey.ECONCURRENTSESSION:
		list := sessionList(d.Sessions, names, loc)
		if a == ActUnlock {
			return Message{Title: "Another counter is not locked",
				Text: "You are also logged on at " + list + ", and it is not locked. Please return and lock the previous " +
					"session or remotely terminate it: end it from here to unlock this counter.",
				Choices: []Choice{ChoiceEndThem, ChoiceCancel}}
		}
		return Message{Title: "You are logged on at another counter",
			Text: "You are logged on at " + list + ", not locked. Please return and lock the previous session or remotely " +
				"terminate it: lock it there and retry, or end it from here.",
			Choices: []Choice{ChoiceRetry, ChoiceEndThem, ChoiceCancel}}
	case latchkey.EIDENTITYINUSE:
		return Message{Title: "Logged on under another login ID",
			Text:    "You are logged on at " + sessionList(d.Sessions, names, loc) + " under another login ID. Log off there first.",
			Choices: []Choice{ChoiceOK}}
	case latchkey.EINVALIDCREDENTIALS:
		text := "Wrong login ID or password."
		if d.Offline {
			text += " (The data centre cannot be reached: it was checked at this counter.)"
		}
		return Message{Title: "Not logged on", Text: text, Choices: []Choice{ChoiceOK}}
	case latchkey.EACCOUNTLOCKED:
		text := "Too many failed attempts: this login ID is locked for now. Try again later."
		if d.Until != nil {
			text = "Too many failed attempts: this login ID is locked until " + at(*d.Until) + "."
		}
		return Message{Title: "Login ID locked", Text: text, Choices: []Choice{ChoiceOK}}
	case latchkey.EACCOUNTDISABLED:
		return Message{Title: "Account disabled", Text: "This account is disabled. Ask your administrator.", Choices: []Choice{ChoiceOK}}
	case latchkey.EQUOTAEXCEEDED:
		text := "Your time at this site for today is used up."
		if d.ResetAt != nil {
			text += " It starts again at " + at(*d.ResetAt) + "."
		}
		return Message{Title: "Daily time used up", Text: text, Choices: []Choice{ChoiceOK}}
	case latchkey.ECONFLICT:
		switch {
		case d.Reservation != "":
			text := "This terminal is reserved for someone else."
			if d.Until != nil {
				text = "This terminal is reserved for someone else until " + at(*d.Until) + "."
			}
			return Message{Title: "Terminal reserved", Text: text, Choices: []Choice{ChoiceOK}}
		case a == ActLock && d.Transaction == latchkey.TransactionMustComplete:
			return Message{Title: "Complete the transaction first",
				Text: "This transaction must be completed before the counter is locked: finish it, or suspend it " +
					"(F12, then s), then lock the counter.",
				Choices: []Choice{ChoiceOK}}
		case a == ActLock && d.Offline:
			return Message{Title: "The lock could not be registered",
				Text: "The data centre cannot be reached, so it cannot be told that this counter is locked: other counters " +
					"will see your session as unlocked. Lock this counter anyway?",
				Choices: []Choice{ChoiceLockAnyway, ChoiceTryAgain, ChoiceDontLock}}
		}
	case latchkey.EUNAVAILABLE:
		switch a {
		case ActUnlock:
			return Message{Title: "The counter cannot be unlocked",
				Text:    "The data centre cannot be reached, so the counter cannot be unlocked now. It stays locked: try again when the network is back.",
				Choices: []Choice{ChoiceOK}}
		case ActLogOn:
			if d.Offline {
				return Message{Title: "Nobody can log on yet",
					Text:    "The data centre cannot be reached and this counter has not yet had its rules from it: nobody can log on until it is reached.",
					Choices: []Choice{ChoiceOK}}
			}
		}
	case latchkey.EFORBIDDEN:
		if a == ActLogOn && d.Offline {
			return Message{Title: "Only administrators now",
				Text:    "The data centre cannot be reached and this site does not allow logging on without it: only administrators can log on now.",
				Choices: []Choice{ChoiceOK}}
		}
	}
	return Message{Title: "Refused", Text: sentence(r.Message), Choices: []Choice{ChoiceOK}}
}

// sessionList names sessions: "counter 3 (since 09:12) and counter 4
// (since 09:40)".
func sessionList(ss []latchkey.SessionRef, names map[string]string, loc *time.Location) string {
	if len(ss) == 0 {
		return "another counter"
	}
	parts := make([]string, len(ss))
	for i, s := range ss {
		name := names[s.TerminalID]
		if name == "" {
			name = s.TerminalName
		}
		if name == "" {
			name = s.TerminalID
		}
		parts[i] = fmt.Sprintf("%s (since %s)", name, s.StartedAt.In(loc).Format("15:04"))
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

// inWords says a time from now: "in 12 minutes", "in 3 hours", "now".
func inWords(d time.Duration) string {
	switch m := int((d + time.Minute - 1) / time.Minute); {
	case m <= 0:
		return "now"
	case m == 1:
		return "in a minute"
	case m < 120:
		return fmt.Sprintf("in %d minutes", m)
	default:
		return fmt.Sprintf("in %d hours", (m+59)/60)
	}
}

// sentence is the agent's words as a sentence.
func sentence(s string) string {
	if s == "" {
		return "The agent refused it."
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

// NoticeWords says a notice of the log-on the way the counter shows it:
// EUM-CE-CL-20's, that the identity is in use at another branch, names
// where and since when.
func NoticeWords(n latchkey.Notice, names map[string]string, loc *time.Location) Message {
	if n.Code == latchkey.NoticeInUseOtherBranch {
		return Message{Title: "In use at another branch",
			Text:    "Your identity is also in use at another branch: at " + sessionList(n.Sessions, names, loc) + ".",
			Choices: []Choice{ChoiceOK}}
	}
	return Message{Title: "Notice", Text: sentence(n.Message), Choices: []Choice{ChoiceOK}}
}

// RefusalOf is the agent's refusal in err, or nil when err is not one
// (the agent could not be reached, or answered something else).
func RefusalOf(err error) *Refusal {
	var le *latchkey.Error
	if !errors.As(err, &le) {
		return nil
	}
	ref := Refusal{Code: le.Code, Message: le.Message}
	if b, jerr := json.Marshal(le.Details); jerr == nil {
		_ = json.Unmarshal(b, &ref.Details) // what the messages name; the rest is not needed
	}
	return &ref
}

// WarningWords says the agent's warning before the session ends: the Time
// Critical Warning before its limit with the countdown, or the forced
// timeout's (EUM-CE-CL-100: "about to expire", then "has expired"), which
// is shown over the lock screen too; locked, it says to unlock.
func WarningWords(w agent.Warning, locked bool) string {
	left := fmt.Sprintf("%d:%02d", w.SecondsLeft/60, w.SecondsLeft%60)
	switch w.Reason {
	case agent.ReasonForcedTimeout:
		if w.SecondsLeft <= 0 {
			return "Your session has expired: it was not used for too long."
		}
		keep := "press any key to keep it."
		if locked {
			keep = "unlock the counter to keep it."
		}
		return "WARNING: your session is about to expire: it has not been used for a while. It ends in " + left + " unless you " + keep
	case string(latchkey.LimitQuota), latchkey.EQUOTAEXCEEDED:
		return "WARNING: your time for today is used up in " + left + ": this session ends then. Finish what you are doing."
	case string(latchkey.LimitMaxSession):
		return "WARNING: this session reaches the longest time allowed here in " + left + " and ends then. Finish what you are doing."
	case string(latchkey.LimitReservation):
		return "WARNING: this terminal is reserved for someone else in " + left + ": this session ends then. Finish what you are doing."
	}
	return "WARNING: this session ends in " + left + ". Finish what you are doing."
}

// StandaloneWords says who may log on at this counter while the data
// centre cannot be reached (the agent's offline_logon).
func StandaloneWords(offlineLogon string) string {
	switch offlineLogon {
	case agent.OfflineLogonAdminsOnly:
		return "Only administrators can log on until it is reached."
	case agent.OfflineLogonCached:
		return "Only people who have logged on at this counter before can log on until it is reached."
	case agent.OfflineLogonAny:
		return "Anyone can log on; each log-on is checked when it is reached."
	case agent.OfflineLogonNone:
		return "Nobody can log on until it is reached: this counter has not had its rules yet."
	}
	return ""
}
