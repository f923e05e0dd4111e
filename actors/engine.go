package actors

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/model"
	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"
)

// Engine is the Go API of Armistice: an actor system with one supervisor.
// Its methods are safe for concurrent use. Every call waits at most
// Config.AskTimeout (or the context's deadline, if sooner) for an answer.
type Engine struct {
	cfg    Config
	system *actor.ActorSystem
	sup    *actor.PID
	pool   *dispatchPool // nil without workers; tests read its users

	closeOnce sync.Once
	closed    atomic.Bool

	// refs numbers this engine's commands (Ref), from a random base so
	// that two engines over one supervisor do not collide.
	refs atomic.Uint64
	// attached is set on an Engine made by Attach: Close leaves the
	// supervisor and the system to their owner.
	attached bool
	// peers reaches other nodes' requests (cluster mode); nil for one node.
	peers atomic.Pointer[peersBox]
}

// command is a message that carries a Ref and a Deadline.
type command interface {
	stamp(ref uint64, deadline time.Time)
}

func (m *Submit) stamp(ref uint64, d time.Time)    { m.Ref, m.Deadline = ref, d }
func (m *GetStatus) stamp(ref uint64, d time.Time) { m.Ref, m.Deadline = ref, d }
func (m *Cancel) stamp(ref uint64, d time.Time)    { m.Ref, m.Deadline = ref, d }
func (m *GetLog) stamp(ref uint64, d time.Time)    { m.Ref, m.Deadline = ref, d }
func (m *Delete) stamp(ref uint64, d time.Time)    { m.Ref, m.Deadline = ref, d }
func (m *Subscribe) stamp(ref uint64, d time.Time) { m.Ref, m.Deadline = ref, d }

// replyBox is the process an Engine call's answer is sent to: it keeps
// the first message and drops the rest, never blocking the sender.
type replyBox struct{ ch chan any }

func (b *replyBox) SendUserMessage(_ *actor.PID, message any) {
	_, msg, _ := actor.UnwrapEnvelope(message)
	select {
	case b.ch <- msg:
	default:
	}
}

func (b *replyBox) SendSystemMessage(*actor.PID, any) {}
func (b *replyBox) Stop(*actor.PID)                   {}

// New validates cfg, starts an actor system whose proto.actor logs go to
// cfg.Logger, spawns the supervisor and returns once it has started.
func New(cfg Config) (*Engine, error) {
	props, pool, err := supervisorProps(cfg)
	if err != nil {
		return nil, err
	}
	cfg = cfg.withSlog()
	logger := cfg.Logger
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		if cfg.SlogHandler != nil {
			return slog.New(cfg.SlogHandler).With("component", "protoactor")
		}
		return slog.New(zerolog.NewSlogHandler(logger.With().Str("component", "protoactor").Logger()))
	}))
	pid, err := system.Root.SpawnNamed(props, "armistice")
	if err != nil {
		system.Shutdown()
		return nil, fmt.Errorf("actors: spawn supervisor: %w", err)
	}
	e := &Engine{cfg: cfg, system: system, sup: pid, pool: pool}
	e.refs.Store(rand.Uint64() &^ (1<<32 - 1))
	// The supervisor starts its workers as it handles Started, on a
	// goroutine of its own. Waiting for an answer here means New returns
	// with them running, so a goroutine baseline taken after New (goleak's
	// IgnoreCurrent) holds them.
	if _, err := e.Stats(context.Background()); err != nil {
		e.Close()
		return nil, fmt.Errorf("actors: the supervisor did not start: %w", err)
	}
	return e, nil
}

