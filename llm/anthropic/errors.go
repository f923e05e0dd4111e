package anthropic

import "errors"

var (
	// ErrInvalidConfig marks a Config that Validate rejects.
	ErrInvalidConfig = errors.New("anthropic: invalid config")

	// ErrClosed is returned by Recv on a stream that was closed.
	ErrClosed = errors.New("anthropic: stream closed")
)
