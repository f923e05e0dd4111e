package embedded

import "errors"

var (
	// ErrInvalidConfig marks a Config that Validate rejects.
	ErrInvalidConfig = errors.New("embedded: invalid config")

	// ErrClosed is returned by Recv on a stream that was closed.
	ErrClosed = errors.New("embedded: stream closed")

	// ErrSchema marks a JSON schema (response_format or a tool's
	// parameters) using a keyword the embedded model cannot satisfy. Stream
	// wraps it together with llm.ErrInvalidRequest.
	ErrSchema = errors.New("embedded: unsupported JSON schema")
)
