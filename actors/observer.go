package actors

import (
	"time"

	"github.com/armistice-go/armistice/model"
)

// Observer is told what requests do, for metrics. Request actors call it
// from inside Receive, so its methods must be quick, safe for concurrent
// use, and must never block or call back into the engine (Prometheus
// collectors qualify). Embed NopObserver to implement only some methods.
type Observer interface {
	// StateChanged reports a transition; from is 0 for a new request.
	StateChanged(from, to model.State)
	// FirstToken reports the time from submit to the first token record.
	FirstToken(sinceSubmit time.Duration)
	// Finished reports a request's end record, once per request.
	Finished(Outcome)
	// Removed reports that a request actor stopped in state last.
	Removed(last model.State)
	// SubscribersChanged reports subscribers attaching (+) or leaving (-).
	SubscribersChanged(delta int)
}

// TokenObserver is an Observer that is also told of token records as a
// request appends them, so that a token counter moves while requests
// stream (Finished reports the total only at the end). The engine calls
// Tokens, from inside Receive like the other methods, when its Observer
// implements it.
type TokenObserver interface {
	Observer
	// Tokens reports n token records appended to one request's log.
	Tokens(n int)
}

// Outcome describes a finished request.
type Outcome struct {
	Status model.Status
	Reason model.Reason
	Tokens int
	// Duration runs from submit to the end record; Queued is the part
	// spent pending.
	Duration time.Duration
	Queued   time.Duration
	Usage    *model.Usage
}

// NopObserver ignores everything.
type NopObserver struct{}

func (NopObserver) StateChanged(from, to model.State)    {}
func (NopObserver) FirstToken(sinceSubmit time.Duration) {}
func (NopObserver) Finished(Outcome)                     {}
func (NopObserver) Removed(last model.State)             {}
func (NopObserver) SubscribersChanged(delta int)         {}
