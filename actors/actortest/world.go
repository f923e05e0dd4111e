package actortest

import (
	"bytes"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// World is one deterministic run of actors: an actor system inside a
// testing/synctest bubble whose actors (everything spawned through Root,
// and every child they spawn) get a stepping mailbox. Nothing is delivered
// until the world steps; each step delivers exactly one message, on the
// test's goroutine. Other goroutines (timers, producers) only queue
// messages, and the world collects what they queued at each step in a
// deterministic order, so a schedule depends on the choices made and on
// nothing else.
//
// A World is made by RunStep (scripted stepping) or by Explore, Search and
// Replay (schedule exploration). Its methods must be called from the
// goroutine that runs the scenario.
type World struct {
	// T is the bubble's test.
	T *testing.T
	// System is the world's actor system; System.Root spawns plain
	// (unstepped) actors such as probes.
	System *actor.ActorSystem
	// Root spawns stepped actors.
	Root *actor.RootContext
	// Logs holds proto.actor's logs, and anything written to
	// Logs.Writer().
	Logs *LogCapture

	// MaxSteps bounds a run (default 20,000).
	MaxSteps int
	// Horizon is how far virtual time may jump, waiting for a timer, before
	// the world counts as quiet (default 1 h).
	Horizon time.Duration
	// Time says when exploration lets virtual time pass and how a timer's
	// message reaches its mailbox (default TimerMoves).
	Time TimeModel

	rng *rand.Rand

	// mu guards mailboxes, staged posts, holds and effects against the
	// goroutines that post; the rest is the stepping goroutine's alone.
	mu      sync.Mutex
	gid     uint64 // the stepping goroutine
	boxes   []*mailbox
	staged  []stagedPost
	postSeq uint64
	posted  chan struct{}

	holds []func(any) bool
	held  []heldPost
	// sender names who posts from the stepping goroutine right now (the
	// actor being stepped, a move); per-sender FIFO is kept per name.
	sender string
	// arrivals are timer posts whose deadline has passed, not yet in
	// their mailboxes (TimerMoves); mayFire says an advance may find a
	// timer (false after one that found none, until the next step).
	arrivals []*arrival
	mayFire  bool
	// contLabels names the continuation a goroutine is about to post
	// (set by the future's completion marker, read by post).
	contLabels map[uint64]string
	futures    map[*actor.Future]string
	markers    int
	effects    []Effect
	trace      []string

	spawned      []*actor.PID
	participants []participant
	invariants   []namedCheck
	liveness     []namedCheck
	teardowns    []func()
	faults       Faults
	faultsUsed   int
	failure      error
	dead         *deadLetters
	asker        *actor.PID
	answers      chan any
}

type namedCheck struct {
	name  string
	check func() error
}

type stagedPost struct {
	box    *mailbox
	env    envelope
	system bool
	at     time.Time
	key    string
	poster uint64 // the posting goroutine
}

type heldPost struct {
	box *mailbox
	env envelope
}

type envelope struct {
	msg   any
	seq   uint64 // global post order
	from  string // the sender, for per-sender FIFO
	label string // a name for the message when its type says little (continuations)
}

// arrival is one timer goroutine's posts at one instant, held until the
// strategy enqueues them.
type arrival struct {
	posts  []stagedPost
	poster uint64
	label  string
}

func newWorld(t *testing.T, seed uint64) *World {
	w := &World{
		T:        t,
		Logs:     NewLogCapture(),
		MaxSteps: 20000,
		Horizon:  time.Hour,
		rng:      rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		gid:      goid(),
		posted:   make(chan struct{}, 1),
		sender:   "root",
		mayFire:  true,
	}
	logs := w.Logs
	w.System = actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return slog.New(logs) }))
	w.Root = actor.NewRootContext(w.System, nil).WithSpawnMiddleware(w.spawnMiddleware)
	w.dead = watchDeadLetters(w.System)
	return w
}

// Rand is the run's seeded random source, for scenarios that want to
// vary themselves reproducibly.
func (w *World) Rand() *rand.Rand { return w.rng }

// Spawn spawns a stepped actor from the user's props (which are not
// modified) and stops it when the world ends.
func (w *World) Spawn(props *actor.Props) *actor.PID {
	pid := w.Root.Spawn(props)
	w.spawned = append(w.spawned, pid)
	return pid
}

