package http

import (
	"errors"
	"fmt"
	stdhttp "net/http"
)

// ErrInvalidConfig is returned by Config.Validate and New.
var ErrInvalidConfig = errors.New("http: invalid config")

// The error codes of the API, in the "code" field of every error body.
const (
	CodeInvalidRequest       = "invalid_request"
	CodeInvalidCursor        = "invalid_cursor"
	CodeUnauthorized         = "unauthorized"
	CodeNotFound             = "not_found"
	CodeMethodNotAllowed     = "method_not_allowed"
	CodeAlreadyFinished      = "already_finished"
	CodePayloadTooLarge      = "payload_too_large"
	CodeUnsupportedMediaType = "unsupported_media_type"
	CodeQueueFull            = "queue_full"
	CodeTooManySubscribers   = "too_many_subscribers"
	CodeInternal             = "internal_error"
	CodeShuttingDown         = "shutting_down"
	CodeUnavailable          = "unavailable"
	CodeExpired              = "expired"
	CodeIdempotencyConflict  = "idempotency_conflict"
	CodeRequestTimeout       = "request_timeout"
)

// APIError is an error answer: a status, a code and a message, and for
// already_finished the request's snapshot.
type APIError struct {
	Status  int
	Code    string
	Message string
	// RetryAfter, in whole seconds, becomes a Retry-After header when
	// positive.
	RetryAfter int
	// Snapshot is sent next to the error when set.
	Snapshot *SnapshotJSON
	// Err is the cause, for logs; never sent to the client.
	Err error
}

func (e *APIError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%d %s: %s: %v", e.Status, e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message)
}

func (e *APIError) Unwrap() error { return e.Err }

func apiError(status int, code, format string, args ...any) *APIError {
	return &APIError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// errorBody is the JSON of an error answer.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	Snapshot *SnapshotJSON `json:"snapshot,omitempty"`
}

func notFound() *APIError {
	return apiError(stdhttp.StatusNotFound, CodeNotFound, "no such request")
}
