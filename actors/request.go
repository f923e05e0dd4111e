package actors

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/model"
	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/scheduler"
	"github.com/rs/zerolog"
)

// requestActor owns one request: its lifecycle, its log, its subscribers.
// Everything here is touched only inside Receive (rule 1). It decides
// nothing itself: each message becomes a model event, model.Step decides,
// and run executes the effects (rule 2).
type requestActor struct {
	cfg    *Config
	id     string
	owner  string
	spec   Spec
	logger *zerolog.Logger // built by event on first use

	life model.Lifecycle
	log  recordLog
	subs []*subscriber

	// queue holds events raised while effects run (a delivery of the end
	// record), applied after the current step, so steps never nest.
	queue    []model.Event
	stepping bool

	timers         [model.NumTimers]scheduler.CancelFunc
	sched          *scheduler.TimerScheduler
	cancelProducer context.CancelFunc
	inbox          *inbox
	spare          []string
	spareParts     []model.Part

	// crashed is set when Receive panicked; stopping once Stopping arrived.
	crashed  any
	stopping bool
	// reportedPickup is set once the supervisor knows the end was read.
	reportedPickup bool
}

type subscriber struct {
	id      uint64
	cursor  uint64 // the highest seq handed over
	max     int    // records per batch, from the latest Pull
	credits int    // batches the subscriber can still take; 0: wait for a Pull
	gotEnd  bool
	pid     *actor.PID
	ch      chan Batch
	ref     uint64 // the Subscribe's Ref, for Withdraw
}

func newRequestActor(cfg *Config, id, owner string, spec Spec) *requestActor {
	return &requestActor{
		cfg:   cfg,
		id:    id,
		owner: owner,
		spec:  spec,
	}
}

// event starts a log event at level carrying the request's fields, or
// returns nil (a no-op event) when level is not logged. The fields are
// built into a logger on the first event logged: most requests log only
// their end, and a running request then holds no logger context (about
// 500 bytes each).
func (r *requestActor) event(level zerolog.Level) *zerolog.Event {
	if level < r.cfg.Logger.GetLevel() || level < zerolog.GlobalLevel() {
		return nil
	}
	if r.logger == nil {
		l := requestLogger(r.cfg.Logger, r.id, r.owner, r.spec.TraceID)
		r.logger = &l
	}
	return r.logger.WithLevel(level)
}

// requestLogger names the request, its owner and, when the caller gave
// one, the id of the caller's own request (the HTTP request's req_id), so
// one grep follows a request from its submit to its end. Empty values are
// left out.
func requestLogger(l zerolog.Logger, id, owner, trace string) zerolog.Logger {
	c := l.With().Str("request_id", id)
	if owner != "" {
		c = c.Str("tenant", owner)
	}
	if trace != "" {
		c = c.Str("req_id", trace)
	}
	return c.Logger()
}

// now is the shell's only clock read; the model gets it as an input.
func now() time.Time { return time.Now() }

