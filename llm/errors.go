package llm

import "errors"

var (
	// ErrUpstream marks a failure reported by, or on the way to, the model
	// provider: a refused connection, an HTTP error status, a malformed chunk,
	// an error object inside the stream.
	ErrUpstream = errors.New("llm: upstream error")

	// ErrStreamCut marks a stream that ended without a finish reason.
	ErrStreamCut = errors.New("llm: stream ended without a finish reason")

	// ErrInvalidRequest marks a request the provider refuses to start
	// (for example an empty conversation).
	ErrInvalidRequest = errors.New("llm: invalid request")

	// ErrUnsupported marks a request setting the provider cannot honour
	// (see UnsupportedError); the request is refused, never run without it.
	ErrUnsupported = errors.New("llm: unsupported setting")
)
