package openaiapi

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	stdhttp "net/http"
	"time"

	"github.com/armistice-go/armistice/actors"
	armhttp "github.com/armistice-go/armistice/http"
)

var (
	// ErrInvalidConfig is returned by Config.Validate and Register.
	ErrInvalidConfig = errors.New("openaiapi: invalid config")
)

// The error types of OpenAI's API, in the "type" field of an error body.
const (
	TypeInvalidRequest = "invalid_request_error"
	TypeServer         = "server_error"
	TypeRequests       = "requests"
)

// The error codes this package sends in the "code" field. Validation
// errors use OpenAI's own codes; the rest are Armistice's.
const (
	CodeInvalidAPIKey      = "invalid_api_key"
	CodeBadRequest         = "bad_request"
	CodeInvalidJSON        = "invalid_json"
	CodeInvalidType        = "invalid_type"
	CodeInvalidValue       = "invalid_value"
	CodeMissingParameter   = "missing_required_parameter"
	CodeUnsupportedParam   = "unsupported_parameter"
	CodeUnsupportedValue   = "unsupported_value"
	CodeContextLength      = "context_length_exceeded"
	CodePreviousNotFound   = "previous_response_not_found"
	CodeRequestTooLarge    = "request_too_large"
	CodeNotFound           = "not_found"
	CodeModelNotFound      = "model_not_found"
	CodeMethodNotAllowed   = "method_not_allowed"
	CodeAlreadyFinished    = "already_finished"
	CodeNotFinished        = "not_finished"
	CodeNotBackground      = "not_background"
	CodeQueueFull          = "queue_full"
	CodeTooManyStreams     = "too_many_streams"
	CodeShuttingDown       = "shutting_down"
	CodeUnavailable        = "unavailable"
	CodeInternal           = "internal_error"
	CodeRequestGone        = "request_gone"
	messageCompletedCancel = "Cannot cancel a completed response."
)

// Error is an error answer in OpenAI's shape:
// {"error":{"message","type","param","code"}}. An empty Param or Code is
// sent as null.
type Error struct {
	Status  int
	Type    string
	Code    string
	Param   string
	Message string
	// RetryAfter, in whole seconds, becomes a Retry-After header when
	// positive.
	RetryAfter int
	// Err is the cause, for logs; never sent to the client.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%d %s/%s: %s: %v", e.Status, e.Type, e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%d %s/%s: %s", e.Status, e.Type, e.Code, e.Message)
}

// Unwrap exposes the cause and an equivalent *armhttp.APIError, so that
// the server's access log names the error code.
func (e *Error) Unwrap() []error {
	errs := []error{&armhttp.APIError{Status: e.Status, Code: cmp.Or(e.Code, e.Type), Message: e.Message}}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

func invalid(param, code, format string, args ...any) *Error {
	return &Error{Status: stdhttp.StatusBadRequest, Type: TypeInvalidRequest, Code: code, Param: param, Message: fmt.Sprintf(format, args...)}
}

func notFound(what, id string) *Error {
	return &Error{Status: stdhttp.StatusNotFound, Type: TypeInvalidRequest, Code: CodeNotFound,
		Message: fmt.Sprintf("No %s found with id '%s'.", what, truncate(id, 140))}
}

// errorJSON is the body of an error answer.
type errorJSON struct {
	Error errorFields `json:"error"`
}

type errorFields struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (e *Error) body() errorJSON {
	return errorJSON{Error: errorFields{Message: e.Message, Type: e.Type, Param: nullable(e.Param), Code: nullable(e.Code)}}
}

// engineError maps the engine's errors onto OpenAI-shaped errors. what
// names the object ("response") in not-found messages.
func engineError(err error, what, id string) *Error {
	var qf *actors.QueueFullError
	switch {
	case errors.As(err, &qf):
		return &Error{Status: stdhttp.StatusTooManyRequests, Type: TypeRequests, Code: CodeQueueFull,
			Message: "The server is at capacity and its queue is full; retry later.", RetryAfter: retryAfterSeconds(qf.RetryAfter), Err: err}
	case errors.Is(err, actors.ErrNotFound), errors.Is(err, actors.ErrExpired):
		// An evicted response answers OpenAI's not-found, as an expired
		// one does there.
		e := notFound(what, id)
		e.Err = err
		return e
	case errors.Is(err, actors.ErrTooManySubscribers):
		return &Error{Status: stdhttp.StatusTooManyRequests, Type: TypeRequests, Code: CodeTooManyStreams,
			Message: "Too many streams are attached to this response; retry later.", RetryAfter: 1, Err: err}
	case errors.Is(err, actors.ErrInvalidRequest):
		return &Error{Status: stdhttp.StatusBadRequest, Type: TypeInvalidRequest, Code: CodeInvalidValue, Message: err.Error(), Err: err}
	case errors.Is(err, actors.ErrShuttingDown), errors.Is(err, actors.ErrClosed):
		return shuttingDown(err)
	case errors.Is(err, actors.ErrNoAnswer), errors.Is(err, context.DeadlineExceeded):
		return &Error{Status: stdhttp.StatusServiceUnavailable, Type: TypeServer, Code: CodeUnavailable,
			Message: "The engine did not answer in time; retry.", RetryAfter: 1, Err: err}
	}
	return internal(err)
}

func shuttingDown(err error) *Error {
	return &Error{Status: stdhttp.StatusServiceUnavailable, Type: TypeServer, Code: CodeShuttingDown,
		Message: "The server is shutting down.", Err: err}
}

func internal(err error) *Error {
	return &Error{Status: stdhttp.StatusInternalServerError, Type: TypeServer, Code: CodeInternal,
		Message: "The server had an error while processing your request.", Err: err}
}

func retryAfterSeconds(d time.Duration) int {
	secs := int((d + time.Second - 1) / time.Second)
	return max(secs, 1)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