func (r *requestActor) Receive(c actor.Context) {
	defer func() {
		if v := recover(); v != nil {
			r.crashed = v
			// A panic inside a step leaves the step loop half way; reset
			// it so that Stopping can still record the failure.
			r.stepping, r.queue = false, nil
			panic(v) // the supervisor stops us; Stopping records the failure
		}
	}()
	switch m := c.Message().(type) {
	case *actor.Started:
		r.sched = scheduler.NewTimerScheduler(c.ActorSystem().Root)
		limits := r.cfg.limits(r.spec.OnDisconnect)
		limits.Linger = max(limits.Linger, r.spec.Retain)
		limits.PickupTimeout = max(limits.PickupTimeout, r.spec.Retain)
		life, effects := model.New(limits, now())
		r.life = life
		r.cfg.Observer.StateChanged(0, life.State)
		r.run(c, effects)
	case *admit:
		r.step(c, model.Admit{At: now()})
	case *produced:
		r.drainInbox(c)
	case *timerFired:
		r.step(c, model.TimerFired{Timer: m.timer, Gen: m.gen, At: now()})
	case *statusQuery:
		if m.attach != nil {
			r.attachAtSubmit(c, m)
			return
		}
		snap := r.snapshot(m.position).withRef(m.ref)
		snap.Replayed = m.replayed
		c.Respond(snap)
	case *GetStatus:
		c.Respond(r.snapshot(0).withRef(m.Ref))
	case *logQuery:
		snap := r.snapshotValue(m.position)
		snap.Ref = m.ref
		c.Respond(&LogSnapshot{Snapshot: snap, Records: r.log.slice(0, r.log.len()), Input: r.spec.Messages, Ref: m.ref})
	case *deleteNow:
		c.Respond(r.snapshot(0).withRef(m.ref))
		if !r.stopping {
			c.Stop(c.Self())
		}
	case *Cancel:
		r.step(c, model.Cancel{At: now()})
	case *Subscribe:
		r.subscribe(c, m)
	case *Pull:
		if s := r.findSubFrom(c, m.Sub); s != nil {
			s.max = m.Max
			if s.max <= 0 || s.max > r.cfg.BatchSize {
				s.max = r.cfg.BatchSize
			}
			s.credits += max(m.Credits, 1)
			r.deliver(c, s)
			r.flush(c)
		}
	case *Unsubscribe:
		if s := r.findSubFrom(c, m.Sub); s != nil {
			r.detach(c, s.id)
		}
	case *withdrawSub:
		for _, s := range r.subs {
			if s.ref == m.ref && m.ref != 0 {
				r.detach(c, s.id)
				break
			}
		}
	case *actor.Terminated:
		for _, s := range r.subs {
			if s.pid != nil && s.pid.Equal(m.Who) {
				r.detach(c, s.id)
				break
			}
		}
	case *shutdownNow:
		r.step(c, model.Fail{Reason: model.ReasonShutdown, Message: "the engine is shutting down", At: now()})
	case *panicNow:
		if m.midStep {
			r.stepping = true
			r.queue = append(r.queue, model.Cancel{At: now()})
		}
		panic(m.value)
	case *actor.Stopping:
		r.stopping = true
		if !r.life.State.Terminal() {
			ev := model.Fail{Reason: model.ReasonShutdown, Message: "the engine stopped", At: now()}
			if r.crashed != nil {
				ev = model.Fail{Reason: model.ReasonInternalError, Message: fmt.Sprintf("request actor crashed: %v", r.crashed), At: now()}
			}
			r.step(c, ev)
		}
	case *actor.Stopped:
		r.stopped(c)
	}
}

// step applies one event, then any events its effects raised.
func (r *requestActor) step(c actor.Context, ev model.Event) {
	r.queue = append(r.queue, ev)
	r.flush(c)
}

// stepTokens is step for the producer's output, the path of every token:
// with no step under way and nothing queued it applies ev in place, so
// that the event is not boxed on the heap to wait in the queue.
func (r *requestActor) stepTokens(c actor.Context, ev model.Tokens) {
	if r.stepping || len(r.queue) > 0 {
		// The log's spare room may be filled before the event's turn
		// comes: a queued step builds its records in a slice of its own.
		ev.Into = nil
		r.step(c, ev)
		return
	}
	r.stepping = true
	r.apply(c, ev)
	r.stepping = false
	r.flush(c) // what its effects queued
}

func (r *requestActor) flush(c actor.Context) {
	if r.stepping {
		return
	}
	r.stepping = true
	for len(r.queue) > 0 {
		ev := r.queue[0]
		r.queue = r.queue[1:]
		r.apply(c, ev)
	}
	r.queue = r.queue[:0]
	r.stepping = false
	if r.life.PickedUp && !r.reportedPickup {
		// Retention evicts requests whose end was read before unread ones.
		r.reportedPickup = true
		c.Send(c.Parent(), &pickedUp{id: r.id})
	}
}

