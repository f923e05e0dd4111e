package actors

import (
	"fmt"
	"time"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/model"
	"github.com/asynkron/protoactor-go/actor"
)

// Spec describes a request to submit.
type Spec struct {
	// Model overrides the provider's default model.
	Model string
	// Messages is the conversation; at least one message.
	Messages []llm.Message
	// MaxTokens caps the answer; 0 for the provider's default.
	MaxTokens int
	// Settings are the other generation settings (sampling, stop, tools,
	// response format, ...); the provider honours each one set or the
	// submit is refused (llm.Check).
	Settings llm.Settings
	// OnDisconnect decides what happens when the last subscriber leaves.
	OnDisconnect model.DisconnectPolicy
	// Metadata is kept with the request and shown in its snapshot.
	Metadata map[string]string
}

// Request is the provider request the spec asks for.
func (s Spec) Request() llm.Request {
	return llm.Request{Model: s.Model, Messages: s.Messages, MaxTokens: s.MaxTokens, Settings: s.Settings}
}

func (s Spec) validate() error {
	if len(s.Messages) == 0 {
		return fmt.Errorf("%w: no messages", ErrInvalidRequest)
	}
	if s.MaxTokens < 0 {
		return fmt.Errorf("%w: max_tokens must not be negative, got %d", ErrInvalidRequest, s.MaxTokens)
	}
	if s.OnDisconnect > model.OnDisconnectCancel {
		return fmt.Errorf("%w: unknown on_disconnect %s", ErrInvalidRequest, s.OnDisconnect)
	}
	return nil
}

// Snapshot is a request's state at one moment.
type Snapshot struct {
	ID    string
	Owner string
	Model string
	State model.State
	// Status, Reason and Message are set once the request is terminal.
	Status  model.Status
	Reason  model.Reason
	Message string
	// CreatedAt is the submit time; StartedAt the admission; FinishedAt
	// the terminal event. Zero when not reached.
	CreatedAt  time.Time
	StartedAt  time.Time
	FinishedAt time.Time
	// Tokens counts token records; LastSeq is the newest record's seq.
	Tokens  int
	LastSeq uint64
	// Subscribers attached right now.
	Subscribers int
	// QueuePosition is the 1-based place in the queue while pending, 0
	// otherwise.
	QueuePosition int
	OnDisconnect  model.DisconnectPolicy
	Usage         *model.Usage
	// Upstream is what the provider answered when it failed the request.
	Upstream *model.UpstreamError
	Metadata map[string]string
}

// The message protocol. An actor that embeds Armistice sends these to the
// supervisor (see SupervisorProps) with ctx.Request, so that replies reach
// it; every command is answered with exactly one of *Snapshot, *Subscribed
// or *Error.

// Submit creates a request owned by Owner. Reply: *Snapshot (pending or,
// with a free slot, already admitted) or *Error (ErrShuttingDown,
// *QueueFullError, ErrInvalidRequest).
type Submit struct {
	Owner string
	Spec  Spec
}

// GetStatus asks for a snapshot. Reply: *Snapshot or *Error(ErrNotFound).
type GetStatus struct{ ID, Owner string }

// Cancel cancels a request. Reply: *Snapshot (state cancelled; repeating
// the cancel answers the same) or *Error wrapping ErrAlreadyFinished (with
// the snapshot) or ErrNotFound.
type Cancel struct{ ID, Owner string }

// Delete forgets a finished request at once, instead of after Linger or
// PickupTimeout: its id answers not found from then on, and subscribers
// still attached get what they had not read. Reply: *Snapshot (the request
// as it ended) or *Error wrapping ErrNotFinished (still pending or
// streaming; cancel it first) or ErrNotFound.
type Delete struct{ ID, Owner string }

// Subscribe attaches a subscriber that has seen every record up to After
// (0 for none). Deliveries go to Sink (an actor receiving *Batch), and
// only in answer to a *Pull. Reply: *Subscribed or *Error
// (ErrNotFound, ErrInvalidCursor, ErrTooManySubscribers). The request
// watches Sink and detaches it when it stops.
type Subscribe struct {
	ID, Owner string
	After     uint64
	Sink      *actor.PID
	// ch is the in-process sink used by Engine.Subscribe instead of Sink.
	ch chan Batch
}

// Subscribed answers Subscribe. Send Pull and Unsubscribe to Request.
// When Exhausted is true the cursor was already at or past the end record:
// nothing is attached and nothing will be delivered.
type Subscribed struct {
	Sub       uint64
	Request   *actor.PID
	Snapshot  Snapshot
	Exhausted bool
}

// Pull grants the request Credits more batches (0 means 1) of the records
// after the subscriber's cursor, each at most Max records (0 means
// BatchSize). Each *Batch comes as soon as records exist and uses one
// credit, so a subscriber holds at most the batches it granted and never
// blocks the request. An actor subscriber that keeps one Pull outstanding
// gets one batch per Pull.
type Pull struct {
	Sub     uint64
	Max     int
	Credits int
}

// Unsubscribe detaches a subscriber.
type Unsubscribe struct{ Sub uint64 }

// Batch is a delivery: consecutive records in seq order. Records is shared
// and must not be modified. Closed is set on the last delivery of a
// request that is stopping; Records then holds whatever the subscriber had
// not received, end included.
type Batch struct {
	Sub     uint64
	Records []model.Record
	Closed  bool
}

// Drain stops admissions and, after Grace, ends every running request as
// failed/shutdown. Pending requests end as failed/shutdown at once. Reply:
// *Drained once every request is terminal.
type Drain struct{ Grace time.Duration }

// Drained answers Drain.
type Drained struct{}

// GetStats asks the supervisor for its counters. Reply: *Stats.
type GetStats struct{}

// Stats are the supervisor's counters.
type Stats struct {
	// Registered is the number of live request actors (known ids).
	Registered int
	// Active requests hold a slot; Queued wait for one.
	Active int
	Queued int
	// Draining is set once Drain was received.
	Draining bool
	// Workers is Config.Workers. MailboxRunsOnWorkers and
	// MailboxRunsOnGoroutines count the engine's mailbox runs (supervisor
	// and requests) by where they ran; many on goroutines means Workers is
	// too small.
	Workers                 int
	MailboxRunsOnWorkers    uint64
	MailboxRunsOnGoroutines uint64
}

// Error is the reply to a command that failed. Snapshot is set when the
// request exists (ErrAlreadyFinished).
type Error struct {
	Err      error
	Snapshot *Snapshot
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Internal messages.
type (
	// admit grants a slot (supervisor → request).
	admit struct{}
	// shutdownNow ends a request as failed/shutdown (supervisor → request).
	shutdownNow struct{}
	// finished tells the supervisor a request reached its end record.
	finished struct {
		id  string
		ran time.Duration
	}
	// retire asks the supervisor to forget a finished request and stop
	// it (request → supervisor).
	retire struct{ id string }
	// deleteNow makes a finished request answer its snapshot and stop
	// (supervisor → request).
	deleteNow struct{}
	// statusQuery is GetStatus/Submit forwarded with the queue position.
	statusQuery struct{ position int }
	// produced wakes the request to drain its inbox.
	produced struct{}
	// timerFired is a model timer going off.
	timerFired struct {
		timer model.Timer
		gen   uint32
	}
	// drainDeadline ends the drain grace (supervisor → itself).
	drainDeadline struct{}
	// panicNow makes a request actor panic; only tests send it, to prove
	// that a crash stops the request and still delivers a failed end.
	// midStep makes the panic happen as if inside a step.
	panicNow struct {
		value   any
		midStep bool
	}
)

var producedSignal = &produced{}
