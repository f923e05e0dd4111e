package upstreamhttp

import "errors"

var (
	// ErrInvalidConfig marks a Config that Validate rejects; the error
	// names the field at fault.
	ErrInvalidConfig = errors.New("upstreamhttp: invalid config")

	// ErrBadURL marks a base URL Probe cannot use: unparsable, without a
	// host, or of a scheme other than http and https.
	ErrBadURL = errors.New("upstreamhttp: bad base URL")

	// ErrUnreachable marks a probe that could not connect to the origin
	// (refused, unreachable, or not within Config.ProbeTimeout). No verdict
	// is recorded: the next request to the origin probes again. The error
	// also wraps the dial error.
	ErrUnreachable = errors.New("upstreamhttp: probe could not connect")

	// ErrClosed is returned by Probe once the Client is closed, and to the
	// callers waiting on a probe that Close ended.
	ErrClosed = errors.New("upstreamhttp: client closed")
)