// SpawnNamed is Spawn with a name.
func (w *World) SpawnNamed(props *actor.Props, name string) (*actor.PID, error) {
	pid, err := w.Root.SpawnNamed(props, name)
	if err == nil {
		w.spawned = append(w.spawned, pid)
	}
	return pid, err
}

// OnTeardown registers f to run when the world ends, before its actors
// are stopped (edges use it to release blocked goroutines).
func (w *World) OnTeardown(f func()) { w.teardowns = append(w.teardowns, f) }

// Fail records a scenario failure; the run stops after the current step.
func (w *World) Fail(format string, args ...any) {
	if w.failure == nil {
		w.failure = fmt.Errorf("%w: %s", ErrScenario, fmt.Sprintf(format, args...))
	}
}

// Failed reports the first failure recorded so far.
func (w *World) Failed() error { return w.failure }

// Trace is the list of steps taken so far, one label each.
func (w *World) Trace() []string { return slices.Clone(w.trace) }

// spawnMiddleware gives every actor spawned through Root, and through
// its descendants, a stepping mailbox and a recording context. It clones
// the props (Props.Clone rebuilds every slice), so the user's props stay
// unmodified and share nothing with the copy.
func (w *World) spawnMiddleware(next actor.SpawnFunc) actor.SpawnFunc {
	return func(sys *actor.ActorSystem, id string, props *actor.Props, parent actor.SpawnerContext) (*actor.PID, error) {
		cp := props.Clone(
			actor.WithMailbox(w.newMailbox),
			actor.WithSpawnMiddleware(w.spawnMiddleware),
			actor.WithContextDecorator(w.decorate),
		)
		pid, err := next(sys, id, cp, parent)
		if err == nil {
			w.record(Effect{Kind: EffectSpawn, Actor: parentName(parent), Target: pid.Id})
		}
		return pid, err
	}
}

func parentName(p actor.SpawnerContext) string {
	if c, ok := p.(interface{ Self() *actor.PID }); ok && c.Self() != nil {
		return c.Self().Id
	}
	return "root"
}

// mailbox queues messages until the world delivers them. It mirrors
// proto.actor's default mailbox: system messages go first, Suspend and
// Resume are handled here, a batch is expanded (and, as upstream does,
// also delivered as itself), and a panic is escalated.
type mailbox struct {
	w         *World
	index     int
	invoker   actor.MessageInvoker
	sys, user []envelope
	suspended bool
	name      string
}

func (w *World) newMailbox() actor.Mailbox {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := &mailbox{w: w, index: len(w.boxes)}
	w.boxes = append(w.boxes, m)
	return m
}

func (m *mailbox) PostUserMessage(msg any) {
	if batch, ok := msg.(actor.MessageBatch); ok {
		for _, inner := range batch.GetMessages() {
			m.PostUserMessage(inner)
		}
	}
	if env, ok := msg.(*actor.MessageEnvelope); ok {
		if batch, ok := env.Message.(actor.MessageBatch); ok {
			for _, inner := range batch.GetMessages() {
				m.PostUserMessage(inner)
			}
		}
	}
	m.w.post(m, msg, false)
}

func (m *mailbox) PostSystemMessage(msg any) { m.w.post(m, msg, true) }

func (m *mailbox) RegisterHandlers(invoker actor.MessageInvoker, _ actor.Dispatcher) {
	m.invoker = invoker
}

func (m *mailbox) Start() {}

func (m *mailbox) UserMessageCount() int {
	m.w.mu.Lock()
	defer m.w.mu.Unlock()
	return len(m.user)
}

// Name is the actor's PID id.
func (m *mailbox) Name() string {
	if m.name == "" {
		if c, ok := m.invoker.(interface{ Self() *actor.PID }); ok && c.Self() != nil {
			m.name = c.Self().Id
		} else {
			return "#" + strconv.Itoa(m.index)
		}
	}
	return m.name
}