// Attach returns an Engine over a supervisor that runs in the caller's own
// actor system (spawned from SupervisorProps(cfg), as a child of the
// caller's actor or from the root), so that Subscription, http.New and the
// OpenAI routes serve it too. cfg must be the config the supervisor was
// made with: the Engine checks settings against its Provider and uses its
// AskTimeout and BatchSize. Close on the Engine does not stop the
// supervisor or the system; their owner does. Attach returns once the
// supervisor has answered.
func Attach(system *actor.ActorSystem, supervisor *actor.PID, cfg Config) (*Engine, error) {
	if system == nil || supervisor == nil {
		return nil, fmt.Errorf("%w: Attach needs a system and a supervisor PID", ErrInvalidConfig)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := &Engine{cfg: cfg.withSlog(), system: system, sup: supervisor, attached: true}
	e.refs.Store(rand.Uint64() &^ (1<<32 - 1))
	if _, err := e.Stats(context.Background()); err != nil {
		return nil, fmt.Errorf("actors: the supervisor does not answer: %w", err)
	}
	return e, nil
}

// System returns the engine's actor system.
func (e *Engine) System() *actor.ActorSystem { return e.system }

// Supervisor returns the supervisor's PID, for callers that speak the
// message protocol.
func (e *Engine) Supervisor() *actor.PID { return e.sup }

// Submit creates a request owned by owner. The snapshot is the request as
// accepted (state pending, with its queue position when it has to wait).
// In cluster mode a submit with an IdempotencyKey is admitted on the node
// the key hashes to (Peers.KeyHome), so that its retries through any node
// find it.
func (e *Engine) Submit(ctx context.Context, owner string, spec Spec) (Snapshot, error) {
	return e.submit(ctx, owner, spec, true)
}

// SubmitHere is Submit admitted on this node whatever its peers say: what
// a node does with a keyed submit another node carried to it.
func (e *Engine) SubmitHere(ctx context.Context, owner string, spec Spec) (Snapshot, error) {
	return e.submit(ctx, owner, spec, false)
}

func (e *Engine) submit(ctx context.Context, owner string, spec Spec, forward bool) (Snapshot, error) {
	if err := e.admissible(&spec); err != nil {
		return Snapshot{}, err
	}
	if b := e.peers.Load(); forward && spec.IdempotencyKey != "" && b != nil && b.p != nil && !b.p.KeyHome(owner, spec.IdempotencyKey) {
		timeout, err := e.callTimeout(ctx, 0)
		if err != nil {
			return Snapshot{}, err
		}
		return b.p.Submit(ctx, owner, spec, timeout)
	}
	m := &Submit{Owner: owner, Spec: spec}
	return e.snapshot(e.ask(ctx, m, 0, func(ref uint64) any { return &Withdraw{Owner: owner, Ref: ref} }))
}

// admissible checks spec and makes it the request's own: the caller's
// slices and maps are copied.
func (e *Engine) admissible(spec *Spec) error {
	if err := spec.validate(); err != nil {
		return err
	}
	// A setting the provider cannot honour is refused here, before the
	// request exists: nothing is silently dropped.
	if err := llm.Check(e.cfg.Provider, spec.Request()); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	spec.Messages = append(spec.Messages[:0:0], spec.Messages...)
	spec.Metadata = maps.Clone(spec.Metadata)
	spec.Settings = spec.Settings.Clone()
	return nil
}

// Status returns the request's current snapshot.
func (e *Engine) Status(ctx context.Context, id, owner string) (Snapshot, error) {
	if p := e.remote(id); p != nil {
		return e.snapshot(e.askRemote(ctx, p, id, &GetStatus{ID: id, Owner: owner}))
	}
	return e.snapshot(e.ask(ctx, &GetStatus{ID: id, Owner: owner}, 0, nil))
}

// Log returns the request's snapshot and its whole log as it is now (and
// its input, for a request submitted with KeepInput), without attaching a
// subscriber: reading it has no side effect on the request (no
// MaxSubscribers slot, no on_disconnect countdown). The records and the
// input are shared with the request and must not be modified.
func (e *Engine) Log(ctx context.Context, id, owner string) (LogSnapshot, error) {
	var res any
	var err error
	if p := e.remote(id); p != nil {
		res, err = e.askRemote(ctx, p, id, &GetLog{ID: id, Owner: owner})
	} else {
		res, err = e.ask(ctx, &GetLog{ID: id, Owner: owner}, 0, nil)
	}
	if err != nil {
		return LogSnapshot{}, err
	}
	ls, ok := res.(*LogSnapshot)
	if !ok {
		return LogSnapshot{}, fmt.Errorf("%w: unexpected answer %T", ErrNoAnswer, res)
	}
	return *ls, nil
}

// Cancel cancels the request and returns its snapshot (state cancelled).
// Cancelling again answers the same. A request that had already completed
// or failed gives an error wrapping ErrAlreadyFinished, with the snapshot.
func (e *Engine) Cancel(ctx context.Context, id, owner string) (Snapshot, error) {
	if p := e.remote(id); p != nil {
		return e.snapshot(e.askRemote(ctx, p, id, &Cancel{ID: id, Owner: owner}))
	}
	return e.snapshot(e.ask(ctx, &Cancel{ID: id, Owner: owner}, 0, nil))
}

// Delete forgets a finished request at once and returns its last
// snapshot. A request still pending or streaming gives ErrNotFinished.
func (e *Engine) Delete(ctx context.Context, id, owner string) (Snapshot, error) {
	if p := e.remote(id); p != nil {
		return e.snapshot(e.askRemote(ctx, p, id, &Delete{ID: id, Owner: owner}))
	}
	return e.snapshot(e.ask(ctx, &Delete{ID: id, Owner: owner}, 0, nil))
}

// Stats returns the supervisor's counters.
func (e *Engine) Stats(ctx context.Context) (Stats, error) {
	res, err := e.ask(ctx, &GetStats{}, 0, nil)
	if err != nil {
		return Stats{}, err
	}
	st, ok := res.(*Stats)
	if !ok {
		return Stats{}, fmt.Errorf("%w: unexpected answer %T", ErrNoAnswer, res)
	}
	return *st, nil
}

// Drain refuses new submits, ends pending requests as failed/shutdown,
// gives running ones grace to finish, then ends the rest as
// failed/shutdown. It returns once every request is terminal; attached
// subscribers have then been handed their end record (or get it on their
// next read). Finished requests stay readable until they expire.
func (e *Engine) Drain(ctx context.Context, grace time.Duration) error {
	_, err := e.ask(ctx, &Drain{Grace: grace}, grace, nil)
	return err
}

// Subscribe attaches to the request's log after the cursor after (0 for
// the whole log). Read with Next; Close when done. A cursor at or past the
// end record gives a subscription that is Exhausted.
func (e *Engine) Subscribe(ctx context.Context, id, owner string, after uint64) (*Subscription, error) {
	if p := e.remote(id); p != nil {
		return e.subscribeRemote(ctx, p, id, owner, after)
	}
	// Room for every batch the subscription grants, plus the final batch
	// a stopping request leaves; the actor never blocks.
	ch := make(chan Batch, pullWindow+1)
	res, err := e.ask(ctx, &Subscribe{ID: id, Owner: owner, After: after, ch: ch, credits: pullWindow}, 0,
		func(ref uint64) any { return &Withdraw{ID: id, Owner: owner, Ref: ref} })
	if err != nil {
		return nil, err
	}
	sub, ok := res.(*Subscribed)
	if !ok {
		return nil, fmt.Errorf("%w: unexpected answer %T", ErrNoAnswer, res)
	}
	return e.subscription(sub, ch, after), nil
}

// subscription is the reading end of an in-process subscriber that
// attached with the whole window granted.
func (e *Engine) subscription(sub *Subscribed, ch chan Batch, after uint64) *Subscription {
	s := &Subscription{root: e.system.Root, req: sub.Request, id: sub.Sub, ch: ch, cursor: after, snapshot: sub.Snapshot, max: e.cfg.BatchSize, granted: true}
	if sub.Exhausted {
		s.exhausted, s.done, s.detached = true, true, true
	}
	return s
}

// SubmitAndSubscribe is Submit, then Subscribe at cursor 0, in one call
// to the supervisor: the new request attaches the subscriber as it
// answers, before it starts, so the reader misses nothing. It is what a
// single-request API such as POST /v1/chat/completions wants: one command
// through the supervisor, which every command passes through, instead of
// two. A submit with an IdempotencyKey takes the two calls, as its retry
// may find a request that exists already, possibly on another node;
// there, if the request exists but the subscription fails, the snapshot
// comes with the error.
func (e *Engine) SubmitAndSubscribe(ctx context.Context, owner string, spec Spec) (Snapshot, *Subscription, error) {
	if spec.IdempotencyKey != "" {
		return e.submitThenSubscribe(ctx, owner, spec)
	}
	if err := e.admissible(&spec); err != nil {
		return Snapshot{}, nil, err
	}
	ch := make(chan Batch, pullWindow+1)
	m := &Submit{Owner: owner, Spec: spec, ch: ch}
	res, err := e.ask(ctx, m, 0, func(ref uint64) any { return &Withdraw{Owner: owner, Ref: ref} })
	if err != nil {
		return Snapshot{}, nil, err
	}
	sub, ok := res.(*Subscribed)
	if !ok {
		return Snapshot{}, nil, fmt.Errorf("%w: unexpected answer %T", ErrNoAnswer, res)
	}
	s := e.subscription(sub, ch, 0)
	return s.snapshot, s, nil
}

func (e *Engine) submitThenSubscribe(ctx context.Context, owner string, spec Spec) (Snapshot, *Subscription, error) {
	snap, err := e.Submit(ctx, owner, spec)
	if err != nil {
		return snap, nil, err
	}
	sub, err := e.Subscribe(ctx, snap.ID, owner, 0)
	return snap, sub, err
}

// Close stops every request (running ones end as failed/shutdown, and
// their subscribers get the end) and the actor system. Call Drain first
// for a graceful stop. Close is idempotent. On an Engine made by Attach it
// only stops the Engine's own calls.
func (e *Engine) Close() error {
	e.closeOnce.Do(func() {
		e.closed.Store(true)
		if e.attached {
			return
		}
		_ = e.system.Root.StopFuture(e.sup).Wait()
		e.system.Shutdown()
	})
	return nil
}

// ask sends msg to the supervisor and waits for the answer, at most
// AskTimeout (+extra) and never past ctx. A command carries its deadline,
// so the actors drop it once the caller can no longer want it; when the
// caller stops waiting anyway (the answer was on its way), undo, if set,
// makes the message that takes back what the command did.
func (e *Engine) ask(ctx context.Context, msg any, extra time.Duration, undo func(ref uint64) any) (any, error) {
	timeout, err := e.callTimeout(ctx, extra)
	if err != nil {
		return nil, err
	}
	var ref uint64
	if cmd, ok := msg.(command); ok {
		ref = e.refs.Add(1)
		cmd.stamp(ref, now().Add(timeout))
	}
	// A reply box of our own rather than a proto.actor future: the wait
	// must end with ctx, and a future cannot be completed from outside
	// without racing the answer.
	box := &replyBox{ch: make(chan any, 1)}
	registry := e.system.ProcessRegistry
	pid, _ := registry.Add(box, "ask$"+registry.NextId())
	defer registry.Remove(pid)
	e.system.Root.RequestWithCustomSender(e.sup, msg, pid)
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	res, gaveUp, err := awaitReply(ctx, box.ch, timer.C)
	if gaveUp && undo != nil && !e.closed.Load() {
		e.system.Root.Send(e.sup, undo(ref))
	}
	switch {
	case gaveUp && ctx.Err() != nil:
		return nil, ctx.Err()
	case errors.Is(err, actor.ErrDeadLetter) && e.closed.Load():
		return nil, ErrClosed
	case errors.Is(err, actor.ErrDeadLetter):
		// The request stopped while the command was on its way, before
		// the supervisor learnt of it: for the caller it no longer exists.
		return nil, fmt.Errorf("%w: it stopped", ErrNotFound)
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrNoAnswer, err)
	}
	if r, ok := res.(*Error); ok {
		return nil, r
	}
	return res, nil
}

