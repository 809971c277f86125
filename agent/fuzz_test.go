package agent

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"latchkey"
)

// FuzzGatewayDecode feeds any bytes to the local socket's body decoder
// for each kind of request: it never panics; it either takes the body and
// writes nothing, or answers 400 in the API's error shape naming a field.
func FuzzGatewayDecode(f *testing.F) {
	for _, s := range []string{
		`{"identity":"ann","password":"pw-ann-long","force":true}`,
		`{"password":"a","password":"b"}`, `{"Password":"x"}`, `{"reason":"manual","choice":"retry"}`,
		`{"identity":"ann"} {}`, `{"extra":1}`, `[]`, `null`, ``, `{"identity":"\u017fecret"}`,
	} {
		f.Add([]byte(s))
	}
	g := &Gateway{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, v := range []any{&LoginRequest{}, &LockRequest{}, &UnlockRequest{}} {
			w := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodPost, "/login", bytes.NewReader(body))
			if g.decode(w, r, v) {
				if w.Body.Len() != 0 {
					t.Fatalf("a body taken, yet an answer written: %s", w.Body)
				}
				continue
			}
			if w.Code != http.StatusBadRequest {
				t.Fatalf("refused with %d, want 400: %s", w.Code, w.Body)
			}
			var e struct {
				Error struct {
					Code    string         `json:"code"`
					Details map[string]any `json:"details"`
				} `json:"error"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error.Code != latchkey.EBADREQUEST || e.Error.Details["field"] == nil {
				t.Fatalf("a refusal not in the error shape with a field: %s", w.Body)
			}
		}
	})
}

// FuzzPolicyDecode feeds any bytes, as a policy document from the server,
// to the agent's decoding and trust check: it never panics, and it never
// accepts a policy that does not verify under the pinned key.
func FuzzPolicyDecode(f *testing.F) {
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		f.Fatal(err)
	}
	signed := latchkey.AgentPolicy{Terminal: "ter_1", Groups: []string{"wheel"}, IssuedAt: time.Now().UTC()}
	if err := signed.Sign(key); err != nil {
		f.Fatal(err)
	}
	doc, _ := json.Marshal(signed)
	for _, s := range []string{string(doc), `{}`, `{"terminal":"ter_1","signature":"AAAA"}`, `{"groups":["wheel"],"server_key":"x"}`, `[]`} {
		f.Add([]byte(s))
	}
	j, err := OpenJournal(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	defer j.Close()
	tr, err := OpenTrust(context.Background(), j, TrustOptions{ServerKey: latchkey.PublicKeyText(key),
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var p latchkey.AgentPolicy
		if json.Unmarshal(b, &p) != nil {
			return
		}
		p.Raw = b
		if tr.AcceptPolicy(context.Background(), &p) != nil {
			return
		}
		if err := latchkey.VerifyDocument(latchkey.PublicKeyText(key), latchkey.PolicyDomain, b); err != nil {
			t.Fatalf("a policy that does not verify was accepted: %v\n%s", err, b)
		}
	})
}
