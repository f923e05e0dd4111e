package model

import (
	"fmt"
	"time"
)

// Limits are the per-request rules Step enforces. A zero timeout disables
// that timeout, except where noted.
type Limits struct {
	// QueueTimeout ends a pending request as failed/queue_timeout.
	QueueTimeout time.Duration
	// FirstTokenTimeout ends a streaming request that has produced no token
	// as failed/first_token_timeout.
	FirstTokenTimeout time.Duration
	// IdleTimeout ends a streaming request whose latest token is older than
	// this as failed/idle_timeout.
	IdleTimeout time.Duration
	// MaxDuration ends a request streaming for longer than this as
	// failed/deadline_exceeded.
	MaxDuration time.Duration
	// MaxOutputBytes caps the text of the log; the token that would exceed
	// it ends the request as failed/output_too_large. 0 means no cap.
	MaxOutputBytes int
	// OnDisconnect is the policy when the last subscriber leaves.
	OnDisconnect DisconnectPolicy
	// DetachGrace is how long an OnDisconnectCancel request waits for a
	// subscriber to come back. 0 cancels at once.
	DetachGrace time.Duration
	// Linger keeps a finished request after its end record reached every
	// attached subscriber, for late resumes. 0 stops at once.
	Linger time.Duration
	// PickupTimeout is the longest a finished request is kept at all,
	// picked up or not. It must be positive.
	PickupTimeout time.Duration
}

// Validate reports the first invalid limit.
func (l Limits) Validate() error {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"QueueTimeout", l.QueueTimeout}, {"FirstTokenTimeout", l.FirstTokenTimeout},
		{"IdleTimeout", l.IdleTimeout}, {"MaxDuration", l.MaxDuration},
		{"DetachGrace", l.DetachGrace}, {"Linger", l.Linger},
	} {
		if d.v < 0 {
			return fmt.Errorf("%w: %s must not be negative, got %s", ErrInvalidLimits, d.name, d.v)
		}
	}
	if l.PickupTimeout <= 0 {
		return fmt.Errorf("%w: PickupTimeout must be positive, got %s", ErrInvalidLimits, l.PickupTimeout)
	}
	if l.MaxOutputBytes < 0 {
		return fmt.Errorf("%w: MaxOutputBytes must not be negative, got %d", ErrInvalidLimits, l.MaxOutputBytes)
	}
	if l.OnDisconnect > OnDisconnectCancel {
		return fmt.Errorf("%w: unknown OnDisconnect %s", ErrInvalidLimits, l.OnDisconnect)
	}
	return nil
}

// Lifecycle is the whole pure state of one request. Only Step changes it.
type Lifecycle struct {
	Limits Limits

	State   State
	Status  Status
	Reason  Reason
	Message string
	Usage   *Usage

	// Upstream is what the provider answered when it failed the request.
	Upstream *UpstreamError

	// LastSeq is the seq of the newest record.
	LastSeq uint64
	// Tokens counts token records; Outputs every output record (tokens,
	// reasoning, tool calls); OutputBytes their text.
	Tokens      int
	Outputs     int
	OutputBytes int

	CreatedAt    time.Time
	StartedAt    time.Time
	FirstTokenAt time.Time
	LastTokenAt  time.Time
	FinishedAt   time.Time

	// Attached counts subscribers; EndPending those still owed the end
	// record; PickedUp is set once any subscriber received it.
	Attached   int
	EndPending int
	PickedUp   bool

	// Gens holds each timer's current generation; Armed says which timers
	// are running. A firing counts only if its timer is armed and its
	// generation current.
	Gens  [NumTimers]uint32
	Armed [NumTimers]bool
}

// New starts a request's lifecycle at the time at: the log opens with
// "state: pending" and the queue timer is armed.
func New(limits Limits, at time.Time) (Lifecycle, []Effect) {
	l := Lifecycle{Limits: limits, State: StatePending, CreatedAt: at}
	var effects []Effect
	effects = append(effects, Append{Records: []Record{l.stateRecord(StatePending)}})
	if limits.QueueTimeout > 0 {
		effects = append(effects, l.arm(TimerQueue, limits.QueueTimeout))
	}
	return l, effects
}