// apply steps the lifecycle with ev and runs the effects. ev must not
// escape: stepTokens counts on its box staying on the stack.
func (r *requestActor) apply(c actor.Context, ev model.Event) {
	prev, prevTokens := r.life.State, r.life.Tokens
	var records []model.Record
	var effects []model.Effect
	if tokens, ok := ev.(model.Tokens); ok {
		// The token path: records apart, so nothing is boxed (StepTokens).
		r.life, records, effects = model.StepTokens(r.life, tokens)
	} else {
		r.life, effects = model.Step(r.life, ev)
	}
	if r.life.State != prev {
		r.cfg.Observer.StateChanged(prev, r.life.State)
		r.event(zerolog.DebugLevel).Stringer("from", prev).Stringer("to", r.life.State).Msg("transition")
	}
	if prevTokens == 0 && r.life.Tokens > 0 {
		r.cfg.Observer.FirstToken(r.life.LastTokenAt.Sub(r.life.CreatedAt))
	}
	if n := r.life.Tokens - prevTokens; n > 0 {
		if to, ok := r.cfg.Observer.(TokenObserver); ok {
			to.Tokens(n)
		}
	}
	if len(records) > 0 {
		if len(effects) > 0 {
			// Rare (a first token's timer, an output too large): run
			// them in Step's order, the records first.
			effects = append([]model.Effect{model.Append{Records: records}}, effects...)
		} else {
			r.appendRecords(c, records)
		}
	}
	r.run(c, effects)
}

// appendRecords adds records to the log and wakes the subscribers they
// satisfy: the Append effect.
func (r *requestActor) appendRecords(c actor.Context, records []model.Record) {
	r.log.append(records)
	if !mutant("lost-wakeup") {
		r.wake(c)
	}
}

// recordOverhead is what a record costs besides its text: the Record in
// the log and its share of the slice.
const recordOverhead = 64

// retainedBytes estimates the memory a finished request holds: its log,
// and its input when kept (KeepInput); shared is the part of it that the
// texts of its Spec.SharesInput messages are.
func (r *requestActor) retainedBytes() (n, shared int64) {
	n = 512 // the actor, its lifecycle and its snapshot fields
	r.log.each(func(rec *model.Record) {
		n += recordOverhead + int64(len(rec.Text))
		if rec.ToolCall != nil {
			n += int64(len(rec.ToolCall.ID) + len(rec.ToolCall.Name) + len(rec.ToolCall.Arguments))
		}
		if rec.Logprobs != nil {
			n += 64 * int64(len(rec.Logprobs.Content))
		}
		if rec.End != nil {
			n += 128 + int64(len(rec.End.Message))
		}
	})
	for k, v := range r.spec.Metadata {
		n += int64(len(k) + len(v))
	}
	// The input, kept only with KeepInput: each message's struct, and the
	// texts, of which the shared messages' are counted apart.
	sh := r.spec.SharesInput
	for i, m := range r.spec.Messages {
		n += messageOverhead + toolCallOverhead*int64(len(m.ToolCalls))
		t := textBytes(m)
		n += t
		if sh.ID != "" && i >= sh.From && i < sh.From+sh.Count {
			shared += t
		}
	}
	return n, shared
}

// messageOverhead and toolCallOverhead are the sizes of an llm.Message
// and an llm.ToolCall in their slices.
const (
	messageOverhead  = int64(unsafe.Sizeof(llm.Message{}))
	toolCallOverhead = int64(unsafe.Sizeof(llm.ToolCall{}))
)

// textBytes is the size of a message's texts.
func textBytes(m llm.Message) int64 {
	n := int64(len(m.Content) + len(m.ToolCallID) + len(m.Name))
	for _, tc := range m.ToolCalls {
		n += int64(len(tc.ID) + len(tc.Name) + len(tc.Arguments))
	}
	return n
}

