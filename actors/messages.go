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
	// Retain keeps the finished request at least this long, whether or
	// not its end was read (this request's Linger and PickupTimeout are
	// raised to it): stored OpenAI Responses are kept for
	// ResponseRetention. Retention's budget (MaxRetained, ...) still
	// applies. 0 keeps the engine's Linger and PickupTimeout.
	Retain time.Duration
	// KeepInput keeps the request's input messages after its end, for a
	// later turn to continue from (Engine.Log answers them; retention
	// counts them): stored OpenAI Responses keep theirs. Otherwise a
	// finished request drops them.
	KeepInput bool
	// SharesInput names, for a request submitted with KeepInput, the messages of
	// Messages that are an earlier request's input messages, their texts
	// shared with it (not copies): a conversation continued from a stored
	// Response. Retention counts those texts once, with the earlier
	// request while it is retained and keeps its input (KeepInput), with this
	// one after it went. Empty: nothing shared, everything is counted.
	SharesInput SharedInput
	// TraceID is the caller's own id for the submit (the server passes the
	// HTTP request's X-Request-Id); the request's log lines carry it as
	// req_id. It is not part of the request and not compared for
	// idempotency.
	TraceID string
	// IdempotencyKey makes a submit safe to retry: while the request it
	// created is retained, a submit of the same owner with the same key
	// and the same spec answers that request (Snapshot.Replayed), and one
	// with another spec fails with ErrIdempotencyConflict. Empty: none.
	IdempotencyKey string
}

