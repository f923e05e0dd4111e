package resilient

import "time"

// Observer is told what the resilient provider does, for metrics and logs.
// Its methods are called from the goroutines that call Provider.Stream and
// Stream.Recv, so they must be safe for concurrent use and quick.
type Observer interface {
	// Attempt: an attempt to open a stream on upstream starts; attempt
	// counts from 1 on each upstream.
	Attempt(upstream string, attempt int)
	// Retry: the last attempt on upstream failed with a retryable error
	// of kind, and the next attempt on the same upstream starts after
	// wait.
	Retry(upstream string, kind Kind, wait time.Duration)
	// Fallback: upstream is given up after an error of kind, and the
	// request moves on to the upstream named next.
	Fallback(upstream string, kind Kind, next string)
	// Error: an error of kind on upstream, before the first token (each
	// failed attempt) or after it. The request's context ending (the
	// caller's cancel or the request's deadline) is the caller's doing and
	// is reported through Aborted, never here. err never holds an SDK
	// provider's API key.
	Error(upstream string, kind Kind, err error)
	// Aborted: the request's context ended (cancel or deadline) while an
	// attempt or a stream on upstream was in flight. latency runs from the
	// context ending to the provider having let go of the upstream request:
	// its Stream or Recv returned, or the stream was closed.
	Aborted(upstream string, latency time.Duration)
}

// NopObserver ignores everything.
type NopObserver struct{}

func (NopObserver) Attempt(string, int)               {}
func (NopObserver) Retry(string, Kind, time.Duration) {}
func (NopObserver) Fallback(string, Kind, string)     {}
func (NopObserver) Error(string, Kind, error)         {}
func (NopObserver) Aborted(string, time.Duration)     {}