func (r *requestActor) run(c actor.Context, effects []model.Effect) {
	// Metrics count the end before any subscriber can see it, and the
	// supervisor learns of it before too (at the Append of the end
	// record, below): a client that read the end and submits again finds
	// the slot free and this request retained.
	var fin *model.Finished
	for _, e := range effects {
		if f, ok := e.(model.Finished); ok {
			r.observeFinished(&f.End)
			fin = &f
		}
	}
	for _, e := range effects {
		switch e := e.(type) {
		case model.Append:
			r.log.append(e.Records)
			if n := len(e.Records); fin != nil && n > 0 && e.Records[n-1].Kind == model.KindEnd {
				r.finished(c, fin)
				fin = nil
			}
			if !mutant("lost-wakeup") {
				r.wake(c)
			}
		case model.StartProducer:
			r.startProducer(c)
		case model.StopProducer:
			r.stopProducer()
		case model.ArmTimer:
			r.arm(c, e)
		case model.Finished:
			if fin != nil {
				r.finished(c, fin)
				fin = nil
			}
		case model.CancelReply:
			var ref uint64
			if m, ok := c.Message().(*Cancel); ok {
				ref = m.Ref
			}
			snap := r.snapshot(0).withRef(ref)
			if e.AlreadyFinished {
				c.Respond(&Error{Err: fmt.Errorf("%w: it ended as %s (%s)", ErrAlreadyFinished, snap.Status, snap.Reason), Snapshot: snap, Command: "cancel", Ref: ref})
			} else {
				c.Respond(snap)
			}
		case model.StopSelf:
			if !r.stopping {
				// The supervisor forgets the id, then poisons us: a poison
				// is queued behind every command already forwarded here,
				// so none of them is dropped by a stop that overtakes it.
				c.Send(c.Parent(), &retire{id: r.id})
			}
		}
	}
}

// finished tells the supervisor the request ended, so that it frees the
// slot and retains the request, and logs the end. The end record is in
// the log already: the retained size counts it.
func (r *requestActor) finished(c actor.Context, f *model.Finished) {
	var ran time.Duration
	if !r.life.StartedAt.IsZero() {
		ran = r.life.FinishedAt.Sub(r.life.StartedAt)
	}
	// The prompt and settings are not needed once the answer ended:
	// drop them, so what stays retained is the log. A request kept
	// on purpose (KeepInput: a stored Response, which a later turn may
	// continue) keeps its input messages.
	if !r.spec.KeepInput {
		r.spec.Messages = nil
	}
	r.spec.Settings = llm.Settings{}
	bytes, shared := r.retainedBytes()
	c.Send(c.Parent(), &finished{id: r.id, ran: ran, bytes: bytes, shared: shared})
	level := zerolog.InfoLevel
	if f.End.Status == model.StatusFailed {
		level = zerolog.WarnLevel
	}
	ev := r.event(level)
	ev = ev.Stringer("status", f.End.Status).Stringer("reason", f.End.Reason).
		Int("tokens", f.End.Tokens).Dur("ran_ms", ran)
	if f.End.Message != "" {
		ev = ev.Str("detail", f.End.Message)
	}
	if u := f.End.Upstream; u != nil && u.Status != 0 {
		ev = ev.Int("upstream_status", u.Status)
	}
	ev.Msg("request finished")
}

func (r *requestActor) observeFinished(end *model.End) {
	l := &r.life
	o := Outcome{Status: end.Status, Reason: end.Reason, Tokens: end.Tokens, Usage: end.Usage,
		Duration: l.FinishedAt.Sub(l.CreatedAt)}
	if l.StartedAt.IsZero() {
		o.Queued = o.Duration
	} else {
		o.Queued = l.StartedAt.Sub(l.CreatedAt)
	}
	r.cfg.Observer.Finished(o)
}

func (r *requestActor) arm(c actor.Context, t model.ArmTimer) {
	if r.stopping {
		return
	}
	if cancel := r.timers[t.Timer]; cancel != nil {
		cancel()
		r.timers[t.Timer] = nil
	}
	msg := &timerFired{timer: t.Timer, gen: t.Gen}
	if t.After <= 0 {
		c.Send(c.Self(), msg) // still a message, so it is ordered with the rest
		return
	}
	r.timers[t.Timer] = r.sched.SendOnce(t.After, c.Self(), msg)
}

