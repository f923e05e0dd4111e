package openai

import "errors"

var (
	// ErrInvalidConfig marks a Config that Validate rejects.
	ErrInvalidConfig = errors.New("openai: invalid config")

	// ErrClosed is returned by Recv on a stream that was closed.
	ErrClosed = errors.New("openai: stream closed")
)
