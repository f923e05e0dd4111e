// Package resilient implements failure handling once for every provider: a
// Provider that wraps an ordered list of named upstream providers (a
// primary and its fallbacks), retries the failures worth retrying, falls
// back when an upstream is used up, and classifies every error into a Kind
// for metrics and logs.
//
// # The retryable phase
//
// Only what happens before the first token is retried. Provider.Stream opens
// a stream on an upstream and reads it up to its first chunk that carries
// something (text, reasoning, a tool-call piece, logprobs, a finish reason
// or usage); that chunk is buffered and handed out by the first Recv. If
// opening or that first read fails, the attempt failed:
//
//   - if the request's context is done, Stream returns at once with an error
//     wrapping the context's error (kind cancelled or timeout);
//   - if the error's kind is not retryable (a 4xx other than 408 and 429,
//     an error object in the stream, a malformed chunk, an invalid
//     request), Stream returns it at once, without trying a fallback: the
//     request itself is at fault, and another upstream would fail alike or
//     hide the cause;
//   - otherwise (a connection failure, 408, 429, 5xx, a transport timeout,
//     a stream cut before its first chunk) the upstream is tried again, up
//     to 1+Config.Retries attempts, then the next upstream, each from its
//     first attempt. When the last upstream is used up, Stream returns an
//     error wrapping ErrExhausted and the last attempt's error.
//
// When an upstream's stream can wait for its next chunk without decoding
// it (llm.Waiter: llm/openai's can), Stream returns it as soon as it is
// open, and the rest of the phase (the read up to the first chunk, and on
// its failure the retries and fallbacks) happens in the stream's first
// Recv: the same rules, the same observer calls in the same order, the
// same errors (TestTheRetryablePhaseIsTheSameOpenedLazily). A reader
// that calls Wait before Recv then parks in a few small frames while the
// upstream is silent before its first token (a reasoning model, a queue
// at the provider), not under Stream's attempt loop: a parked goroutine
// keeps the stack its depth needs.
//
// Every error Stream returns wraps the last attempt's error, so its
// *llm.StatusError (status, Retry-After, the upstream's type, code, param
// and message) is reachable with errors.As: a 429 that outlasts the
// retries reaches the client as that 429, with its Retry-After.
//
// # Upstream calls per request
//
// One call of Stream makes at most (1+Retries)·U upstream calls, U being
// the number of upstreams (with the defaults, 3 per upstream): that many
// when every attempt fails with a retryable error (a 429 forever, a 5xx
// forever). A non-retryable failure (a 400, 401, 403, 404, 409, 413, 422,
// ...) stops at the call that got it: exactly one call when the first
// attempt gets it. An upstream asking for a Retry-After beyond
// MaxRetryAfter, or whose next wait would end past the deadline, is left
// after that call, so fewer calls are made. Nothing after the first chunk
// is retried.
//
// Between attempts on one upstream the provider waits: the upstream's
// Retry-After when it sent one (llm.StatusError.RetryAfter, from
// Retry-After in seconds or as an HTTP date, or retry-after-ms), else an
// exponential backoff (BaseBackoff, doubling, capped at MaxBackoff) drawn
// with equal jitter from Config.Rand. It never sleeps past the context's
// deadline: when the wait would end after it, the upstream is given up at
// once, moving to the next one without waiting or, on the last upstream,
// failing at once with an error wrapping ErrDeadline and the last attempt's
// error. An upstream asking for a Retry-After beyond Config.MaxRetryAfter is
// given up at once too, as if used up (ErrExhausted if it was the last).
// Waits go through Config.After, so tests observe them without sleeping.
//
// After the first chunk nothing is retried: any error ends the stream (the
// text already delivered stays delivered), and an io.EOF before a finish
// reason becomes an error wrapping llm.ErrUpstream and llm.ErrStreamCut.
//
// # Kinds
//
// Classify maps an error to a Kind: cancelled, timeout, connect,
// status_429, status_408, status_5xx, status_4xx, stream_cut, malformed,
// stream_error, invalid_request, other. It reads only the standard library's error types
// and the llm package's (llm.StatusError, llm.StreamError, ErrMalformed,
// ErrStreamCut, ErrInvalidRequest), which the SDK providers produce, so it
// imports no SDK. The errors Stream and Recv return keep the kind of the
// failure behind them. A cancelled context is the caller's decision, not an
// upstream error: Kind.Upstream is false for it, and the Observer hears of
// it through Aborted, not Error.
//
// # Capabilities
//
// The provider honours a request field only if every upstream does
// (llm.CapabilitiesOf of each, intersected): any of them may end up
// serving the request, and a fallback that dropped a field would break
// the rule that nothing is silently dropped. llm.Check therefore refuses
// at submit time a field that one upstream cannot honour.
//
// # Observing
//
// The Observer (default NopObserver) hears of every attempt, retry (with
// its wait), fallback, error (with its kind) and abort (with the latency
// from the context ending to the upstream request being let go), enough to
// export upstream attempt, retry and error counters and a
// cancel-to-abort histogram.
package resilient
