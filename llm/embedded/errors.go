package embedded

import "errors"

var (
	// ErrInvalidConfig marks a Config that Validate rejects.
	ErrInvalidConfig = errors.New("embedded: invalid config")

	// ErrClosed is returned by Recv on a stream that was closed.
	ErrClosed = errors.New("embedded: stream closed")
)