func (r *requestActor) startProducer(c actor.Context) {
	ctx, cancel := context.WithCancel(context.Background())
	if r.cfg.MaxDuration > 0 {
		// The actor's own timer ends the request at MaxDuration; the
		// deadline, a little later, only tells the provider how much time
		// is left (a retrying provider does not wait past it).
		ctx, cancel = context.WithDeadline(context.Background(), now().Add(r.cfg.MaxDuration+time.Second))
	}
	r.cancelProducer = cancel
	r.inbox = &inbox{limit: r.cfg.HandoffBytes}
	pr := newProducer(ctx, r.cfg.Provider, r.spec.Request(), r.inbox, c.ActorSystem().Root, c.Self())
	go pr.run()
}

func (r *requestActor) stopProducer() {
	if r.cancelProducer != nil {
		r.cancelProducer()
	}
}

func (r *requestActor) drainInbox(c actor.Context) {
	if r.inbox == nil {
		return
	}
	texts, parts, result := r.inbox.take(r.spare, r.spareParts)
	at := now()
	r.stepOutput(c, texts, parts, at)
	clear(texts) // drop references; the records keep what they need
	clear(parts)
	r.spare, r.spareParts = texts[:0], parts[:0]
	if result == nil {
		return
	}
	var usage *model.Usage
	if result.usage != nil {
		usage = &model.Usage{PromptTokens: result.usage.PromptTokens, CompletionTokens: result.usage.CompletionTokens}
	}
	switch {
	case result.panic != nil:
		r.event(zerolog.ErrorLevel).Interface("panic", result.panic).Msg("provider panicked")
		r.step(c, model.Fail{Reason: model.ReasonInternalError, Message: fmt.Sprintf("provider panicked: %v", result.panic), Usage: usage, At: at})
	case result.err != nil:
		msg, upstream := upstreamFailure(result.err, r.life.Outputs == 0)
		r.step(c, model.Fail{Reason: model.ReasonUpstreamError, Message: msg, Upstream: upstream, Usage: usage, At: at})
	default:
		r.step(c, model.Finish{Reason: finishReason(result.finish), Usage: usage, At: at})
	}
}

// stepOutput steps the producer's output. While the request streams and
// nothing else is under way, the log lends the free end of its last chunk
// (model.Tokens.Into), and a batch larger than that room is stepped in
// pieces that each fit, texts before parts as one step would take them:
// every record is built where the log keeps it. Otherwise (after the end,
// or queued behind another step) the output is one step that builds its
// own records.
func (r *requestActor) stepOutput(c actor.Context, texts []string, parts []model.Part, at time.Time) {
	for len(texts) > 0 || len(parts) > 0 {
		ev := model.Tokens{Texts: texts, Parts: parts, At: at}
		if r.life.State == model.StateStreaming && !r.stepping && len(r.queue) == 0 {
			ev.Into = r.log.spare()
			// spare has room for one record at least once the log holds
			// its first (model.New appends it); an empty log lends none.
			if room := cap(ev.Into); room > 0 && len(texts)+len(parts) > room {
				ev.Texts = texts[:min(len(texts), room)]
				ev.Parts = parts[:min(len(parts), room-len(ev.Texts))]
			}
		}
		texts, parts = texts[len(ev.Texts):], parts[len(ev.Parts):]
		r.stepTokens(c, ev)
	}
}

func finishReason(f llm.FinishReason) model.Reason {
	switch f {
	case llm.FinishLength:
		return model.ReasonLength
	case llm.FinishContentFilter:
		return model.ReasonContentFilter
	case llm.FinishToolCalls:
		return model.ReasonToolCalls
	}
	return model.ReasonStop
}

func (r *requestActor) subscribe(c actor.Context, m *Subscribe) {
	fail := func(err error) { c.Respond(&Error{Err: err, Command: "subscribe", Ref: m.Ref}) }
	switch {
	case expired(m.Deadline):
		r.event(zerolog.DebugLevel).Msg("subscribe dropped: its deadline passed on the way")
		return
	case r.life.State.Terminal() && m.After >= r.life.LastSeq:
		// At or past the end record: nothing more will ever come.
		c.Respond(&Subscribed{Request: c.Self(), Snapshot: r.snapshotValue(0), Exhausted: true, Ref: m.Ref})
		return
	case m.After > r.life.LastSeq:
		// Ahead of a log that is still growing: a client bug, not a wait.
		fail(fmt.Errorf("%w: cursor %d, last seq %d", ErrInvalidCursor, m.After, r.life.LastSeq))
		return
	case len(r.subs) >= r.cfg.MaxSubscribers:
		fail(fmt.Errorf("%w: %d attached", ErrTooManySubscribers, len(r.subs)))
		return
	case m.Sink == nil && m.ch == nil:
		fail(fmt.Errorf("%w: subscribe without a sink", ErrInvalidRequest))
		return
	}
	s := r.attach(c, m)
	c.Respond(&Subscribed{Sub: s.id, Request: c.Self(), Snapshot: r.snapshotValue(0), Ref: m.Ref})
}