// Step applies ev to l and returns the new lifecycle and the effects the
// shell must execute, in order. It never panics and never reads a clock.
func Step(l Lifecycle, ev Event) (Lifecycle, []Effect) {
	switch ev := ev.(type) {
	case Admit:
		return l.admit(ev)
	case Tokens:
		l, records, effects := l.tokens(ev)
		if len(records) > 0 {
			effects = append([]Effect{Append{Records: records}}, effects...)
		}
		return l, effects
	case Finish:
		if l.State != StateStreaming && !(mutant("second-end") && l.State.Terminal()) {
			return l, nil
		}
		reason := ev.Reason
		if reason != ReasonLength && reason != ReasonContentFilter && reason != ReasonToolCalls {
			reason = ReasonStop
		}
		if ev.Usage != nil {
			u := *ev.Usage
			l.Usage = &u
		}
		return l.end(StateDone, StatusCompleted, reason, "", ev.At, nil)
	case Fail:
		if l.State.Terminal() && !mutant("fail-overrides-cancel") {
			return l, nil
		}
		if ev.Usage != nil {
			u := *ev.Usage
			l.Usage = &u
		}
		if ev.Upstream != nil {
			u := *ev.Upstream
			l.Upstream = &u
		}
		reason := ev.Reason
		if reason < ReasonUpstreamError || reason > ReasonInternalError {
			reason = ReasonInternalError // only failure reasons go with a failed status
		}
		return l.end(StateDone, StatusFailed, reason, ev.Message, ev.At, nil)
	case Cancel:
		switch l.State {
		case StateCancelled:
			return l, []Effect{CancelReply{AlreadyFinished: mutant("cancel-not-idempotent")}}
		case StateDone:
			return l, []Effect{CancelReply{AlreadyFinished: true}}
		case StateStreaming:
			if mutant("cancel-not-recorded-first") {
				return l, []Effect{StopProducer{}, CancelReply{}} // the end is left to the producer's error
			}
		}
		return l.end(StateCancelled, StatusCancelled, ReasonClientCancel, "", ev.At, CancelReply{})
	case Attach:
		return l.attach()
	case Detach:
		return l.detach(ev)
	case EndDelivered:
		if !l.State.Terminal() || l.EndPending == 0 {
			return l, nil
		}
		l.EndPending--
		l.PickedUp = true
		return l.maybeLinger(1)
	case TimerFired:
		return l.timer(ev)
	}
	return l, nil
}

func (l Lifecycle) admit(ev Admit) (Lifecycle, []Effect) {
	if l.State != StatePending && !(mutant("admit-after-cancel") && l.State.Terminal()) {
		return l, nil
	}
	l.State = StateStreaming
	l.StartedAt = ev.At
	l.disarm(TimerQueue)
	effects := []Effect{Append{Records: []Record{l.stateRecord(StateStreaming)}}, StartProducer{}}
	if l.Limits.FirstTokenTimeout > 0 {
		effects = append(effects, l.arm(TimerFirstToken, l.Limits.FirstTokenTimeout))
	}
	if l.Limits.MaxDuration > 0 {
		effects = append(effects, l.arm(TimerDeadline, l.Limits.MaxDuration))
	}
	return l, effects
}

// StepTokens is Step for a Tokens event, with the records the step
// appends returned apart from its other effects: Step(l, ev) returns the
// same lifecycle and, when records is not empty, Append{Records: records}
// followed by effects. A paced token's step so allocates nothing (its
// record built in ev.Into, no effect to return), where boxing the Append
// and the slice of effects were two of a paced token's four allocations.
// The shell appends records before it executes effects, as it would the
// Append first in Step's effects; effects may hold an Append of their own
// (an output too large ends the request there).
func StepTokens(l Lifecycle, ev Tokens) (Lifecycle, []Record, []Effect) {
	return l.tokens(ev)
}