// awaitReply waits for the answer in replies, for ctx, or for timeout.
// An answer that has come is taken even when ctx ended or the timeout
// fired at the same time: the command took effect, and undoing it would
// take back what the caller was told nothing about (a submit answered
// while its caller was not yet scheduled, then withdrawn, left a request
// that ran 0.25 ms and vanished; the client, gone already, got a 500).
func awaitReply(ctx context.Context, replies <-chan any, timeout <-chan time.Time) (res any, gaveUp bool, err error) {
	select {
	case res = <-replies:
	case <-ctx.Done():
		gaveUp, err = true, ctx.Err()
	case <-timeout:
		gaveUp, err = true, actor.ErrTimeout
	}
	if gaveUp {
		select {
		case res = <-replies:
			gaveUp, err = false, nil
		default:
			return nil, true, err
		}
	}
	if _, dead := res.(*actor.DeadLetterResponse); dead {
		return nil, false, actor.ErrDeadLetter
	}
	return res, false, nil
}

func (e *Engine) snapshot(res any, err error) (Snapshot, error) {
	if err != nil {
		var ae *Error
		if errors.As(err, &ae) && ae.Snapshot != nil {
			return *ae.Snapshot, err
		}
		return Snapshot{}, err
	}
	s, ok := res.(*Snapshot)
	if !ok {
		return Snapshot{}, fmt.Errorf("%w: unexpected answer %T", ErrNoAnswer, res)
	}
	return *s, nil
}