// attach adds m's subscriber, which the caller checked, and hands it
// what its first credits can take.
func (r *requestActor) attach(c actor.Context, m *Subscribe) *subscriber {
	s := &subscriber{id: lastSubID.Add(1), cursor: m.After, pid: m.Sink, ch: m.ch, ref: m.Ref}
	if s.pid != nil {
		c.Watch(s.pid)
	}
	r.subs = append(r.subs, s)
	r.cfg.Observer.SubscribersChanged(1)
	r.step(c, model.Attach{At: now()})
	if m.credits > 0 {
		s.credits, s.max = m.credits, r.cfg.BatchSize
		r.deliver(c, s)
		r.flush(c)
	}
	return s
}

// attachAtSubmit answers a new request's submit with its subscriber
// attached (Engine.SubmitAndSubscribe). It is the request's first
// message after Started, so the request is pending with no subscriber
// yet, and MaxSubscribers is at least 1: nothing can refuse it.
func (r *requestActor) attachAtSubmit(c actor.Context, m *statusQuery) {
	s := r.attach(c, m.attach)
	snap := r.snapshotValue(m.position)
	snap.Ref = m.ref
	c.Respond(&Subscribed{Sub: s.id, Request: c.Self(), Snapshot: snap, Ref: m.ref})
}

// lastSubID numbers subscribers across every request and supervisor of
// the process, so an actor subscribed to several requests never sees two
// streams with one id.
var lastSubID atomic.Uint64

// findSubFrom finds subscriber id if the message came from it: an actor
// sink must send Pull and Unsubscribe with ctx.Request (its own PID as the
// sender); an Engine subscription sends them with no sender. Anything else
// is ignored, so nobody can steal another subscriber's batches.
func (r *requestActor) findSubFrom(c actor.Context, id uint64) *subscriber {
	s := r.findSub(id)
	if s == nil {
		return nil
	}
	sender := c.Sender()
	if (s.pid != nil && (sender == nil || !sender.Equal(s.pid))) || (s.pid == nil && sender != nil) {
		r.event(zerolog.DebugLevel).Uint64("sub", id).Msg("pull or unsubscribe from another sender ignored")
		return nil
	}
	return s
}

func (r *requestActor) findSub(id uint64) *subscriber {
	for _, s := range r.subs {
		if s.id == id {
			return s
		}
	}
	return nil
}

func (r *requestActor) detach(c actor.Context, id uint64) {
	for i, s := range r.subs {
		if s.id != id {
			continue
		}
		r.subs = append(r.subs[:i], r.subs[i+1:]...)
		r.cfg.Observer.SubscribersChanged(-1)
		if s.pid != nil {
			c.Unwatch(s.pid)
		}
		r.step(c, model.Detach{GotEnd: s.gotEnd, At: now()})
		return
	}
}

// wake answers every subscriber with credit that new records can satisfy.
func (r *requestActor) wake(c actor.Context) {
	for _, s := range r.subs {
		if s.credits > 0 {
			r.deliver(c, s)
		}
	}
}