func (l Lifecycle) tokens(ev Tokens) (Lifecycle, []Record, []Effect) {
	if l.State != StateStreaming && !(mutant("token-after-end") && l.State.Terminal()) {
		return l, nil, nil // late tokens after the end are normal; tokens before admission are not possible
	}
	records := ev.Into[len(ev.Into):]
	if n := len(ev.Texts) + len(ev.Parts); cap(records) < n {
		records = make([]Record, 0, n)
	}
	var effects []Effect
	for _, text := range ev.Texts {
		if text == "" {
			continue
		}
		if !l.output(Part{Kind: KindToken, Text: text}, ev.At, &records, &effects) {
			l, effects := l.tooLarge(ev.At, records)
			return l, nil, effects
		}
	}
	for _, p := range ev.Parts {
		if !p.valid() {
			continue
		}
		if !l.output(p, ev.At, &records, &effects) {
			l, effects := l.tooLarge(ev.At, records)
			return l, nil, effects
		}
	}
	if len(records) == 0 {
		return l, nil, nil
	}
	l.LastTokenAt = ev.At
	return l, records, effects
}

// output appends one piece of output to records, or reports false when it
// would exceed MaxOutputBytes.
func (l *Lifecycle) output(p Part, at time.Time, records *[]Record, effects *[]Effect) bool {
	size := p.size()
	if max := l.Limits.MaxOutputBytes; max > 0 && l.OutputBytes+size > max {
		return false
	}
	if l.Outputs == 0 {
		l.FirstTokenAt = at
		l.disarm(TimerFirstToken)
		if l.Limits.IdleTimeout > 0 {
			*effects = append(*effects, l.arm(TimerIdle, l.Limits.IdleTimeout))
		}
	}
	l.Outputs++
	if p.Kind == KindToken {
		l.Tokens++
	}
	l.OutputBytes += size
	l.LastSeq++
	*records = append(*records, Record{Seq: l.LastSeq, Kind: p.Kind, Text: p.Text, ToolCall: p.ToolCall, Logprobs: p.Logprobs})
	return true
}

func (l Lifecycle) tooLarge(at time.Time, records []Record) (Lifecycle, []Effect) {
	msg := fmt.Sprintf("output exceeds %d bytes", l.Limits.MaxOutputBytes)
	return l.end(StateDone, StatusFailed, ReasonOutputTooLarge, msg, at, nil, records...)
}

func (p Part) valid() bool {
	switch p.Kind {
	case KindToken, KindReasoning:
		return p.Text != ""
	case KindToolCall:
		return p.ToolCall != nil && (p.ToolCall.ID != "" || p.ToolCall.Name != "" || p.ToolCall.Arguments != "")
	}
	return false
}

func (p Part) size() int {
	if p.ToolCall != nil {
		return len(p.ToolCall.ID) + len(p.ToolCall.Name) + len(p.ToolCall.Arguments)
	}
	return len(p.Text)
}

func (l Lifecycle) attach() (Lifecycle, []Effect) {
	l.Attached++
	if l.State.Terminal() {
		l.EndPending++
		return l, nil
	}
	l.disarm(TimerDetachGrace) // somebody came back in time
	return l, nil
}

func (l Lifecycle) detach(ev Detach) (Lifecycle, []Effect) {
	if l.Attached == 0 {
		return l, nil
	}
	l.Attached--
	if l.State.Terminal() {
		before := l.EndPending
		if ev.GotEnd {
			l.PickedUp = true // even if its delivery report has not been applied yet
		} else if l.EndPending > 0 {
			l.EndPending--
		}
		l.EndPending = min(l.EndPending, l.Attached) // whatever order the shell reports in
		return l.maybeLinger(before)
	}
	if l.Attached == 0 && mutant("detach-is-cancel") {
		return l.end(StateCancelled, StatusCancelled, ReasonClientDisconnected, "", ev.At, nil)
	}
	if l.Attached == 0 && l.Limits.OnDisconnect == OnDisconnectCancel {
		return l, []Effect{l.arm(TimerDetachGrace, l.Limits.DetachGrace)}
	}
	return l, nil
}

// maybeLinger arms the linger timer when the end has just reached everyone
// attached (EndPending went from before > 0 to 0) and somebody has picked
// it up. A detach after that does not extend the retention.
func (l Lifecycle) maybeLinger(before int) (Lifecycle, []Effect) {
	if before == 0 || l.EndPending > 0 || !l.PickedUp {
		return l, nil
	}
	return l, []Effect{l.arm(TimerLinger, l.Limits.Linger)}
}