// post queues a message. A post made on the stepping goroutine is in a
// deterministic order already and goes straight in; one made by another
// goroutine is staged and merged at the next settle.
func (w *World) post(m *mailbox, msg any, system bool) {
	gid := goid()
	direct := gid == w.gid
	w.mu.Lock()
	w.postSeq++
	env := envelope{msg: msg, seq: w.postSeq}
	if isContinuation(msg) {
		env.label = w.contLabels[gid]
		delete(w.contLabels, gid)
	}
	if direct {
		env.from = w.sender
		w.push(m, env, system)
		w.mu.Unlock()
		return
	}
	env.from = "goroutine " + strconv.FormatUint(gid, 10)
	w.staged = append(w.staged, stagedPost{box: m, env: env, system: system, at: time.Now(), key: messageKey(msg), poster: gid})
	w.mu.Unlock()
	select {
	case w.posted <- struct{}{}:
	default:
	}
}

// push appends to a mailbox, or sets a held message aside; w.mu is held.
func (w *World) push(m *mailbox, env envelope, system bool) {
	if system {
		m.sys = append(m.sys, env)
		return
	}
	for _, hold := range w.holds {
		if hold(unwrap(env.msg)) {
			w.held = append(w.held, heldPost{box: m, env: env})
			return
		}
	}
	m.user = append(m.user, env)
}

// settle waits until every other goroutine in the bubble is blocked, then
// merges what they posted. Each goroutine's posts at one instant stay in
// the order it made them (a sender's order is a mailbox guarantee);
// different goroutines racing at one instant (timers due together) are
// ordered by what they posted (time, mailbox creation order, message
// text), never by which won the race, so the merge is the same every run.
func (w *World) settle() { w.settleFrom("") }

// settleFrom is settle; source, when set, names where the staged posts
// came from ("timer" while time advanced) and records them as effects.
func (w *World) settleFrom(source string) {
	synctest.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, b := range w.takeBursts() {
		for _, p := range b.posts {
			w.pushStaged(p, source)
		}
	}
}

// pushStaged queues one staged post; w.mu is held.
func (w *World) pushStaged(p stagedPost, source string) {
	if source != "" {
		w.effects = append(w.effects, Effect{Kind: EffectTimer, Actor: source, Target: p.box.Name(), Message: unwrap(p.env.msg)})
	}
	w.push(p.box, p.env, p.system)
}

// takeBursts empties the staged posts, grouped by poster and instant and
// sorted by what they posted; w.mu is held.
func (w *World) takeBursts() []*arrival {
	if len(w.staged) == 0 {
		return nil
	}
	type burst struct {
		arrival
		key string
	}
	var bursts []*burst
	byPoster := map[string]*burst{}
	for _, p := range w.staged {
		id := fmt.Sprintf("%d@%d", p.poster, p.at.UnixNano())
		b := byPoster[id]
		if b == nil {
			b = &burst{arrival: arrival{poster: p.poster}}
			byPoster[id] = b
			bursts = append(bursts, b)
		}
		b.posts = append(b.posts, p)
		b.key += fmt.Sprintf("%020d %08d %s\x00", p.at.UnixNano(), p.box.index, p.key)
	}
	w.staged = nil
	sort.SliceStable(bursts, func(i, j int) bool { return bursts[i].key < bursts[j].key })
	out := make([]*arrival, len(bursts))
	for i, b := range bursts {
		out[i] = &b.arrival
	}
	return out
}

// holdArrivals collects what the timers posted while time advanced as
// arrivals, each a move of its own (TimerMoves); w.mu is not held.
func (w *World) holdArrivals() {
	synctest.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, a := range w.takeBursts() {
		p := a.posts[0]
		a.label = "timer → " + p.box.Name() + " " + envLabel(p.env, p.system)
		if len(a.posts) > 1 {
			a.label += fmt.Sprintf(" (+%d)", len(a.posts)-1)
		}
		w.arrivals = append(w.arrivals, a)
	}
}

// enqueueArrival puts an arrival's posts into their mailboxes: the
// timer's messages reach the actors now, after their deadline.
func (w *World) enqueueArrival(a *arrival) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if i := slices.Index(w.arrivals, a); i >= 0 {
		w.arrivals = slices.Delete(w.arrivals, i, i+1)
	}
	for _, p := range a.posts {
		w.postSeq++
		p.env.seq = w.postSeq // its place in the global order is now
		w.pushStaged(p, "timer")
	}
}

