// Package upstream holds what the network providers (llm/openai,
// llm/anthropic) share: turning an HTTP error response into an
// llm.StatusError, keeping the API key out of error strings, aborting a
// response body when the request's context ends, and checking the common
// Config fields.
package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/armistice-go/armistice/llm"
)

// maxErrorBody bounds how much of an error response is read for its
// message.
const maxErrorBody = 64 << 10

// Redacted replaces a secret in error strings.
const Redacted = "[redacted]"

// minSecret is the shortest secret Redact removes; shorter ones would
// mangle ordinary words and cannot be secret anyway.
const minSecret = 4

// Redact returns s with every occurrence of secret replaced by Redacted.
func Redact(s, secret string) string {
	if len(secret) < minSecret || !strings.Contains(s, secret) {
		return s
	}
	return strings.ReplaceAll(s, secret, Redacted)
}

// RedactError returns err unchanged unless its message contains secret; then
// it returns an error whose message has the secret replaced and which wraps
// err, so errors.Is and errors.As still see the whole chain.
func RedactError(err error, secret string) error {
	if err == nil || len(secret) < minSecret {
		return err
	}
	msg := err.Error()
	if !strings.Contains(msg, secret) {
		return err
	}
	return &redacted{msg: Redact(msg, secret), err: err}
}

type redacted struct {
	msg string
	err error
}

func (r *redacted) Error() string { return r.msg }
func (r *redacted) Unwrap() error { return r.err }

// Status builds the llm.StatusError for an error response. The body is read
// (at most 64 KiB) for the upstream's error type, code, param and message
// (ParseErrorBody: OpenAI's and Anthropic's shapes and a few others); the
// status text stands in for a missing message.
func Status(res *http.Response, now time.Time, secret string) *llm.StatusError {
	e := &llm.StatusError{
		StatusCode: res.StatusCode,
		RetryAfter: llm.ParseRetryAfter(res.Header, now),
	}
	if res.Body != nil {
		body, _ := io.ReadAll(io.LimitReader(res.Body, maxErrorBody))
		b := ParseErrorBody(body)
		e.Message, e.Type, e.Code, e.Param = b.Message, b.Type, b.Code, b.Param
	}
	if e.Message == "" {
		e.Message = http.StatusText(res.StatusCode)
	}
	e.Message = Redact(e.Message, secret)
	e.Type, e.Code, e.Param = Redact(e.Type, secret), Redact(e.Code, secret), Redact(e.Param, secret)
	return e
}

// StreamError parses an in-stream error object, {"error":{"type","message"}}
// (OpenAI-compatible) or {"type":"error","error":{...}} (Anthropic). A
// payload that is not such an object becomes a StreamError whose Message is
// the payload itself, trimmed to a reasonable length.
func StreamError(data []byte, secret string) *llm.StreamError {
	var parsed struct {
		Error struct {
			Type    string `json:"type"`
			Message string `json:"message"`
			Code    any    `json:"code"`
		} `json:"error"`
	}
	e := &llm.StreamError{}
	if json.Unmarshal(data, &parsed) == nil && (parsed.Error.Type != "" || parsed.Error.Message != "" || parsed.Error.Code != nil) {
		e.Type, e.Message = parsed.Error.Type, parsed.Error.Message
		if code, ok := parsed.Error.Code.(string); ok && e.Type == "" {
			e.Type = code
		}
	} else {
		const max = 200
		msg := strings.TrimSpace(string(data))
		if len(msg) > max {
			msg = msg[:max] + "..."
		}
		e.Message = msg
	}
	e.Type = Redact(e.Type, secret)
	e.Message = Redact(e.Message, secret)
	return e
}

// Watch closes body once ctx is done, so a stream is aborted even when the
// HTTP client's transport would not notice the cancellation while the body
// is being read. The returned stop unregisters the watch; it is safe to call
// more than once.
func Watch(ctx context.Context, body io.Closer) (stop func()) {
	if body == nil {
		return func() {}
	}
	unregister := context.AfterFunc(ctx, func() { _ = body.Close() })
	return func() { unregister() }
}

// CheckBaseURL reports whether raw is an absolute http or https URL.
func CheckBaseURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("BaseURL %q does not parse: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("BaseURL %q must be an http or https URL", raw)
	}
	if u.Host == "" {
		return fmt.Errorf("BaseURL %q has no host", raw)
	}
	return nil
}

// CheckHeaders reports whether every name in h is a valid HTTP header field
// name and every value a valid field value.
func CheckHeaders(h map[string]string) error {
	for name, value := range h {
		if !validName(name) {
			return fmt.Errorf("ExtraHeaders: invalid header name %q", name)
		}
		if strings.ContainsAny(value, "\r\n\x00") {
			return fmt.Errorf("ExtraHeaders: header %q has an invalid value", name)
		}
	}
	return nil
}

// validName reports whether s is an RFC 9110 token.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// DefaultHTTPClient returns the client a provider uses when its Config has
// none: a clone of http.DefaultTransport keeping more idle connections per
// host (an engine streams many answers from one upstream at once), and no
// overall timeout, since the request's context bounds each stream.
func DefaultHTTPClient() *http.Client {
	t, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		return &http.Client{}
	}
	t = t.Clone()
	t.MaxIdleConnsPerHost = 64
	return &http.Client{Transport: t}
}

// Cancelled returns an error wrapping ctx's error, prefixed by the provider
// name, if ctx is done; nil otherwise.
func Cancelled(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// IsJSONError reports whether err came from decoding JSON.
func IsJSONError(err error) bool {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	return errors.As(err, &syntax) || errors.As(err, &typ)
}
