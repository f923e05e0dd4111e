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
	{"a stalled stream against its timeouts", stalledStream},
	{"a queue timeout against the promotion", queueTimeoutAgainstPromotion},
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
	// No timer runs here (no timeouts, retention beyond any run), so
	// time need not be a step while messages wait.
	w.Time = TimersWhenQuiet
	sup := engine(w, NewUpstream(w, Tokens("a")...), noTimeouts)
	first := NewClient(w, "first", sup, owner, spec("p1", model.OnDisconnectContinue), Submit, Attach, CancelOp)
	second := NewClient(w, "second", sup, owner, spec("p2", model.OnDisconnectContinue), Submit, Attach, CancelOp)
	third := NewClient(w, "third", sup, owner, spec("p3", model.OnDisconnectContinue), Submit, Attach)
	checks(w, sup, []*Client{first}, first)
	checks(w, sup, []*Client{second}, second)
	checks(w, sup, []*Client{third})
}

// A stream that stalls after two tokens, with short first-token, idle
// and deadline timeouts: the timers race the tokens and the end, and a
// late reader reads the whole log.
func stalledStream(w *World) {
	const firstToken, idle, deadline = 40 * time.Second, 30 * time.Second, time.Minute
	up := NewUpstream(w, UpStep{Text: "a"}, UpStep{Text: "b"})
	sup := engine(w, up, func(c *actors.Config) {
		c.QueueTimeout, c.FirstTokenTimeout, c.IdleTimeout, c.MaxDuration = 0, firstToken, idle, deadline
	})
	reader := NewClient(w, "reader", sup, owner, spec("p", model.OnDisconnectContinue), Submit, Attach)
	late := NewClient(w, "late", sup, owner, actors.Spec{}, Attach)
	late.Follow(reader)
	checks(w, sup, []*Client{reader, late})
	timeoutChecks(w, sup, up, idle, map[string]*Client{"p": reader}, late)
}

// One slot: the second request waits for it with a 10 s queue timeout,
// which races the promotion when the first one completes.
func queueTimeoutAgainstPromotion(w *World) {
	up := NewUpstream(w, Tokens("a")...)
	sup := engine(w, up, func(c *actors.Config) {
		c.MaxActive, c.QueueTimeout, c.FirstTokenTimeout, c.IdleTimeout, c.MaxDuration = 1, 10*time.Second, 0, 0, 0
	})
	first := NewClient(w, "first", sup, owner, spec("p1", model.OnDisconnectContinue), Submit, Attach)
	second := NewClient(w, "second", sup, owner, spec("p2", model.OnDisconnectContinue), Submit, Attach)
	checks(w, sup, []*Client{first})
	checks(w, sup, []*Client{second})
	timeoutChecks(w, sup, up, 0, map[string]*Client{"p1": first, "p2": second})
}

// timeoutChecks: an end for a timeout must be true. A first-token timeout
// comes with no token in the log, a queue timeout before any admission,
// and an idle timeout a full idle (the IdleTimeout) after the last token
// (readers maps each stream, named by its prompt, to its reader).
func timeoutChecks(w *World, sup *actor.PID, up *Upstream, idle time.Duration, readers map[string]*Client, others ...*Client) {
	all := others
	for _, c := range readers {
		all = append(all, c)
	}
	w.Invariant("timeouts tell the truth", func() error {
		for _, c := range all {
			end := c.End()
			if end == nil {
				continue
			}
			for _, r := range c.Records() {
				switch {
				case end.Reason == model.ReasonFirstTokenTimeout && r.Kind == model.KindToken:
					return errorf("%s: first_token_timeout after token %v", c.Name, r)
				case end.Reason == model.ReasonQueueTimeout && r.Kind == model.KindState && r.State == model.StateStreaming:
					return errorf("%s: queue_timeout after the request was admitted", c.Name)
				}
			}
		}
		return nil
	})
	w.Eventually("an idle timeout comes a full IdleTimeout after the last token", func() error {
		for stream, c := range readers {
			end := c.End()
			if end == nil || end.Reason != model.ReasonIdleTimeout {
				continue
			}
			a, err := w.Ask(sup, &actors.GetStatus{ID: c.ID, Owner: owner})
			if err != nil {
				return err
			}
			snap, ok := a.(*actors.Snapshot)
			if !ok {
				return errorf("status of %s: %v", c.ID, a)
			}
			// The last token in the log was sent no later than it was
			// appended, so the request was idle at least FinishedAt - sent.
			var last string
			for _, r := range c.Records() {
				if r.Kind == model.KindToken {
					last = r.Text
				}
			}
			for _, p := range up.Played() {
				if p.Stream == stream && p.Step.Text == last && last != "" {
					if gap := snap.FinishedAt.Sub(p.At); gap < idle {
						return errorf("%s failed idle_timeout %s after its token %q", c.Name, gap, last)
					}
				}
			}
		}
		return nil
	})
}