// advance lets virtual time run until some goroutine posts (a timer
// fires) or the horizon passes; it reports whether anything was posted.
// Under TimerMoves the posts wait as arrivals; otherwise they are queued.
func (w *World) advance(horizon time.Duration) bool {
	select {
	case <-w.posted:
	default:
	}
	timer := time.NewTimer(horizon)
	defer timer.Stop()
	fired := false
	select {
	case <-w.posted:
		fired = true
	case <-timer.C:
	}
	if w.Time == TimerMoves {
		w.holdArrivals()
	} else {
		w.settleFrom("timer")
	}
	return fired
}

func unwrap(msg any) any {
	if env, ok := msg.(*actor.MessageEnvelope); ok {
		return env.Message
	}
	return msg
}

// messageKey orders same-instant posts; %+v of a value with no pointers
// inside is stable from run to run.
func messageKey(msg any) string {
	m := unwrap(msg)
	return fmt.Sprintf("%T %+v", m, m)
}

func typeName(msg any) string { return fmt.Sprintf("%T", unwrap(msg)) }

// goid returns the current goroutine's id, which Go does not export; the
// kit needs it to tell the stepping goroutine's posts from the others.
func goid() uint64 {
	var buf [64]byte
	n := runtime.Stack(buf[:], false)
	s := bytes.TrimPrefix(buf[:n], []byte("goroutine "))
	if i := bytes.IndexByte(s, ' '); i > 0 {
		id, _ := strconv.ParseUint(string(s[:i]), 10, 64)
		return id
	}
	return 0
}

// Pending describes one queued message.
type Pending struct {
	Actor   string
	Message any
	System  bool
	// Type is the message's Go type (%T), or a name for a ReenterAfter
	// continuation ("continuation ← oracle actortest_test.question").
	Type string
}

// String is "actor [system ]type {fields}".
func (p Pending) String() string {
	s := p.Actor + " "
	if p.System {
		s += "system "
	}
	s += p.Type
	if p.System || isContinuation(p.Message) {
		return s
	}
	return s + fmt.Sprintf(" %+v", p.Message)
}

// Pending lists the queued messages, system messages first per actor,
// actors in creation order.
func (w *World) Pending() []Pending {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []Pending
	for _, m := range w.boxes {
		for _, e := range m.sys {
			out = append(out, Pending{Actor: m.Name(), Message: e.msg, System: true, Type: envLabel(e, false)})
		}
		for _, e := range m.user {
			out = append(out, Pending{Actor: m.Name(), Message: unwrap(e.msg), Type: envLabel(e, false)})
		}
	}
	return out
}

// deliverable reports whether m has a message it may process now.
func (m *mailbox) deliverable() bool {
	return len(m.sys) > 0 || (!m.suspended && len(m.user) > 0)
}

// headSeq is the post order of the message m would process next.
func (m *mailbox) headSeq() uint64 {
	if len(m.sys) > 0 {
		return m.sys[0].seq
	}
	return m.user[0].seq
}

func (m *mailbox) headLabel() string {
	if len(m.sys) > 0 {
		return m.Name() + " " + envLabel(m.sys[0], true)
	}
	return m.Name() + " " + envLabel(m.user[0], false)
}

// envLabel names a queued message in traces: its type, "system " before a
// system message's, a continuation by whom its future waited for.
func envLabel(e envelope, system bool) string {
	name := typeName(e.msg)
	if isContinuation(e.msg) {
		name = "continuation"
		if e.label != "" {
			name += " ← " + e.label
		}
	}
	if system {
		return "system " + name
	}
	return name
}

// deliver processes m's next message on this goroutine, as the default
// mailbox would, and reports Receive blocking.
func (w *World) deliver(m *mailbox, userIndex int) {
	w.mu.Lock()
	var env envelope
	system := len(m.sys) > 0 && userIndex < 0
	if system {
		env, m.sys = m.sys[0], m.sys[1:]
	} else {
		if userIndex < 0 {
			userIndex = 0
		}
		env = m.user[userIndex]
		m.user = slices.Delete(m.user, userIndex, userIndex+1)
	}
	w.mu.Unlock()
	prev := w.sender
	w.sender = "actor " + m.Name()
	w.invoke(m, env.msg, system)
	w.sender = prev
	w.settle()
}

