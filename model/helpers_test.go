package model

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// t0 is the fixed creation time of every test request; at(s) is s seconds
// later.
var t0 = time.Date(2025, time.March, 14, 9, 26, 53, 0, time.UTC)

func at(seconds int) time.Time { return t0.Add(time.Duration(seconds) * time.Second) }

// testLimits has every timeout enabled, with distinct durations so the
// rendered ArmTimer effects tell them apart.
var testLimits = Limits{
	QueueTimeout:      10 * time.Second,
	FirstTokenTimeout: 20 * time.Second,
	IdleTimeout:       30 * time.Second,
	MaxDuration:       5 * time.Minute,
	OnDisconnect:      OnDisconnectContinue,
	DetachGrace:       5 * time.Second,
	Linger:            time.Minute,
	PickupTimeout:     10 * time.Minute,
}

// setup is a realistic lifecycle: New with limits at t0, then events
// applied with Step.
type setup struct {
	limits Limits
	events []Event
}

// The comments below give each setup's timer generations; a timer marked
// * is armed (running), the others are not. A timer never armed has
// generation 0 and is not armed; disarming an unarmed timer changes
// nothing.

// givenPending: New only. LastSeq 1; gens queue=1*.
func givenPending() setup { return setup{limits: testLimits} }

// givenStreaming: admitted at 1s, no token yet. LastSeq 2; gens queue=2
// first_token=1* deadline=1*.
func givenStreaming() setup { return givenPending().then(Admit{At: at(1)}) }

// givenStreamingWithToken: one token "a" at 2s. LastSeq 3; gens queue=2
// first_token=2 idle=1* deadline=1*.
func givenStreamingWithToken() setup {
	return givenStreaming().then(Tokens{Texts: []string{"a"}, At: at(2)})
}

// givenCancelled: cancelled at 3s after one token, nobody attached. LastSeq
// 4; gens queue=2 first_token=2 idle=2 deadline=2 detach_grace=0 linger=0
// pickup=1*.
func givenCancelled() setup { return givenStreamingWithToken().then(Cancel{At: at(3)}) }

// givenDone: completed (stop) at 3s after one token, nobody attached; same
// seqs and gens as givenCancelled.
func givenDone() setup {
	return givenStreamingWithToken().then(Finish{Reason: ReasonStop, At: at(3)})
}

func (s setup) then(evs ...Event) setup {
	s.events = append(slices.Clip(s.events), evs...)
	return s
}

func (s setup) with(f func(*Limits)) setup {
	f(&s.limits)
	return s
}

func cancelOnDisconnect(l *Limits) { l.OnDisconnect = OnDisconnectCancel }

func (s setup) build() Lifecycle {
	l, _ := New(s.limits, t0)
	for _, ev := range s.events {
		l, _ = Step(l, ev)
	}
	return l
}

// cloneLifecycle copies l deeply enough for reflect.DeepEqual to notice any
// mutation through its Usage pointer.
func cloneLifecycle(l Lifecycle) Lifecycle {
	if l.Usage != nil {
		u := *l.Usage
		l.Usage = &u
	}
	if l.Upstream != nil {
		u := *l.Upstream
		l.Upstream = &u
	}
	return l
}

// renderEffects is a compact, exact rendering of effects, e.g.
// `append[#3 token "a"] arm(idle,g1,30s)`.
func renderEffects(effects []Effect) string {
	parts := make([]string, 0, len(effects))
	for _, e := range effects {
		parts = append(parts, renderEffect(e))
	}
	return strings.Join(parts, " ")
}

func renderEffect(e Effect) string {
	switch e := e.(type) {
	case Append:
		rs := make([]string, len(e.Records))
		for i, r := range e.Records {
			rs[i] = renderRecord(r)
		}
		return "append[" + strings.Join(rs, ", ") + "]"
	case StartProducer:
		return "start"
	case StopProducer:
		return "stop"
	case ArmTimer:
		return fmt.Sprintf("arm(%s,g%d,%s)", e.Timer, e.Gen, e.After)
	case Finished:
		return "finished(" + renderEnd(e.End) + ")"
	case CancelReply:
		if e.AlreadyFinished {
			return "reply(already_finished)"
		}
		return "reply"
	case StopSelf:
		return "stopself"
	}
	return fmt.Sprintf("%T%+v", e, e)
}

