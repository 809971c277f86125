package http

// DecodeKinds names every request body type, for FuzzDecode.
var DecodeKinds = []string{
	"login", "logout", "principal", "principal_patch", "identity", "password",
	"site", "site_patch", "terminal", "events", "session_login", "lock", "unlock", "touch",
	"lock_acquire", "lock_keepalive", "lock_release", "config", "groupset",
	"checkout", "extend", "reply", "reservation", "journal", "agent_status", "offline_logon",
	"request", "decide", "task",
}

// Decode runs the strict decoder for the request type kind over body.
func Decode(kind, contentType string, body []byte) error {
	var err error
	switch kind {
	case "login":
		_, err = decodeBytes[loginBody](contentType, body)
	case "logout", "touch":
		_, err = decodeBytes[emptyBody](contentType, body)
	case "principal":
		_, err = decodeBytes[principalBody](contentType, body)
	case "principal_patch":
		_, err = decodeBytes[principalPatch](contentType, body)
	case "identity":
		_, err = decodeBytes[identityBody](contentType, body)
	case "password":
		_, err = decodeBytes[passwordBody](contentType, body)
	case "site":
		_, err = decodeBytes[siteBody](contentType, body)
	case "site_patch":
		_, err = decodeBytes[sitePatch](contentType, body)
	case "terminal":
		_, err = decodeBytes[terminalBody](contentType, body)
	case "events":
		_, err = decodeBytes[eventsBody](contentType, body)
	case "session_login":
		_, err = decodeBytes[sessionLoginBody](contentType, body)
	case "lock":
		_, err = decodeBytes[lockBody](contentType, body)
	case "unlock":
		_, err = decodeBytes[unlockBody](contentType, body)
	case "lock_acquire":
		_, err = decodeBytes[acquireBody](contentType, body)
	case "lock_keepalive":
		_, err = decodeBytes[keepaliveBody](contentType, body)
	case "lock_release":
		_, err = decodeBytes[releaseBody](contentType, body)
	case "config":
		_, err = decodeBytes[configBody](contentType, body)
	case "task":
		_, err = decodeBytes[taskBody](contentType, body)
	case "request":
		_, err = decodeBytes[requestBody](contentType, body)
	case "decide":
		_, err = decodeBytes[decideBody](contentType, body)
	case "groupset":
		_, err = decodeBytes[groupSetBody](contentType, body)
	case "checkout":
		_, err = decodeBytes[checkoutBody](contentType, body)
	case "extend":
		_, err = decodeBytes[extendBody](contentType, body)
	case "reply":
		_, err = decodeBytes[replyBody](contentType, body)
	case "reservation":
		_, err = decodeBytes[reservationBody](contentType, body)
	case "journal":
		_, err = decodeBytes[journalBody](contentType, body)
	case "agent_status":
		_, err = decodeBytes[agentStatusBody](contentType, body)
	case "offline_logon":
		_, err = decodeBytes[offlineLogonBody](contentType, body)
	default:
		panic("unknown decode kind " + kind)
	}
	return err
}

// BlankedRequest is the form of a body an idempotency record is keyed on.
var BlankedRequest = blankedRequest