func (w *World) invoke(m *mailbox, msg any, system bool) {
	if system {
		switch msg.(type) {
		case *actor.SuspendMailbox:
			m.suspended = true
			return
		case *actor.ResumeMailbox:
			m.suspended = false
			return
		}
	}
	start := time.Now()
	func() {
		defer func() {
			if r := recover(); r != nil {
				m.invoker.EscalateFailure(r, msg)
			}
		}()
		if system {
			m.invoker.InvokeSystemMessage(msg)
		} else {
			m.invoker.InvokeUserMessage(msg)
		}
	}()
	if blocked := time.Since(start); blocked > 0 && w.failure == nil {
		w.failure = fmt.Errorf("%w: %s blocked for %s (virtual) handling %s: a stepped actor must not wait inside Receive (Future.Result/Wait, a channel, a lock); use ctx.ReenterAfter or PipeTo",
			ErrBlockedReceive, m.Name(), blocked, typeName(msg))
	}
}

// Step delivers the oldest deliverable message (global post order) and
// reports whether there was one.
func (w *World) Step() bool {
	w.settle()
	m := w.oldest()
	if m == nil {
		return false
	}
	w.trace = append(w.trace, "deliver "+m.headLabel())
	w.deliver(m, -1)
	return true
}

func (w *World) oldest() *mailbox {
	w.mu.Lock()
	defer w.mu.Unlock()
	var best *mailbox
	for _, m := range w.boxes {
		if m.deliverable() && (best == nil || m.headSeq() < best.headSeq()) {
			best = m
		}
	}
	return best
}

// Deliver delivers to pid the first queued user message that match
// accepts (ahead of older ones: a reordering). Any system message pid has
// queued is delivered first, each as its own step, as a mailbox would. It
// reports whether a matching message was delivered.
func (w *World) Deliver(pid *actor.PID, match func(msg any) bool) bool {
	w.settle()
	box := w.box(pid)
	if box == nil {
		return false
	}
	for {
		w.mu.Lock()
		sys := len(box.sys) > 0
		w.mu.Unlock()
		if !sys {
			break
		}
		w.trace = append(w.trace, "deliver "+box.headLabel())
		w.deliver(box, -1)
	}
	w.mu.Lock()
	idx := -1
	for i, e := range box.user {
		if match == nil || match(unwrap(e.msg)) {
			idx = i
			break
		}
	}
	suspended := box.suspended
	var label string
	if idx >= 0 {
		label = fmt.Sprintf("deliver %s %s", box.Name(), typeName(box.user[idx].msg))
	}
	w.mu.Unlock()
	if idx < 0 || suspended {
		return false
	}
	w.trace = append(w.trace, label)
	w.deliver(box, idx)
	return true
}

func (w *World) box(pid *actor.PID) *mailbox {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, m := range w.boxes {
		if m.Name() == pid.Id {
			return m
		}
	}
	return nil
}

// Hold sets aside every queued and future user message that match
// accepts, until Release.
func (w *World) Hold(match func(msg any) bool) {
	w.settle()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.holds = append(w.holds, match)
	for _, m := range w.boxes {
		kept := m.user[:0]
		for _, e := range m.user {
			if match(unwrap(e.msg)) {
				w.held = append(w.held, heldPost{box: m, env: e})
			} else {
				kept = append(kept, e)
			}
		}
		m.user = kept
	}
}

// Release puts back, at the tail of their mailboxes and in their original
// order, the held messages that match accepts, and stops holding them.
// Release(nil) releases everything.
func (w *World) Release(match func(msg any) bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if match == nil {
		w.holds = nil
	} else {
		// Holds are predicates; the released ones stay released only
		// for messages match accepts.
		prev := w.holds
		w.holds = nil
		for _, h := range prev {
			w.holds = append(w.holds, func(msg any) bool { return h(msg) && !match(msg) })
		}
	}
	kept := w.held[:0]
	for _, h := range w.held {
		if match == nil || match(unwrap(h.env.msg)) {
			h.box.user = append(h.box.user, h.env)
		} else {
			kept = append(kept, h)
		}
	}
	w.held = kept
}

// RunUntilQuiet steps (oldest message first) until nothing is
// deliverable, and returns the number of steps.
func (w *World) RunUntilQuiet() int {
	n := 0
	for ; n < w.MaxSteps; n++ {
		if !w.Step() {
			return n
		}
	}
	if w.oldest() != nil && w.failure == nil {
		w.failure = fmt.Errorf("%w (%d): RunUntilQuiet", ErrStepBound, w.MaxSteps)
	}
	return n
}

