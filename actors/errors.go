package actors

import (
	"errors"
	"fmt"
	"time"
)

var (
	// ErrNotFound: no request with that id is visible to the caller. An
	// unknown id, an expired one and another owner's id all give this
	// same answer.
	ErrNotFound = errors.New("actors: request not found")
	// ErrQueueFull: MaxActive requests are streaming and MaxQueued are
	// waiting. The error is a *QueueFullError carrying a retry-after hint.
	ErrQueueFull = errors.New("actors: queue full")
	// ErrShuttingDown: the engine is draining and accepts no new requests.
	ErrShuttingDown = errors.New("actors: shutting down")
	// ErrTooManySubscribers: the request already has MaxSubscribers.
	ErrTooManySubscribers = errors.New("actors: too many subscribers")
	// ErrAlreadyFinished: a cancel reached a request that had already
	// completed or failed.
	ErrAlreadyFinished = errors.New("actors: request already finished")

	// ErrNotFinished is returned by Delete for a request that is still
	// pending or streaming: cancel it first.
	ErrNotFinished = errors.New("actors: request not finished")
	// ErrInvalidCursor: a subscribe cursor is ahead of the request's log.
	ErrInvalidCursor = errors.New("actors: cursor ahead of the log")
	// ErrInvalidRequest: a submitted Spec is not acceptable.
	ErrInvalidRequest = errors.New("actors: invalid request")
	// ErrInvalidConfig is returned by Config.Validate.
	ErrInvalidConfig = errors.New("actors: invalid config")
	// ErrNoAnswer: the engine did not answer in time (it is overloaded or
	// stopped).
	ErrNoAnswer = errors.New("actors: no answer from the engine")
	// ErrRequestGone: the request stopped while a subscription was open
	// and before its end record reached the subscriber.
	ErrRequestGone = errors.New("actors: request gone")
	// ErrClosed: the engine or the subscription was closed.
	ErrClosed = errors.New("actors: closed")
	// ErrExpired: the request existed but retention evicted it before its
	// end was read, to stay within MaxRetained or MaxRetainedBytes.
	ErrExpired = errors.New("actors: request expired")
	// ErrIdempotencyConflict: a submit reused an IdempotencyKey with
	// another spec.
	ErrIdempotencyConflict = errors.New("actors: idempotency key reused with another request")
	// ErrInternal: the engine could not carry out a valid command (a
	// request actor could not be spawned); not the caller's fault.
	ErrInternal = errors.New("actors: internal error")
)

// QueueFullError is the error of a refused submit. It matches ErrQueueFull
// with errors.Is.
type QueueFullError struct {
	// RetryAfter estimates when a slot is likely to be free.
	RetryAfter time.Duration
}

func (e *QueueFullError) Error() string {
	return fmt.Sprintf("%v (retry after %s)", ErrQueueFull, e.RetryAfter)
}

// Is makes errors.Is(err, ErrQueueFull) true.
func (e *QueueFullError) Is(target error) bool { return target == ErrQueueFull }
