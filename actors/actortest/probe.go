package actortest

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Probe is an actor that records what it receives, for assertions.
//
// Expectations wait on channels and timers only, so inside a synctest
// bubble they are durably blocking: the wait costs no real time, and
// virtual time advances only once every actor has settled. A probe must
// be created in the bubble (or outside any bubble) where it is used.
//
// Messages of types other than T are recorded (see Received) and listed
// in failure messages, but Expect and Fish skip them.
type Probe[T any] struct {
	t      testing.TB
	system *actor.ActorSystem
	pid    *actor.PID

	mu      sync.Mutex
	entries []probeEntry
	// mark is where the last T-expectation ended: failure messages list
	// what arrived from there on. Every T before mark is consumed.
	mark    int
	changed chan struct{} // closed and replaced on every arrival

	stopOnce sync.Once
}

type probeEntry struct {
	msg      any
	consumed bool
}

// probeWatch asks the probe actor to watch a PID from its own context, so
// the *actor.Terminated comes to the probe.
type probeWatch struct{ pid *actor.PID }

// NewProbe spawns a probe on system.Root with the default mailbox and
// dispatcher: a probe observes and is never a stepped participant. It is
// stopped when the test ends (or earlier with Stop).
func NewProbe[T any](t testing.TB, system *actor.ActorSystem) *Probe[T] {
	t.Helper()
	p := &Probe[T]{t: t, system: system, changed: make(chan struct{})}
	p.pid = system.Root.SpawnPrefix(actor.PropsFromFunc(p.receive), "probe")
	t.Cleanup(p.Stop)
	return p
}

func (p *Probe[T]) receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started, *actor.Stopping, *actor.Stopped, *actor.Restarting:
		// the probe's own lifecycle is not something the test sent it
	case probeWatch:
		ctx.Watch(m.pid)
	default:
		p.mu.Lock()
		p.entries = append(p.entries, probeEntry{msg: m})
		close(p.changed)
		p.changed = make(chan struct{})
		p.mu.Unlock()
	}
}

// PID is where to send the messages the probe should observe.
func (p *Probe[T]) PID() *actor.PID { return p.pid }

// Received returns every message the probe got so far, in arrival order:
// Ts, other types and *actor.Terminated alike, but not the probe's own
// lifecycle messages.
func (p *Probe[T]) Received() []any {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]any, len(p.entries))
	for i, e := range p.entries {
		out[i] = e.msg
	}
	return out
}

// Expect returns the next T, waiting up to within for it (virtual time
// in a synctest bubble). On timeout it fails the test, listing everything
// that arrived since the last expectation.
func (p *Probe[T]) Expect(within time.Duration) T {
	p.t.Helper()
	var got T
	ok := p.await(within, func() bool {
		for i := range p.entries {
			e := &p.entries[i]
			if v, isT := e.msg.(T); isT && !e.consumed {
				e.consumed = true
				p.mark = max(p.mark, i+1)
				got = v
				return true
			}
		}
		return false
	})
	if !ok {
		p.fail("Expect", fmt.Sprintf("no %s within %v", p.typeName(), within), nil)
	}
	return got
}

// ExpectNone waits d (virtual time in a synctest bubble) and fails the
// test as soon as a T that no expectation has taken is there. In a bubble
// every actor settles before d elapses, so "none" is not a race.
func (p *Probe[T]) ExpectNone(d time.Duration) {
	p.t.Helper()
	var unexpected any
	found := p.await(d, func() bool {
		for _, e := range p.entries {
			if _, isT := e.msg.(T); isT && !e.consumed {
				unexpected = e.msg
				return true
			}
		}
		return false
	})
	if found {
		p.fail("ExpectNone", fmt.Sprintf("got %s within %v: %+v", p.typeName(), d, unexpected), nil)
	}
	p.mu.Lock()
	p.mark = len(p.entries)
	p.mu.Unlock()
}

// Fish returns the first T for which match is true, waiting up to within;
// the Ts before it are consumed. On timeout it fails the test, listing
// the Ts it skipped.
func (p *Probe[T]) Fish(match func(T) bool, within time.Duration) T {
	p.t.Helper()
	var got T
	var skipped []any
	ok := p.await(within, func() bool {
		for i := range p.entries {
			e := &p.entries[i]
			v, isT := e.msg.(T)
			if !isT || e.consumed {
				continue
			}
			e.consumed = true
			p.mark = max(p.mark, i+1)
			if match(v) {
				got = v
				return true
			}
			skipped = append(skipped, e.msg)
		}
		return false
	})
	if !ok {
		p.fail("Fish", fmt.Sprintf("no matching %s within %v", p.typeName(), within), skipped)
	}
	return got
}