func (l Lifecycle) timer(ev TimerFired) (Lifecycle, []Effect) {
	if next, effects, ok := l.timerMutant(ev); ok {
		return next, effects
	}
	if ev.Timer >= numTimers || !l.Armed[ev.Timer] || ev.Gen != l.Gens[ev.Timer] {
		return l, nil // superseded, disarmed or never armed
	}
	l.Armed[ev.Timer] = false
	switch ev.Timer {
	case TimerQueue:
		if l.State == StatePending {
			return l.end(StateDone, StatusFailed, ReasonQueueTimeout, "no slot within the queue timeout", ev.At, nil)
		}
	case TimerFirstToken:
		if l.State == StateStreaming && l.Outputs == 0 {
			return l.end(StateDone, StatusFailed, ReasonFirstTokenTimeout, "no token within the first-token timeout", ev.At, nil)
		}
	case TimerIdle:
		if l.State != StateStreaming {
			return l, nil
		}
		idle := ev.At.Sub(l.LastTokenAt)
		if idle >= l.Limits.IdleTimeout {
			return l.end(StateDone, StatusFailed, ReasonIdleTimeout, "no token within the idle timeout", ev.At, nil)
		}
		// Tokens do not re-arm the timer (that would cost a timer per
		// token); the timer re-arms itself for the time that is left.
		return l, []Effect{l.arm(TimerIdle, l.Limits.IdleTimeout-idle)}
	case TimerDeadline:
		if l.State == StateStreaming {
			return l.end(StateDone, StatusFailed, ReasonDeadlineExceeded, "streaming exceeded the maximum duration", ev.At, nil)
		}
	case TimerDetachGrace:
		if !l.State.Terminal() && l.Attached == 0 {
			return l.end(StateCancelled, StatusCancelled, ReasonClientDisconnected, "", ev.At, nil)
		}
	case TimerLinger:
		if l.State.Terminal() && l.EndPending == 0 {
			return l, []Effect{StopSelf{}}
		}
	case TimerPickup:
		if l.State.Terminal() {
			return l, []Effect{StopSelf{}}
		}
	}
	return l, nil
}

// end records the terminal event: the end record goes into the log first,
// then the producer is stopped, then the supervisor is told. Records
// produced in the same step (before) precede the end record.
func (l Lifecycle) end(state State, status Status, reason Reason, msg string, at time.Time, reply Effect, before ...Record) (Lifecycle, []Effect) {
	wasStreaming := l.State == StateStreaming
	l.State, l.Status, l.Reason, l.Message, l.FinishedAt = state, status, reason, msg, at
	for t := TimerQueue; t <= TimerDetachGrace; t++ {
		l.disarm(t)
	}
	l.LastSeq++
	end := End{State: state, Status: status, Reason: reason, Tokens: l.Tokens, Message: msg, Usage: l.Usage, Upstream: l.Upstream}
	records := append(before, Record{Seq: l.LastSeq, Kind: KindEnd, End: &end})
	effects := make([]Effect, 0, 6)
	effects = append(effects, Append{Records: records})
	if wasStreaming {
		effects = append(effects, StopProducer{})
	}
	effects = append(effects, Finished{End: end})
	if reply != nil {
		effects = append(effects, reply)
	}
	l.EndPending = l.Attached
	effects = append(effects, l.arm(TimerPickup, l.Limits.PickupTimeout))
	if mutant("cleanup-before-delivery") {
		effects = append(effects, StopSelf{})
	}
	return l, effects
}

func (l *Lifecycle) stateRecord(s State) Record {
	l.LastSeq++
	return Record{Seq: l.LastSeq, Kind: KindState, State: s}
}

// arm and disarm mutate the receiver's generation; callers use them on
// their own copy.
func (l *Lifecycle) arm(t Timer, after time.Duration) ArmTimer {
	l.Gens[t]++
	l.Armed[t] = true
	return ArmTimer{Timer: t, Gen: l.Gens[t], After: after}
}

func (l *Lifecycle) disarm(t Timer) {
	if l.Armed[t] {
		l.Gens[t]++
		l.Armed[t] = false
	}
}