// SharedInput says which messages of a request repeat an earlier
// request's input messages, sharing their texts (Spec.SharesInput).
type SharedInput struct {
	// ID is the earlier request, of the same owner; another owner's
	// request, or an unknown one, shares nothing.
	ID string
	// Messages[From:From+Count] are the shared messages.
	From, Count int
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
	if s.Retain < 0 {
		return fmt.Errorf("%w: Retain must not be negative, got %s", ErrInvalidRequest, s.Retain)
	}
	if sh := s.SharesInput; sh.From < 0 || sh.Count < 0 || sh.From+sh.Count > len(s.Messages) || (sh.Count > 0 && sh.ID == "") {
		return fmt.Errorf("%w: SharesInput %+v does not name messages of another request among the %d messages", ErrInvalidRequest, sh, len(s.Messages))
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
	Metadata      map[string]string
	// Upstream is what the provider answered when it failed the request
	// (its HTTP status, error type, code and parameter); nil otherwise.
	Upstream *model.UpstreamError
	// Ref echoes the Ref of the command this snapshot answers (0 when it
	// had none), so an actor with several commands in flight can tell the
	// answers apart.
	Ref uint64
	// Replayed is set on the answer to a Submit that found the request an
	// earlier submit with the same IdempotencyKey created.
	Replayed bool
}

// The message protocol. An actor that embeds Armistice sends these to the
// supervisor (see SupervisorProps) with ctx.Request, so that replies reach
// it; every command is answered with exactly one of *Snapshot, *Subscribed
// or *Error, unless its Deadline had passed when it arrived.
//
// Every command has a Ref, echoed in its answer (Snapshot.Ref,
// Subscribed.Ref, Error.Ref), and a Deadline: a command that arrives after
// its deadline is dropped unanswered and changes nothing, so a caller
// that gave up leaves nothing behind. A caller that stops waiting before
// the answer came sends Withdraw with the same Ref, which undoes a Submit
// or a Subscribe that was carried out after all.

// Submit creates a request owned by Owner. Reply: *Snapshot (pending or,
// with a free slot, already admitted) or *Error (ErrShuttingDown,
// *QueueFullError, ErrInvalidRequest).
type Submit struct {
	Owner    string
	Spec     Spec
	Ref      uint64
	Deadline time.Time
	// ch, set by Engine.SubmitAndSubscribe, attaches an in-process
	// subscriber at cursor 0 as the request answers: the reply is then
	// *Subscribed, its Snapshot the request as accepted.
	ch chan Batch
}

// GetStatus asks for a snapshot. Reply: *Snapshot or *Error(ErrNotFound).
type GetStatus struct {
	ID, Owner string
	Ref       uint64
	Deadline  time.Time
}

// GetLog asks for a snapshot and the whole log as it is now, without
// attaching a subscriber: a read with no side effect (it counts toward no
// MaxSubscribers and starts no DetachGrace). Reply: *LogSnapshot or
// *Error(ErrNotFound).
type GetLog struct {
	ID, Owner string
	Ref       uint64
	Deadline  time.Time
}

// LogSnapshot answers GetLog. Records is shared with the request's log and
// must not be modified.
type LogSnapshot struct {
	Snapshot Snapshot
	Records  []model.Record
	// Input is the request's conversation, kept after the end only for a
	// request submitted with KeepInput (nil otherwise). Shared: do not
	// modify.
	Input []llm.Message
	// Ref echoes GetLog.Ref.
	Ref uint64
}

// Cancel cancels a request. Reply: *Snapshot (state cancelled; repeating
// the cancel answers the same) or *Error wrapping ErrAlreadyFinished (with
// the snapshot) or ErrNotFound.
type Cancel struct {
	ID, Owner string
	Ref       uint64
	Deadline  time.Time
}

// Withdraw undoes the Submit (ID empty) or the Subscribe to request ID
// that Owner sent with Ref, if it was carried out: the request is
// forgotten and stopped before anybody saw it, the subscriber detached.
// It has no reply. A Submit whose answer was already replayed to another
// caller (Spec.IdempotencyKey) is not withdrawn.
type Withdraw struct {
	ID, Owner string
	Ref       uint64
}

// Delete forgets a finished request at once, instead of after Linger or
// PickupTimeout: its id answers not found from then on, and subscribers
// still attached get what they had not read. Reply: *Snapshot (the request
// as it ended) or *Error wrapping ErrNotFinished (still pending or
// streaming; cancel it first) or ErrNotFound.
type Delete struct {
	ID, Owner string
	Ref       uint64
	Deadline  time.Time
}

// Subscribe attaches a subscriber that has seen every record up to After
// (0 for none). Deliveries go to Sink (an actor receiving *Batch), and
// only in answer to a *Pull. Reply: *Subscribed or *Error
// (ErrNotFound, ErrInvalidCursor, ErrTooManySubscribers). The request
// watches Sink and detaches it when it stops.
type Subscribe struct {
	ID, Owner string
	After     uint64
	Sink      *actor.PID
	Ref       uint64
	Deadline  time.Time
	// ch is the in-process sink used by Engine.Subscribe instead of Sink.
	ch chan Batch
	// credits is the window an in-process subscriber grants as it
	// attaches, so that its first read needs no Pull.
	credits int
}

// Subscribed answers Subscribe. Send Pull and Unsubscribe to Request.
// When Exhausted is true the cursor was already at or past the end record:
// nothing is attached and nothing will be delivered.
type Subscribed struct {
	Sub       uint64
	Request   *actor.PID
	Snapshot  Snapshot
	Exhausted bool
	// Ref echoes Subscribe.Ref.
	Ref uint64
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

// Unsubscribe detaches a subscriber. Send Pull and Unsubscribe with
// ctx.Request, so that the request sees they come from the subscriber:
// from any other sender they are ignored.
type Unsubscribe struct{ Sub uint64 }

// Batch is a delivery: consecutive records in seq order. Records is shared
// and must not be modified. Closed is set on the last delivery of a
// request that is stopping; Records then holds whatever the subscriber had
// not received, end included. It comes with the request's PID as its
// sender, and Request names the request.
type Batch struct {
	Request string
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
	// Retained counts the finished requests kept for late readers and
	// RetainedBytes what they hold (MaxRetained, MaxRetainedBytes).
	Retained      int
	RetainedBytes int64
	// EvictedRead and EvictedUnread count the finished requests retention
	// evicted to stay within its budget: those whose end had been read,
	// and those whose end nobody had read yet (they answer ErrExpired).
	EvictedRead   uint64
	EvictedUnread uint64
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
// request exists (ErrAlreadyFinished). Command names the command that
// failed ("submit", "status", "cancel", "delete", "subscribe") and Ref
// echoes its Ref.
type Error struct {
	Err      error
	Snapshot *Snapshot
	Command  string
	Ref      uint64
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
		id    string
		ran   time.Duration
		bytes int64 // what it keeps while retained
		// shared is the part of bytes that its Spec.SharesInput messages'
		// texts are (counted with the earlier request while that one is
		// retained).
		shared int64
	}
	// pickedUp tells the supervisor the end was read (request →
	// supervisor), so retention evicts it before unread ones.
	pickedUp struct{ id string }
	// retire asks the supervisor to forget a finished request and stop
	// it (request → supervisor).
	retire struct{ id string }
	// deleteNow makes a finished request answer its snapshot and stop
	// (supervisor → request).
	deleteNow struct{ ref uint64 }
	// statusQuery is GetStatus/Submit forwarded with the queue position
	// and the command's Ref.
	statusQuery struct {
		position int
		ref      uint64
		replayed bool
		// attach, for Engine.SubmitAndSubscribe, is the subscriber the
		// new request attaches before it answers.
		attach *Subscribe
	}
	// logQuery is GetLog forwarded with the queue position and Ref.
	logQuery struct {
		position int
		ref      uint64
	}
	// withdrawSub detaches the subscriber a Subscribe with ref attached
	// (supervisor → request, from Withdraw).
	withdrawSub struct{ ref uint64 }
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
