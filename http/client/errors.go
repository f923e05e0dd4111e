package client

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Sentinels that errors.Is matches against a *Error (by HTTP status) or
// against the client's own failures.
var (
	// ErrInvalidRequest: the server refused the call as malformed (400,
	// 405, 413, 415).
	ErrInvalidRequest = errors.New("client: invalid request")
	// ErrUnauthorized: no API key, or a wrong one (401).
	ErrUnauthorized = errors.New("client: unauthorized")
	// ErrNotFound: no such request, or it expired, or it belongs to
	// another tenant (404).
	ErrNotFound = errors.New("client: request not found")
	// ErrAlreadyFinished: a cancel came after the request's end (409);
	// Error.Snapshot holds the request as it ended.
	ErrAlreadyFinished = errors.New("client: request already finished")
	// ErrTooManyRequests: the queue is full, or too many streams are
	// attached to the request (429).
	ErrTooManyRequests = errors.New("client: too many requests")
	// ErrUnavailable: the server is shutting down or its engine did not
	// answer in time (503).
	ErrUnavailable = errors.New("client: server unavailable")
	// ErrServer: any other 5xx answer.
	ErrServer = errors.New("client: server error")

	// ErrGaveUp: a call failed RetryPolicy.MaxAttempts times in a row;
	// the error wraps the last failure too.
	ErrGaveUp = errors.New("client: gave up retrying")
	// ErrProtocol: the server's answer broke the API's rules (a stream
	// skipped records, an event without a seq, a body that is not JSON).
	ErrProtocol = errors.New("client: protocol error")
)

// Error is an error answer of the API: {"error":{"code":..,"message":..}}
// with its HTTP status.
type Error struct {
	// Status is the HTTP status code.
	Status int
	// Code is the API's stable error code ("not_found", "queue_full", ...);
	// empty when the body was not the API's error shape.
	Code string
	// Message is the server's explanation, for people.
	Message string
	// RetryAfter is what the Retry-After header asked for; 0 without one.
	RetryAfter time.Duration
	// Snapshot is the request as it ended, sent with already_finished.
	Snapshot *Snapshot
}

func (e *Error) Error() string {
	code := e.Code
	if code == "" {
		code = http.StatusText(e.Status)
	}
	if e.Message == "" {
		return fmt.Sprintf("armistice: %d %s", e.Status, code)
	}
	return fmt.Sprintf("armistice: %d %s: %s", e.Status, code, e.Message)
}

// Is reports whether target is the sentinel for e's status.
func (e *Error) Is(target error) bool { return target != nil && target == e.sentinel() }

func (e *Error) sentinel() error {
	switch s := e.Status; {
	case s == http.StatusUnauthorized:
		return ErrUnauthorized
	case s == http.StatusNotFound:
		return ErrNotFound
	case s == http.StatusConflict:
		return ErrAlreadyFinished
	case s == http.StatusTooManyRequests:
		return ErrTooManyRequests
	case s == http.StatusServiceUnavailable:
		return ErrUnavailable
	case s >= 500:
		return ErrServer
	case s >= 400:
		return ErrInvalidRequest
	}
	return nil
}

// retryable says whether another attempt may succeed: 429 and 5xx (other
// than 501) may; other answers will not change.
func (e *Error) retryable() bool {
	return e.Status == http.StatusTooManyRequests || (e.Status >= 500 && e.Status != http.StatusNotImplemented)
}
