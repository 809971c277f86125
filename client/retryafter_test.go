package client_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"latchkey"
	"latchkey/client"
)

// TestRetryAfter: a rate_limited answer carries its wait, from the
// details or, when only the header says it, from Retry-After.
func TestRetryAfter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		header string
		body   string
		want   time.Duration
	}{
		{name: "details", status: 429, header: "30", body: `{"error":{"code":"rate_limited","message":"slow down","details":{"retry_after_seconds":30}}}`, want: 30 * time.Second},
		{name: "header only", status: 429, header: "7", body: `{"error":{"code":"rate_limited","message":"too many connections","details":{}}}`, want: 7 * time.Second},
		{name: "no wait given", status: 429, header: "", body: `{"error":{"code":"rate_limited","message":"slow down","details":{}}}`, want: 0},
		{name: "an HTTP date is not used", status: 429, header: "Wed, 21 Oct 2015 07:28:00 GMT", body: `{"error":{"code":"rate_limited","message":"x","details":{}}}`, want: 0},
		{name: "other errors", status: 401, header: "5", body: `{"error":{"code":"invalid_credentials","message":"no","details":{}}}`, want: 0},
	}
	for _, tt := range tests {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if tt.header != "" {
				w.Header().Set("Retry-After", tt.header)
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(tt.status)
			w.Write([]byte(tt.body))
		}))
		_, err := client.New(srv.URL).Login(context.Background(), "alice", "pw-alice")
		srv.Close()
		if err == nil {
			t.Fatalf("%s: no error", tt.name)
		}
		if got := client.RetryAfter(err); got != tt.want {
			t.Errorf("%s: RetryAfter = %v, want %v (err %v)", tt.name, got, tt.want, err)
		}
		if tt.status == 429 && latchkey.ErrorCode(err) != latchkey.ERATELIMITED {
			t.Errorf("%s: code %q", tt.name, latchkey.ErrorCode(err))
		}
	}
}