// deliver hands s the records after its cursor, a batch of at most s.max
// per credit, without copying: the log is append-only, so a capped
// sub-slice stays valid.
func (r *requestActor) deliver(c actor.Context, s *subscriber) {
	for s.credits > 0 {
		from := int(s.cursor)
		if mutant("cursor-off-by-one") {
			from++
		}
		batch := r.log.view(from, min(r.log.len(), from+s.max)) // it may end early, at a chunk's end
		if len(batch) == 0 {
			return
		}
		to := from + len(batch)
		b := Batch{Request: r.id, Sub: s.id, Records: batch}
		if s.ch != nil {
			// A Subscription grants no more batches than its channel
			// holds, less the place kept for the final batch. Never block
			// on a reader that may be gone (rule 4).
			if len(s.ch) >= cap(s.ch)-1 {
				r.event(zerolog.ErrorLevel).Uint64("sub", s.id).Msg("subscriber channel full: more credit than room")
				return
			}
			select {
			case s.ch <- b:
			default:
				return // only this actor sends, so this cannot happen
			}
		} else {
			// A copy of its own: taking b's address would move every b
			// to the heap, the channel's too (one allocation per paced
			// token; TestDeliveringToAChannelAllocatesNothing).
			sent := b
			c.Request(s.pid, &sent) // the sender tells the sink which request it is
		}
		if !mutant("duplicate-delivery") {
			s.cursor = uint64(to)
		}
		s.credits--
		if batch[len(batch)-1].Kind == model.KindEnd && !s.gotEnd {
			s.gotEnd = true
			r.queue = append(r.queue, model.EndDelivered{At: now()})
		}
	}
}

// stopped runs last: timers and producer go, and every subscriber still
// attached gets what it has not received yet (the end included), so
// nobody waits on a request that no longer exists.
func (r *requestActor) stopped(c actor.Context) {
	for i, cancel := range r.timers {
		if cancel != nil {
			cancel()
			r.timers[i] = nil
		}
	}
	r.stopProducer()
	for _, s := range r.subs {
		var rest []model.Record
		if !s.gotEnd && int(s.cursor) < r.log.len() {
			rest = r.log.slice(int(s.cursor), r.log.len())
		}
		b := Batch{Request: r.id, Sub: s.id, Records: rest, Closed: true}
		if mutant("no-farewell") {
			continue
		}
		if s.ch != nil {
			select {
			case s.ch <- b:
			default:
				r.event(zerolog.ErrorLevel).Uint64("sub", s.id).Msg("subscriber channel full at stop")
			}
			close(s.ch)
		}
		// Actor sinks learn of the stop through their watch (Terminated);
		// a final batch tells them what they missed.
		if s.pid != nil {
			c.Request(s.pid, &b)
		}
	}
	if len(r.subs) > 0 {
		r.cfg.Observer.SubscribersChanged(-len(r.subs))
	}
	r.subs = nil
	r.cfg.Observer.Removed(r.life.State)
	r.event(zerolog.DebugLevel).Msg("request stopped")
}

func (r *requestActor) snapshot(position int) *Snapshot {
	s := r.snapshotValue(position)
	return &s
}

// snapshotValue is the snapshot as a value: Subscribed embeds it, and a
// pointer that is dereferenced at once would cost a heap allocation per
// subscribe once snapshot is too large to inline.
func (r *requestActor) snapshotValue(position int) Snapshot {
	l := &r.life
	s := Snapshot{
		ID:            r.id,
		Owner:         r.owner,
		Model:         r.spec.Model,
		State:         l.State,
		Status:        l.Status,
		Reason:        l.Reason,
		Message:       l.Message,
		CreatedAt:     l.CreatedAt,
		StartedAt:     l.StartedAt,
		FinishedAt:    l.FinishedAt,
		Tokens:        l.Tokens,
		LastSeq:       l.LastSeq,
		Subscribers:   len(r.subs),
		OnDisconnect:  r.spec.OnDisconnect,
		Usage:         l.Usage,
		Upstream:      l.Upstream,
		Metadata:      r.spec.Metadata,
		QueuePosition: position,
	}
	if l.State != model.StatePending {
		s.QueuePosition = 0
	}
	return s
}

func (s *Snapshot) withRef(ref uint64) *Snapshot {
	s.Ref = ref
	return s
}

// expired reports whether a command's deadline has passed: its sender has
// given up, so carrying it out would leave something nobody wants.
func expired(deadline time.Time) bool {
	return !deadline.IsZero() && !now().Before(deadline)
}
