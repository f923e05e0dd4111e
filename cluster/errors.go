package cluster

import "errors"

// Errors of this package; wrapped with %w, test with errors.Is.
var (
	// ErrInvalidConfig: a Config that Validate refuses.
	ErrInvalidConfig = errors.New("cluster: invalid config")
	// ErrStart: the node could not join (a port in use, a provider error).
	ErrStart = errors.New("cluster: cannot start")
	// ErrNotStarted: the node is used before Start.
	ErrNotStarted = errors.New("cluster: not started")
)