// pullWindow is how many batches a Subscription lets the request send
// ahead of its reading. It grants them back in halves, so at a paced rate
// (a batch per token) the request's mailbox runs one Pull per
// pullWindow/2 tokens instead of one per token. A batch is a slice of the
// shared log, so the window costs no copies.
const pullWindow = 8

// Subscription reads one request's log from a cursor. It is used by one
// goroutine at a time. It grants the request at most pullWindow batches
// ahead of its reading, so however slowly it reads, it never blocks the
// request or other subscribers.
type Subscription struct {
	root     *actor.RootContext
	req      *actor.PID
	id       uint64
	ch       chan Batch
	cursor   uint64
	max      int
	snapshot Snapshot

	granted   bool           // the first Pull, with the whole window, was sent
	consumed  int            // batches read since credits were last granted
	pending   []model.Record // the rest of a batch split by coalesce
	done      bool
	detached  bool
	exhausted bool
}

// Snapshot is the request as it was when the subscription attached.
func (s *Subscription) Snapshot() Snapshot { return s.snapshot }

// Cursor is the seq of the last record returned by Next.
func (s *Subscription) Cursor() uint64 { return s.cursor }

// Exhausted reports that the cursor given to Subscribe was already at or
// past the end record of a finished request: there is nothing to read.
func (s *Subscription) Exhausted() bool { return s.exhausted }

