package model

import (
	"fmt"
	"time"
)

// Event is an input to Step. The set is closed: only this package defines
// events. Every event carries At, the time the shell observed it.
type Event interface {
	isEvent()
	at() time.Time
}

// Admit grants the request a concurrency slot: pending becomes streaming.
type Admit struct{ At time.Time }

// Tokens delivers output produced since the last Tokens event, in order:
// Texts are answer text, Parts output of any kind (text with logprobs,
// reasoning, tool calls), applied after Texts. Empty pieces are ignored.
type Tokens struct {
	Texts []string
	Parts []Part
	At    time.Time
	// Into, when it has room for every piece, is where the step builds the
	// records it appends, as strconv.AppendInt builds in the slice it is
	// given: the request's log lends the free end of its last chunk, so a
	// token's record is written once, where it is kept. Only Into's spare
	// capacity is written; its length is ignored.
	Into []Record
}

// Part is one piece of output. Kind is KindToken, KindReasoning or
// KindToolCall; a part of another kind is ignored.
type Part struct {
	Kind     Kind
	Text     string
	ToolCall *ToolCallDelta
	Logprobs *TokenLogprobs
}

// Finish reports that the producer ended the answer normally. Reason is one
// of stop, length, content_filter, tool_calls; anything else counts as stop.
type Finish struct {
	Reason Reason
	Usage  *Usage
	At     time.Time
}

// Fail ends the request as failed with Reason (upstream_error,
// internal_error, shutdown, ...) and a human Message.
type Fail struct {
	Reason  Reason
	Message string
	Usage   *Usage
	// Upstream is what the provider answered, when it reported the failure.
	Upstream *UpstreamError
	At       time.Time
}

// Cancel asks to cancel the request on a client's behalf. Its outcome is
// reported with a CancelReply effect.
type Cancel struct{ At time.Time }

// Attach reports that a subscriber attached.
type Attach struct{ At time.Time }

// Detach reports that a subscriber left; GotEnd says whether it had
// received the end record.
type Detach struct {
	GotEnd bool
	At     time.Time
}

// EndDelivered reports that the end record reached one attached subscriber.
type EndDelivered struct{ At time.Time }

// TimerFired reports that a timer armed with ArmTimer went off.
type TimerFired struct {
	Timer Timer
	Gen   uint32
	At    time.Time
}

func (Admit) isEvent()        {}
func (Tokens) isEvent()       {}
func (Finish) isEvent()       {}
func (Fail) isEvent()         {}
func (Cancel) isEvent()       {}
func (Attach) isEvent()       {}
func (Detach) isEvent()       {}
func (EndDelivered) isEvent() {}
func (TimerFired) isEvent()   {}

func (e Admit) at() time.Time        { return e.At }
func (e Tokens) at() time.Time       { return e.At }
func (e Finish) at() time.Time       { return e.At }
func (e Fail) at() time.Time         { return e.At }
func (e Cancel) at() time.Time       { return e.At }
func (e Attach) at() time.Time       { return e.At }
func (e Detach) at() time.Time       { return e.At }
func (e EndDelivered) at() time.Time { return e.At }
func (e TimerFired) at() time.Time   { return e.At }

// Timer names one of a request's timers.
type Timer uint8

// The timers. Each has its own generation counter.
const (
	TimerQueue       Timer = iota // QueueTimeout while pending
	TimerFirstToken               // FirstTokenTimeout after admission
	TimerIdle                     // IdleTimeout after the latest token
	TimerDeadline                 // MaxDuration after admission
	TimerDetachGrace              // DetachGrace after the last subscriber left
	TimerLinger                   // Linger after the end reached every subscriber
	TimerPickup                   // PickupTimeout after the end, the hard cap
	numTimers
)

// NumTimers is the number of distinct timers.
const NumTimers = int(numTimers)

var timerNames = [...]string{"queue", "first_token", "idle", "deadline", "detach_grace", "linger", "pickup"}

func (t Timer) String() string {
	if int(t) < len(timerNames) {
		return timerNames[t]
	}
	return fmt.Sprintf("timer(%d)", uint8(t))
}

// Effect is an output of Step, executed by the shell in order. The set is
// closed: only this package defines effects.
type Effect interface{ isEffect() }

// Append adds records to the log and wakes waiting subscribers.
type Append struct{ Records []Record }

// StartProducer starts the provider stream.
type StartProducer struct{}

// StopProducer cancels the provider stream's context. It always follows the
// Append that records the terminal event.
type StopProducer struct{}

// ArmTimer (re)starts a timer; when it fires the shell sends TimerFired with
// the same Timer and Gen. After 0 means "as soon as possible", still as a
// message.
type ArmTimer struct {
	Timer Timer
	Gen   uint32
	After time.Duration
}

// Finished reports that the request reached its terminal record; the shell
// tells its supervisor (to release the slot or the queue place).
type Finished struct{ End End }

// CancelReply answers a Cancel event. AlreadyFinished is true when the
// request had ended otherwise (done); cancelling a cancelled request is
// accepted again, so cancel is idempotent.
type CancelReply struct{ AlreadyFinished bool }

// StopSelf ends the request actor: its result has been delivered (or
// nobody came for it) and retention is over.
type StopSelf struct{}

func (Append) isEffect()        {}
func (StartProducer) isEffect() {}
func (StopProducer) isEffect()  {}
func (ArmTimer) isEffect()      {}
func (Finished) isEffect()      {}
func (CancelReply) isEffect()   {}
func (StopSelf) isEffect()      {}
