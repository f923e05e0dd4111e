package model

import "fmt"

// State is where a request is in its lifecycle.
type State uint8

// The lifecycle states. The zero value is not a valid state.
const (
	StatePending   State = iota + 1 // queued, waiting for a slot
	StateStreaming                  // the producer is running
	StateCancelled                  // ended by a cancel (terminal)
	StateDone                       // ended otherwise: completed or failed (terminal)
)

var stateNames = [...]string{"", "pending", "streaming", "cancelled", "done"}

func (s State) String() string {
	if int(s) < len(stateNames) && s != 0 {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// Terminal reports whether s is final.
func (s State) Terminal() bool { return s == StateCancelled || s == StateDone }

// MarshalText implements encoding.TextMarshaler.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *State) UnmarshalText(b []byte) error {
	v, err := parse(stateNames[:], string(b))
	*s = State(v)
	return err
}

// Status is the final outcome of a request; StatusNone until it ends.
type Status uint8

// The terminal statuses.
const (
	StatusNone Status = iota
	StatusCompleted
	StatusCancelled
	StatusFailed
)

var statusNames = [...]string{"", "completed", "cancelled", "failed"}

func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("status(%d)", uint8(s))
}

// MarshalText implements encoding.TextMarshaler.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Status) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*s = StatusNone
		return nil
	}
	v, err := parse(statusNames[:], string(b))
	*s = Status(v)
	return err
}

// Reason explains a terminal status.
type Reason uint8

// The reasons. Completed requests end with stop, length, content_filter or
// tool_calls;
// cancelled ones with client_cancel or client_disconnected; the rest are
// failures.
const (
	ReasonNone               Reason = iota
	ReasonStop                      // the model finished its answer
	ReasonLength                    // the answer reached max_tokens
	ReasonContentFilter             // the provider withheld the rest
	ReasonClientCancel              // a client asked to cancel
	ReasonClientDisconnected        // on_disconnect=cancel and nobody came back
	ReasonUpstreamError             // the provider failed or cut the stream
	ReasonFirstTokenTimeout         // no token within FirstTokenTimeout
	ReasonIdleTimeout               // no token within IdleTimeout of the last
	ReasonDeadlineExceeded          // streaming longer than MaxDuration
	ReasonQueueTimeout              // pending longer than QueueTimeout
	ReasonOutputTooLarge            // the log would exceed MaxOutputBytes
	ReasonShutdown                  // the engine drained before the answer ended
	ReasonInternalError             // a panic in provider or engine code
	ReasonToolCalls                 // the model stopped for the client to run its tool calls
	// ReasonNodeLost: the cluster node that owned the request left the
	// cluster before the answer ended. Only other nodes report it (the
	// owner is gone); it never goes through Step.
	ReasonNodeLost
)

var reasonNames = [...]string{
	"", "stop", "length", "content_filter", "client_cancel", "client_disconnected",
	"upstream_error", "first_token_timeout", "idle_timeout", "deadline_exceeded",
	"queue_timeout", "output_too_large", "shutdown", "internal_error", "tool_calls",
	"node_lost",
}

func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}

// MarshalText implements encoding.TextMarshaler.
func (r Reason) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (r *Reason) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*r = ReasonNone
		return nil
	}
	v, err := parse(reasonNames[:], string(b))
	*r = Reason(v)
	return err
}

// DisconnectPolicy says what happens when the last subscriber leaves.
type DisconnectPolicy uint8

// The policies.
const (
	// OnDisconnectContinue keeps the request running and resumable.
	OnDisconnectContinue DisconnectPolicy = iota
	// OnDisconnectCancel cancels it (client_disconnected) when nobody
	// re-attaches within DetachGrace.
	OnDisconnectCancel
)

var policyNames = [...]string{"continue", "cancel"}

func (p DisconnectPolicy) String() string {
	if int(p) < len(policyNames) {
		return policyNames[p]
	}
	return fmt.Sprintf("policy(%d)", uint8(p))
}

// MarshalText implements encoding.TextMarshaler.
func (p DisconnectPolicy) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler; the empty string is
// "continue".
func (p *DisconnectPolicy) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*p = OnDisconnectContinue
		return nil
	}
	v, err := parse(policyNames[:], string(b))
	*p = DisconnectPolicy(v)
	return err
}

func parse(names []string, s string) (uint8, error) {
	for i, n := range names {
		if n == s && n != "" {
			return uint8(i), nil
		}
	}
	return 0, fmt.Errorf("%w: %q", ErrUnknownName, s)
}
