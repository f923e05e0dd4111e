package actortest_test

import (
	"time"

	"github.com/armistice-go/armistice/actors"
	. "github.com/armistice-go/armistice/actors/actortest"
	"github.com/armistice-go/armistice/model"
	"github.com/asynkron/protoactor-go/actor"
)

// The engine's race scenarios, each explored under many schedules by
// scenarios_explore_test.go and used by the mutation check.
var scenarios = []struct {
	name string
	run  Scenario
}{
	{"cancel between two tokens", cancelBetweenTokens},
	{"disconnect during the final end", disconnectDuringEnd},
	{"cancel then re-attach", cancelThenReattach},
	{"completion and cancel together", completionAndCancel},
	{"panic mid-stream", panicMidStream},
	{"slow subscriber", slowSubscriber},
	{"drain during streaming", drainDuringStreaming},
	{"upstream error and cancel together", errorAndCancel},
	{"cancels around a queue promotion", queuePromotion},
}

func cancelBetweenTokens(w *World) {
	sup := engine(w, NewUpstream(w, Tokens("a", "b", "c")...), nil)
	reader := NewClient(w, "reader", sup, owner, spec("p", model.OnDisconnectContinue), Submit, Attach)
	canceller := NewClient(w, "canceller", sup, owner, actors.Spec{}, CancelOp)
	canceller.Follow(reader)
	checks(w, sup, []*Client{reader}, canceller)
}

func disconnectDuringEnd(w *World) {
	sup := engine(w, NewUpstream(w, Tokens("a", "b")...), nil)
	reader := NewClient(w, "reader", sup, owner, spec("p", model.OnDisconnectContinue), Submit, Attach, Vanish)
	late := NewClient(w, "late", sup, owner, actors.Spec{}, Attach)
	late.Follow(reader)
	checks(w, sup, []*Client{reader, late})
	w.Invariant("continue: a disconnect never cancels", func() error {
		if end := late.End(); end != nil && end.Reason == model.ReasonClientDisconnected {
			return errorf("ended %s/%s under on_disconnect=continue", end.Status, end.Reason)
		}
		return nil
	})
}

func cancelThenReattach(w *World) {
	sup := engine(w, NewUpstream(w, Tokens("a", "b", "c")...), nil)
	reader := NewClient(w, "reader", sup, owner, spec("p", model.OnDisconnectContinue), Submit, AttachRead(3), CancelOp, Detach, Attach)
	checks(w, sup, []*Client{reader}, reader)
}

func completionAndCancel(w *World) {
	sup := engine(w, NewUpstream(w, Tokens("a")...), nil)
	reader := NewClient(w, "reader", sup, owner, spec("p", model.OnDisconnectContinue), Submit, Attach)
	first := NewClient(w, "cancel-1", sup, owner, actors.Spec{}, CancelOp)
	second := NewClient(w, "cancel-2", sup, owner, actors.Spec{}, CancelOp)
	first.Follow(reader)
	second.Follow(reader)
	checks(w, sup, []*Client{reader}, first, second)
}

func panicMidStream(w *World) {
	up := NewUpstream(w, Tokens("a", "b", "c")...)
	sup := engine(w, up, nil)
	reader := NewClient(w, "reader", sup, owner, spec("p", model.OnDisconnectContinue), Submit, Attach)
	w.InjectFaults(Faults{Panic: true, Rate: 0.2, Match: func(m any) bool { _, ok := m.(*actors.Pull); return ok }})
	checks(w, sup, []*Client{reader})
	w.Invariant("a crash never replays the call", func() error {
		if up.Opened() > 1 {
			return errorf("the upstream was called %d times", up.Opened())
		}
		return nil
	})
}

func slowSubscriber(w *World) {
	sup := engine(w, NewUpstream(w, Tokens("a", "b", "c", "d", "e", "f")...), nil)
	slow := NewClient(w, "slow", sup, owner, spec("p", model.OnDisconnectContinue), Submit, AttachRead(3), ReadMore)
	fast := NewClient(w, "fast", sup, owner, actors.Spec{}, Attach)
	fast.Follow(slow)
	checks(w, sup, []*Client{slow, fast})
}

func drainDuringStreaming(w *World) {
	const grace = 10 * time.Second
	// The grace is checked from the moment the drain is sent, which holds
	// only when a queued message is handled before time passes.
	w.Time = TimersWhenQuiet
	// The answer stalls after two tokens: only the drain (or a timeout) ends it.
	sup := engine(w, NewUpstream(w, UpStep{Text: "a"}, UpStep{Text: "b"}), nil)
	reader := NewClient(w, "reader", sup, owner, spec("p", model.OnDisconnectContinue), Submit, Attach)
	var asked, drained time.Time
	drainer := w.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		if _, ok := c.Message().(*actors.Drained); ok {
			drained = time.Now()
		}
	}))
	w.Action("drain", func() bool { return reader.ID != "" }, func() {
		asked = time.Now()
		w.Root.RequestWithCustomSender(sup, &actors.Drain{Grace: grace}, drainer)
	})
	checks(w, sup, []*Client{reader})
	inGrace := func() error {
		if !asked.IsZero() && ((drained.IsZero() && time.Since(asked) > grace) || drained.Sub(asked) > grace) {
			return errorf("asked to drain at %s with grace %s, drained at %s", asked, grace, drained)
		}
		return nil
	}
	w.Invariant("drain ends within its grace", inGrace)
	w.Eventually("drain ended within its grace", inGrace)
}

func errorAndCancel(w *World) {
	sup := engine(w, NewUpstream(w, UpStep{Text: "a"}, UpStep{Err: errorf("connection reset")}), nil)
	reader := NewClient(w, "reader", sup, owner, spec("p", model.OnDisconnectContinue), Submit, Attach)
	canceller := NewClient(w, "canceller", sup, owner, actors.Spec{}, CancelOp)
	canceller.Follow(reader)
	checks(w, sup, []*Client{reader}, canceller)
}

// One slot, three requests: the first two are cancelled at any moment
// (while running, while queued, while being promoted); the third must
// still get the slot and finish.
func queuePromotion(w *World) {
	noTimeouts := func(c *actors.Config) {
		c.MaxActive, c.QueueTimeout, c.FirstTokenTimeout, c.IdleTimeout, c.MaxDuration = 1, 0, 0, 0, 0
	}
	sup := engine(w, NewUpstream(w, Tokens("a")...), noTimeouts)
	first := NewClient(w, "first", sup, owner, spec("p1", model.OnDisconnectContinue), Submit, Attach, CancelOp)
	second := NewClient(w, "second", sup, owner, spec("p2", model.OnDisconnectContinue), Submit, Attach, CancelOp)
	third := NewClient(w, "third", sup, owner, spec("p3", model.OnDisconnectContinue), Submit, Attach)
	checks(w, sup, []*Client{first}, first)
	checks(w, sup, []*Client{second}, second)
	checks(w, sup, []*Client{third})
}