// Next returns the next records, in seq order, never one twice and never
// with a gap: those already delivered, at most BatchSize. It blocks until
// records exist or ctx is done. After
// the batch holding the end record it returns io.EOF. If the request stops before
// the end reaches the subscriber it returns ErrRequestGone. Next merges
// the deliveries already waiting into one slice, which copies them: a
// reader that handles records as they come reads without copying with
// NextBatch and TryNextBatch.
func (s *Subscription) Next(ctx context.Context) ([]model.Record, error) {
	recs, err := s.NextBatch(ctx)
	if err != nil {
		return recs, err
	}
	return s.coalesce(recs), nil
}

// NextBatch is Next without the merging: it returns one delivery as the
// request made it, at most BatchSize records and never past the end of
// one of the log's chunks, a view of the log that is never copied. A
// reader that encodes records as they come (an SSE loop) reads a fast
// stream with NextBatch and TryNextBatch and so never copies it: Next
// merges the deliveries already waiting into one new slice. Its
// guarantees are Next's: seq order, never a record twice, never a gap,
// io.EOF after the end, ErrRequestGone when the request stops before it.
func (s *Subscription) NextBatch(ctx context.Context) ([]model.Record, error) {
	if len(s.pending) > 0 {
		// Already past the cursor (and possibly holding the end): hand
		// it over before anything else.
		recs := s.pending
		s.pending = nil
		return recs, nil
	}
	if s.done {
		return nil, io.EOF
	}
	if s.detached {
		return nil, ErrClosed
	}
	if !s.granted {
		s.granted = true
		s.root.Send(s.req, &Pull{Sub: s.id, Max: s.max, Credits: pullWindow})
	}
	for {
		select {
		case b, ok := <-s.ch:
			s.took(b, ok)
			recs, ret, err := s.accept(b, ok)
			if ret {
				return recs, err
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// TryNextBatch is NextBatch when a delivery is already waiting; it never
// blocks: ok is false when nothing new waits (a stop is then seen by the
// next NextBatch).
func (s *Subscription) TryNextBatch() (recs []model.Record, ok bool) {
	if len(s.pending) > 0 {
		recs, s.pending = s.pending, nil
		return recs, true
	}
	if s.detached {
		return nil, false
	}
	// Only this goroutine receives, so a non-empty channel has a value
	// ready.
	for !s.done && len(s.ch) > 0 {
		b := <-s.ch
		s.took(b, true)
		if recs, ret, _ := s.accept(b, true); ret {
			return recs, true
		}
	}
	return nil, false
}

// took counts a batch read and grants the request credit back once half
// the window was read.
func (s *Subscription) took(b Batch, ok bool) {
	if !ok || b.Closed {
		return
	}
	s.consumed++
	if s.consumed >= pullWindow/2 {
		s.root.Send(s.req, &Pull{Sub: s.id, Max: s.max, Credits: s.consumed})
		s.consumed = 0
	}
}

// coalesce appends the batches already waiting to recs, up to s.max
// records (a batch that does not fit whole is split, its rest kept for
// the next call), so a fast stream is handed over and written in few large
// pieces. It never waits: only this goroutine receives, so a non-empty
// channel has a value ready (a close is seen only after the values before
// it).
func (s *Subscription) coalesce(recs []model.Record) []model.Record {
	copied := false
	for !s.done && len(recs) < s.max && len(s.ch) > 0 {
		b := <-s.ch
		s.took(b, true)
		more, ret, _ := s.accept(b, true)
		if !ret {
			continue
		}
		if room := s.max - len(recs); len(more) > room {
			more, s.pending = more[:room], more[room:]
		}
		if !copied {
			// The records are the log's; build a new slice, never
			// append into the log's spare capacity.
			recs = append(make([]model.Record, 0, min(s.max, len(recs)+len(more)*2)), recs...)
			copied = true
		}
		recs = append(recs, more...)
	}
	return recs
}

// accept takes one delivery; ret is false when it held nothing new.
func (s *Subscription) accept(b Batch, ok bool) (recs []model.Record, ret bool, err error) {
	if !ok {
		s.done, s.detached = true, true
		return nil, true, ErrRequestGone
	}
	recs = b.Records
	for len(recs) > 0 && recs[0].Seq <= s.cursor {
		recs = recs[1:] // the final batch may repeat what we have
	}
	if len(recs) == 0 {
		return nil, false, nil
	}
	s.cursor = recs[len(recs)-1].Seq
	if recs[len(recs)-1].Kind == model.KindEnd {
		s.done = true
		s.detach()
	}
	return recs, true, nil
}

// Close detaches the subscriber. For an on_disconnect=cancel request,
// the last detach starts the DetachGrace countdown. Close is idempotent.
func (s *Subscription) Close() { s.detach() }

func (s *Subscription) detach() {
	if s.detached {
		return
	}
	s.detached = true
	s.root.Send(s.req, &Unsubscribe{Sub: s.id})
}