// Advance lets d of virtual time pass: timers due fire and queue their
// messages, which are not delivered.
func (w *World) Advance(d time.Duration) {
	time.Sleep(d)
	w.settleFrom("timer")
	w.trace = append(w.trace, "advance "+d.String())
}

// Invariant registers a safety check run after every explored step.
func (w *World) Invariant(name string, check func() error) {
	w.invariants = append(w.invariants, namedCheck{name, check})
}

// Eventually registers a liveness check run when the world goes quiet.
func (w *World) Eventually(name string, check func() error) {
	w.liveness = append(w.liveness, namedCheck{name, check})
}

// checkInvariants records the first violated invariant.
func (w *World) checkInvariants() {
	for _, c := range w.invariants {
		if err := c.check(); err != nil && w.failure == nil {
			w.failure = fmt.Errorf("%w: %s: %w", ErrInvariant, c.name, err)
		}
	}
}

func (w *World) checkLiveness() {
	for _, c := range w.liveness {
		if err := c.check(); err != nil && w.failure == nil {
			w.failure = fmt.Errorf("%w: %s: %w", ErrLiveness, c.name, err)
		}
	}
}

// teardown stops everything so the bubble can end: edges release their
// goroutines, spawned actors are stopped and their stops delivered, and
// virtual time passes proto.actor's dead-letter throttle.
func (w *World) teardown() {
	for _, f := range w.teardowns {
		f()
	}
	w.Release(nil)
	for len(w.arrivals) > 0 {
		w.enqueueArrival(w.arrivals[0])
	}
	w.faults = Faults{}
	for _, pid := range w.spawned {
		w.Root.Stop(pid)
	}
	for range 1000 {
		w.settle()
		if w.oldest() == nil {
			break
		}
		w.Step()
	}
	w.dead.waitOut(w.settle)
	w.System.Shutdown()
}

// RunStep runs f in a fresh bubble with a fresh stepped world, then tears
// the world down. Failures recorded with World.Fail, a Receive that
// blocked, and a failed test all print the step trace and the logs.
func RunStep(t *testing.T, f func(w *World)) {
	t.Helper()
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, 1) // RunStep's seed; formatTrace prints it
		defer func() {
			err, trace := w.failure, slices.Clone(w.trace)
			w.teardown()
			if err != nil {
				t.Errorf("%v\n%s", err, formatTrace(1, trace))
			}
			if t.Failed() {
				var b strings.Builder
				w.Logs.Dump(&b)
				t.Logf("logs:\n%s", b.String())
			}
		}()
		f(w)
	})
}

func formatTrace(seed uint64, trace []string) string {
	var b strings.Builder
	b.WriteString("trace:\n")
	fmt.Fprintf(&b, "  %4d  seed %d\n", 0, seed)
	for i, s := range trace {
		fmt.Fprintf(&b, "  %4d  %s\n", i+1, s)
	}
	return b.String()
}

// Ask sends msg to pid with a reply address and steps the world (oldest
// message first) until the answer arrives, for checks that need to ask an
// actor something, typically in Eventually. It fails after MaxSteps steps
// or when the world goes quiet without an answer.
func (w *World) Ask(pid *actor.PID, msg any) (any, error) {
	if w.asker == nil {
		w.answers = make(chan any, 1)
		answers := w.answers
		// A plain actor (proto.actor's dispatcher, not stepped) receives
		// the answer, so waiting for it never needs a step of its own.
		w.asker = w.System.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
			switch c.Message().(type) {
			case *actor.Started, *actor.Stopping, *actor.Stopped, *actor.Restarting:
				return
			}
			select {
			case answers <- c.Message():
			default:
			}
		}))
		w.OnTeardown(func() { w.System.Root.Stop(w.asker) })
	}
	w.Root.RequestWithCustomSender(pid, msg, w.asker)
	for range w.MaxSteps {
		w.settle()
		select {
		case a := <-w.answers:
			return a, nil
		default:
		}
		if !w.Step() {
			w.settle()
			select {
			case a := <-w.answers:
				return a, nil
			default:
			}
			return nil, fmt.Errorf("actortest: %s did not answer %T before the world went quiet", pid.Id, msg)
		}
	}
	return nil, fmt.Errorf("%w: waiting for %s to answer %T", ErrStepBound, pid.Id, msg)
}