// ExpectTerminated makes the probe watch pid and waits up to within for
// the *actor.Terminated of pid. An already dead pid works too: proto.actor
// answers a Watch on it with Terminated (reason NotFound).
func (p *Probe[T]) ExpectTerminated(pid *actor.PID, within time.Duration) {
	p.t.Helper()
	p.system.Root.Send(p.pid, probeWatch{pid: pid})
	ok := p.await(within, func() bool {
		for i := range p.entries {
			e := &p.entries[i]
			if term, isTerm := e.msg.(*actor.Terminated); isTerm && !e.consumed && term.Who.Equal(pid) {
				e.consumed = true
				return true
			}
		}
		return false
	})
	if !ok {
		p.fail("ExpectTerminated", fmt.Sprintf("no *actor.Terminated of %v within %v", pid, within), nil)
	}
}

// Stop stops the probe actor and waits until it has stopped. It is safe
// to call more than once; NewProbe registers it with t.Cleanup.
func (p *Probe[T]) Stop() {
	p.stopOnce.Do(func() {
		_ = p.system.Root.StopFuture(p.pid).Wait()
	})
}

// await runs check under the lock whenever a message arrives until it
// reports true, or until within has elapsed (it checks once more then).
// It blocks only on channels, never on the mutex for long, so a synctest
// bubble sees it as durably blocked.
func (p *Probe[T]) await(within time.Duration, check func() bool) bool {
	if within <= 0 {
		settle() // a zero wait still lets the bubble's actors catch up
	}
	timer := time.NewTimer(within)
	defer timer.Stop()
	for {
		p.mu.Lock()
		ok := check()
		changed := p.changed
		p.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-changed:
		case <-timer.C:
			p.mu.Lock()
			defer p.mu.Unlock()
			return check()
		}
	}
}

// settle waits until every other goroutine of the caller's synctest
// bubble is blocked; outside a bubble (where synctest.Wait panics) it does
// nothing.
func settle() {
	defer func() { _ = recover() }()
	synctest.Wait()
}

func (p *Probe[T]) typeName() string { return reflect.TypeFor[T]().String() }

// fail reports a failed expectation with what the probe saw since the
// last one, so the message says what happened instead of only what did not.
func (p *Probe[T]) fail(op, what string, skipped []any) {
	p.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "actortest: Probe[%s].%s: %s", p.typeName(), op, what)
	if len(skipped) > 0 {
		fmt.Fprintf(&b, "\nskipped (%d):", len(skipped))
		for _, m := range skipped {
			fmt.Fprintf(&b, "\n  %T: %+v", m, m)
		}
	}
	p.mu.Lock()
	var since []any
	for _, e := range p.entries[min(p.mark, len(p.entries)):] {
		if !e.consumed {
			since = append(since, e.msg)
		}
	}
	p.mu.Unlock()
	if len(since) == 0 {
		b.WriteString("\nreceived since the last expectation: nothing")
	} else {
		fmt.Fprintf(&b, "\nreceived since the last expectation (%d):", len(since))
		for _, m := range since {
			fmt.Fprintf(&b, "\n  %T: %+v", m, m)
		}
	}
	p.t.Fatalf("%s", b.String())
}

// Tap returns a copy of props whose actors also send a copy of every
// outgoing message to probe, before the real send. The user's props are
// not modified.
//
// It is a sender middleware, so it sees exactly what goes through
// proto.actor's actorContext.sendUserMessage (actor_context.go): Send,
// Request, RequestWithCustomSender, RequestFuture, Forward, Respond to a
// non-nil sender, the automatic reply to an AutoRespond message, and
// sends by a scheduler.TimerScheduler built on the actor's own context
// (then from the timer's goroutine). The probe gets the bare message
// (envelopes unwrapped, the sender dropped).
//
// It does not see: Poison/PoisonFuture (sent straight to the PID),
// Stop/StopFuture, Watch/Unwatch and ReenterAfter continuations (system
// messages), Respond when there is no sender (sent straight to dead
// letters), sends from a RootContext, Future.PipeTo, or anything sent by
// children (their props are their own). It skips the *actor.ReceiveTimeout
// that proto.actor's timer sends to the actor itself through the same
// middleware, and messages addressed to the probe itself, which arrive
// anyway.
//
// The copy is made with Props.Clone, which rebuilds every middleware
// slice, so appending the tap never aliases the original's backing
// arrays (a plain struct copy would share them); as a consequence the
// middleware constructors of props run once more.
func Tap(props *actor.Props, probe interface{ PID() *actor.PID }) *actor.Props {
	target := probe.PID()
	return props.Clone(actor.WithSenderMiddleware(func(next actor.SenderFunc) actor.SenderFunc {
		return func(ctx actor.SenderContext, to *actor.PID, env *actor.MessageEnvelope) {
			_, isTimeout := env.Message.(*actor.ReceiveTimeout)
			if !to.Equal(target) && !(isTimeout && to.Equal(ctx.Self())) {
				ctx.ActorSystem().Root.Send(target, env.Message)
			}
			next(ctx, to, env)
		}
	}))
}
