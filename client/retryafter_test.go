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
		{"details", 429, "30", `{"error":{"code":"rate_limited","message":"slow down","details":{"retry_after_seconds":30}}}`, 30 * time.Second},
		{"header only", 429, "7", `{"error":{"code":"rate_limited","message":"too many connections","details":{}}}`, 7 * time.Second},
		{"no wait given", 429, "", `{"error":{"code":"rate_limited","message":"slow down","details":{}}}`, 0},
		{"an HTTP date is not used", 429, "Wed, 21 Oct 2015 07:28:00 GMT", `{"error":{"code":"rate_limited","message":"x","details":{}}}`, 0},
		{"other errors", 401, "5", `{"error":{"code":"invalid_credentials","message":"no","details":{}}}`, 0},
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
