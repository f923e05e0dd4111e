package resilient

import "errors"

var (
	// ErrInvalidConfig marks a Config that Validate rejects.
	ErrInvalidConfig = errors.New("resilient: invalid config")

	// ErrExhausted marks a request that failed on every attempt of every
	// upstream (an upstream asking for a Retry-After beyond
	// Config.MaxRetryAfter counts as used up). The error also wraps the last
	// attempt's error, so Classify returns that attempt's kind.
	ErrExhausted = errors.New("resilient: retries exhausted")

	// ErrDeadline marks a request given up because the next retry would
	// have waited past its context's deadline and no fallback was left. The
	// error also wraps the last attempt's error.
	ErrDeadline = errors.New("resilient: the next retry would wait past the deadline")

	// ErrClosed is returned by Recv on a stream that was closed.
	ErrClosed = errors.New("resilient: stream closed")
)
