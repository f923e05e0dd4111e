package llm

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ErrMalformed marks an upstream chunk that could not be decoded. Errors
// wrapping it wrap ErrUpstream too.
var ErrMalformed = errors.New("llm: malformed chunk")

// StatusError is an HTTP error status an upstream answered with instead of
// opening a stream. Network providers return it (wrapped) from
// Provider.Stream, so failure handling (llm/resilient) can decide on retries
// without knowing any SDK. It wraps ErrUpstream.
type StatusError struct {
	// StatusCode is the HTTP status, 400 or more.
	StatusCode int
	// RetryAfter is how long the upstream asked the client to wait before
	// trying again (the Retry-After or retry-after-ms header); 0 when it
	// did not say.
	RetryAfter time.Duration
	// Message is the upstream's own explanation (error.message of the
	// response body), or the status text when the body had none. Providers
	// remove their API key from it.
	Message string
	// Type, Code and Param are the upstream's error.type, error.code and
	// error.param ("invalid_request_error", "context_length_exceeded",
	// "messages"), empty when it gave none. Anthropic's error.type goes
	// to Type.
	Type  string
	Code  string
	Param string
}

// Error returns "llm: upstream error: status 429 (Too Many Requests): ...".
func (e *StatusError) Error() string {
	var b strings.Builder
	b.WriteString(ErrUpstream.Error())
	b.WriteString(": status ")
	b.WriteString(strconv.Itoa(e.StatusCode))
	if text := http.StatusText(e.StatusCode); text != "" {
		b.WriteString(" (")
		b.WriteString(text)
		b.WriteByte(')')
	}
	if e.Message != "" && e.Message != http.StatusText(e.StatusCode) {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %v)", e.RetryAfter)
	}
	return b.String()
}

// Unwrap returns ErrUpstream.
func (e *StatusError) Unwrap() error { return ErrUpstream }

// StreamError is an error object an upstream sent inside a stream it had
// already opened with status 200 (OpenAI-compatible servers send
// data: {"error":{...}}, Anthropic an "error" event). It wraps ErrUpstream.
type StreamError struct {
	// Type is the upstream's error type ("server_error",
	// "overloaded_error", ...), empty when it gave none.
	Type string
	// Message is the upstream's explanation, with the API key removed.
	Message string
}

// Error returns "llm: upstream error: error in stream: <type>: <message>".
func (e *StreamError) Error() string {
	var b strings.Builder
	b.WriteString(ErrUpstream.Error())
	b.WriteString(": error in stream")
	if e.Type != "" {
		b.WriteString(": ")
		b.WriteString(e.Type)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// Unwrap returns ErrUpstream.
func (e *StreamError) Unwrap() error { return ErrUpstream }

// maxRetryAfter caps a parsed Retry-After so a hostile or broken header
// cannot overflow a time.Duration.
const maxRetryAfter = 24 * time.Hour

// ParseRetryAfter reads how long h asks the client to wait: the
// retry-after-ms header (milliseconds, as OpenAI sends it) if present and
// valid, else Retry-After as delay-seconds or as an HTTP date relative to
// now. It returns 0 when neither header is present or valid, or when the
// date has passed; the result is capped at 24 hours.
func ParseRetryAfter(h http.Header, now time.Time) time.Duration {
	if v := strings.TrimSpace(h.Get("Retry-After-Ms")); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms >= 0 && ms < float64(maxRetryAfter/time.Millisecond) {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs <= 0 || secs != secs { // negative, zero or NaN
			return 0
		}
		if secs >= maxRetryAfter.Seconds() {
			return maxRetryAfter
		}
		return time.Duration(secs * float64(time.Second))
	}
	if at, err := http.ParseTime(v); err == nil {
		d := at.Sub(now)
		if d <= 0 {
			return 0
		}
		return min(d, maxRetryAfter)
	}
	return 0
}