func renderRecord(r Record) string {
	if r.Kind == KindEnd && r.End != nil {
		return fmt.Sprintf("#%d end %s", r.Seq, renderEnd(*r.End))
	}
	return r.String()
}

func renderEnd(e End) string {
	s := fmt.Sprintf("%s/%s/%s tokens=%d", e.State, e.Status, e.Reason, e.Tokens)
	if e.Message != "" {
		s += fmt.Sprintf(" msg=%q", e.Message)
	}
	if e.Usage != nil {
		s += fmt.Sprintf(" usage=%d/%d", e.Usage.PromptTokens, e.Usage.CompletionTokens)
	}
	return s
}

func renderEvent(ev Event) string {
	if ev == nil {
		return "<nil>"
	}
	off := func(t time.Time) string { return "@" + t.Sub(t0).String() }
	switch ev := ev.(type) {
	case Admit:
		return "Admit" + off(ev.At)
	case Tokens:
		if len(ev.Parts) > 0 {
			ps := make([]string, len(ev.Parts))
			for i, p := range ev.Parts {
				ps[i] = Record{Kind: p.Kind, Text: p.Text, ToolCall: p.ToolCall}.String()
			}
			return fmt.Sprintf("Tokens%q+%q%s", ev.Texts, ps, off(ev.At))
		}
		return fmt.Sprintf("Tokens%q%s", ev.Texts, off(ev.At))
	case Finish:
		u := ""
		if ev.Usage != nil {
			u = fmt.Sprintf(",usage=%d/%d", ev.Usage.PromptTokens, ev.Usage.CompletionTokens)
		}
		return fmt.Sprintf("Finish(%s%s)%s", ev.Reason, u, off(ev.At))
	case Fail:
		return fmt.Sprintf("Fail(%s,%q)%s", ev.Reason, ev.Message, off(ev.At))
	case Cancel:
		return "Cancel" + off(ev.At)
	case Attach:
		return "Attach" + off(ev.At)
	case Detach:
		return fmt.Sprintf("Detach(gotEnd=%t)%s", ev.GotEnd, off(ev.At))
	case EndDelivered:
		return "EndDelivered" + off(ev.At)
	case TimerFired:
		return fmt.Sprintf("Fire(%s,g%d)%s", ev.Timer, ev.Gen, off(ev.At))
	}
	return fmt.Sprintf("%T%+v", ev, ev)
}

// wantTimer checks one timer's generation and whether it is armed.
func wantTimer(tm Timer, gen uint32, armed bool) func(*testing.T, Lifecycle) {
	return func(t *testing.T, l Lifecycle) {
		t.Helper()
		if l.Gens[tm] != gen || l.Armed[tm] != armed {
			t.Errorf("%s gen, armed = %d, %t; want %d, %t", tm, l.Gens[tm], l.Armed[tm], gen, armed)
		}
	}
}

// checkAll runs each check in turn.
func checkAll(checks ...func(*testing.T, Lifecycle)) func(*testing.T, Lifecycle) {
	return func(t *testing.T, l Lifecycle) {
		t.Helper()
		for _, c := range checks {
			c(t, l)
		}
	}
}

// wantCounts checks the subscriber accounting of a lifecycle.
func wantCounts(attached, endPending int, pickedUp bool) func(*testing.T, Lifecycle) {
	return func(t *testing.T, l Lifecycle) {
		t.Helper()
		if l.Attached != attached || l.EndPending != endPending || l.PickedUp != pickedUp {
			t.Errorf("Attached, EndPending, PickedUp = %d, %d, %t; want %d, %d, %t",
				l.Attached, l.EndPending, l.PickedUp, attached, endPending, pickedUp)
		}
	}
}
