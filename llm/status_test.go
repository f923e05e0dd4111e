package llm

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		ms, ra string
		want   time.Duration
	}{
		{"", "", 0},
		{"", "3", 3 * time.Second},
		{"", " 1.5 ", 1500 * time.Millisecond},
		{"", "0", 0},
		{"", "-2", 0},
		{"", "NaN", 0},
		{"", "soon", 0},
		{"", "99999999999", 24 * time.Hour},
		{"", now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{"", now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"", now.Add(48 * time.Hour).Format(http.TimeFormat), 24 * time.Hour},
		{"250", "3", 250 * time.Millisecond},
		{"12.5", "", 12500 * time.Microsecond},
		{"-1", "3", 3 * time.Second},
		{"junk", "3", 3 * time.Second},
	} {
		h := http.Header{}
		if tc.ms != "" {
			h.Set("retry-after-ms", tc.ms)
		}
		if tc.ra != "" {
			h.Set("Retry-After", tc.ra)
		}
		if got := ParseRetryAfter(h, now); got != tc.want {
			t.Errorf("ParseRetryAfter(ms %q, %q) = %v, want %v", tc.ms, tc.ra, got, tc.want)
		}
	}
}

func TestStatusAndStreamErrors(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&StatusError{StatusCode: 429, RetryAfter: 2 * time.Second, Message: "slow down"},
			"llm: upstream error: status 429 (Too Many Requests): slow down (retry after 2s)"},
		{&StatusError{StatusCode: 500, Message: "Internal Server Error"}, "llm: upstream error: status 500 (Internal Server Error)"},
		{&StatusError{StatusCode: 529}, "llm: upstream error: status 529"},
		{&StreamError{Type: "overloaded_error", Message: "Overloaded"}, "llm: upstream error: error in stream: overloaded_error: Overloaded"},
		{&StreamError{}, "llm: upstream error: error in stream"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
		if !errors.Is(tc.err, ErrUpstream) || errors.Is(tc.err, ErrStreamCut) {
			t.Errorf("%v does not wrap exactly ErrUpstream", tc.err)
		}
	}
	if !strings.HasPrefix(ErrMalformed.Error(), "llm: ") {
		t.Error("ErrMalformed lacks the package prefix")
	}
}
