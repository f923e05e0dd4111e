package actortest

import (
	"fmt"
	"reflect"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// EffectKind names what an actor did besides receiving.
type EffectKind string

// The recorded effects.
const (
	EffectSpawn          EffectKind = "spawn"
	EffectWatch          EffectKind = "watch"
	EffectUnwatch        EffectKind = "unwatch"
	EffectStop           EffectKind = "stop"
	EffectPoison         EffectKind = "poison"
	EffectRespond        EffectKind = "respond"
	EffectReceiveTimeout EffectKind = "receive_timeout"
	// EffectTimer is a message queued by a goroutine while virtual time
	// advanced: a timer firing (proto.actor's scheduler, a receive
	// timeout, a future's timeout). Actor is "timer", Target the
	// receiving actor, Message the message.
	EffectTimer EffectKind = "timer"
)

// Effect is one recorded action of a stepped actor, or a timer firing
// (EffectTimer: timers made with proto.actor's scheduler do not go through
// the context, so they are recorded when their message is queued).
type Effect struct {
	Kind    EffectKind
	Actor   string // who did it ("root" for the root context)
	Target  string // the PID acted on, if any
	Message any    // the response, for respond
	Timeout time.Duration
}

func (e Effect) String() string {
	switch e.Kind {
	case EffectRespond:
		return fmt.Sprintf("%s respond %T", e.Actor, e.Message)
	case EffectReceiveTimeout:
		return fmt.Sprintf("%s receive_timeout %s", e.Actor, e.Timeout)
	case EffectTimer:
		return fmt.Sprintf("timer → %s %T", e.Target, e.Message)
	}
	return fmt.Sprintf("%s %s %s", e.Actor, e.Kind, e.Target)
}

func (w *World) record(e Effect) {
	w.mu.Lock()
	w.effects = append(w.effects, e)
	w.mu.Unlock()
}

// Effects returns every effect recorded so far, in order.
func (w *World) Effects() []Effect {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Effect(nil), w.effects...)
}

// EffectsOf returns the effects of one kind.
func (w *World) EffectsOf(kind EffectKind) []Effect {
	var out []Effect
	for _, e := range w.Effects() {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

// recordingContext wraps a stepped actor's context to record its effects.
type recordingContext struct {
	actor.Context
	w *World
}

func (w *World) decorate(next actor.ContextDecoratorFunc) actor.ContextDecoratorFunc {
	return func(ctx actor.Context) actor.Context {
		return &recordingContext{Context: next(ctx), w: w}
	}
}

func (c *recordingContext) self() string { return c.Context.Self().Id }

func (c *recordingContext) Watch(pid *actor.PID) {
	c.w.record(Effect{Kind: EffectWatch, Actor: c.self(), Target: pid.Id})
	c.Context.Watch(pid)
}

func (c *recordingContext) Unwatch(pid *actor.PID) {
	c.w.record(Effect{Kind: EffectUnwatch, Actor: c.self(), Target: pid.Id})
	c.Context.Unwatch(pid)
}

func (c *recordingContext) Stop(pid *actor.PID) {
	c.w.record(Effect{Kind: EffectStop, Actor: c.self(), Target: pid.Id})
	c.Context.Stop(pid)
}

func (c *recordingContext) StopFuture(pid *actor.PID) *actor.Future {
	c.w.record(Effect{Kind: EffectStop, Actor: c.self(), Target: pid.Id})
	return c.Context.StopFuture(pid)
}

func (c *recordingContext) PoisonFuture(pid *actor.PID) *actor.Future {
	c.w.record(Effect{Kind: EffectPoison, Actor: c.self(), Target: pid.Id})
	return c.Context.PoisonFuture(pid)
}

func (c *recordingContext) Poison(pid *actor.PID) {
	c.w.record(Effect{Kind: EffectPoison, Actor: c.self(), Target: pid.Id})
	c.Context.Poison(pid)
}

func (c *recordingContext) Respond(response any) {
	c.w.record(Effect{Kind: EffectRespond, Actor: c.self(), Message: response})
	c.Context.Respond(response)
}

func (c *recordingContext) SetReceiveTimeout(d time.Duration) {
	c.w.record(Effect{Kind: EffectReceiveTimeout, Actor: c.self(), Timeout: d})
	c.Context.SetReceiveTimeout(d)
}

// RequestFuture remembers whom the future waits for, to name a
// ReenterAfter continuation on it.
func (c *recordingContext) RequestFuture(pid *actor.PID, message any, timeout time.Duration) *actor.Future {
	f := c.Context.RequestFuture(pid, message, timeout)
	c.w.mu.Lock()
	if c.w.futures == nil {
		c.w.futures = map[*actor.Future]string{}
	}
	c.w.futures[f] = pid.Id + " " + typeName(message)
	c.w.mu.Unlock()
	return f
}

// ReenterAfter pipes the future to a marker first: proto.actor completes
// a future's pipes just before its continuations, on the same goroutine,
// so the marker tells post which continuation comes next.
func (c *recordingContext) ReenterAfter(f *actor.Future, cont func(res any, err error)) {
	w := c.w
	w.mu.Lock()
	label, ok := w.futures[f]
	delete(w.futures, f)
	if !ok {
		label = f.PID().Id
	}
	w.markers++
	id := fmt.Sprintf("actortest-continuation-%d", w.markers)
	w.mu.Unlock()
	sys := c.ActorSystem()
	m := &contMarker{w: w, label: label, sys: sys}
	if pid, added := sys.ProcessRegistry.Add(m, id); added {
		m.pid = pid
		f.PipeTo(pid)
	}
	c.Context.ReenterAfter(f, cont)
}

// contMarker is a process that receives a future's result just before the
// future's continuations are posted.
type contMarker struct {
	w     *World
	label string
	sys   *actor.ActorSystem
	pid   *actor.PID
}

func (m *contMarker) SendUserMessage(_ *actor.PID, msg any) {
	label := m.label
	if msg == actor.ErrTimeout {
		label += " (timed out)"
	}
	m.w.mu.Lock()
	if m.w.contLabels == nil {
		m.w.contLabels = map[uint64]string{}
	}
	m.w.contLabels[goid()] = label
	m.w.mu.Unlock()
	m.sys.ProcessRegistry.Remove(m.pid)
}

func (m *contMarker) SendSystemMessage(pid *actor.PID, msg any) { m.SendUserMessage(pid, msg) }
func (m *contMarker) Stop(*actor.PID)                           {}

const continuationType = "*actor.continuation"

// isContinuation reports a ReenterAfter continuation (an unexported
// proto.actor type, recognised by name).
func isContinuation(msg any) bool {
	return msg != nil && reflect.TypeOf(msg).String() == continuationType
}
