package actortest_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	. "github.com/armistice-go/armistice/actors/actortest"
	"github.com/asynkron/protoactor-go/actor"
)

type note struct{ text string }

// journal is a user actor that keeps the notes it receives, in order.
type journal struct{ notes *[]string }

func (j *journal) Receive(c actor.Context) {
	if n, ok := c.Message().(*note); ok {
		*j.notes = append(*j.notes, n.text)
	}
}

// journalScenario sends three notes to a journal and expects each exactly
// once; faults of the given kind may hit the notes.
func journalScenario(faults Faults) Scenario {
	return func(w *World) {
		var notes []string
		pid := w.Spawn(actor.PropsFromProducer(func() actor.Actor { return &journal{notes: &notes} }))
		for _, text := range []string{"a", "b", "c"} {
			w.Action("send "+text, nil, func() { w.Root.Send(pid, &note{text: text}) })
		}
		faults.Match = func(m any) bool { _, ok := m.(*note); return ok }
		w.InjectFaults(faults)
		w.Eventually("each note exactly once", func() error {
			// The three sends are separate moves, so any order is fine.
			if got := strings.Join(slices.Sorted(slices.Values(notes)), ""); got != "abc" {
				return fmt.Errorf("journal holds %q", strings.Join(notes, ""))
			}
			return nil
		})
	}
}

func TestFaultsAreInjectedAndTraced(t *testing.T) {
	for _, tc := range []struct {
		kind   string
		faults Faults
	}{
		{"drop", Faults{Drop: true, Rate: 0.5}},
		{"duplicate", Faults{Duplicate: true, Rate: 0.5}},
		{"panic", Faults{Panic: true, Rate: 0.5}}, // the default strategy restarts the journal: its notes survive, the note is lost
	} {
		t.Run(tc.kind, func(t *testing.T) {
			rep := Search(t, journalScenario(tc.faults), Random(), 300)
			if rep.Failure == nil {
				t.Fatalf("no %s fault broke the journal in %d schedules", tc.kind, rep.Schedules)
			}
			if !errors.Is(rep.Failure, ErrLiveness) || !slices.ContainsFunc(rep.Failure.Trace, func(s string) bool {
				return strings.HasPrefix(s, "fault "+tc.kind+" ")
			}) {
				t.Fatalf("failure without a traced %s fault:\n%v", tc.kind, rep.Failure)
			}
		})
	}
}

// A delayed message goes behind what other senders queued for the same
// actor, never behind its own sender's later messages: proto.actor keeps
// each sender's order into a mailbox, so a fault that broke it would be a
// false alarm.
func TestDelayKeepsEachSendersOrder(t *testing.T) {
	scenario := func(senders int) Scenario {
		return func(w *World) {
			var notes []string
			pid := w.Spawn(actor.PropsFromProducer(func() actor.Actor { return &journal{notes: &notes} }))
			texts := []string{"a", "b", "c", "d"}
			for i := range senders {
				w.Action(fmt.Sprintf("sender %d", i), nil, func() {
					for j := i; j < len(texts); j += senders {
						w.Root.Send(pid, &note{text: texts[j]})
					}
				})
			}
			w.InjectFaults(Faults{Delay: true, Rate: 0.5, Match: func(m any) bool { _, ok := m.(*note); return ok }})
			w.Eventually("each sender's notes in order", func() error {
				last := map[int]int{}
				for _, n := range notes {
					i := slices.Index(texts, n)
					if prev, ok := last[i%senders]; ok && prev > i {
						return fmt.Errorf("journal holds %q", strings.Join(notes, ""))
					}
					last[i%senders] = i
				}
				return nil
			})
		}
	}
	// One sender: no delay is possible at all.
	rep := Search(t, scenario(1), Random(), 200)
	if rep.Failure != nil {
		t.Fatalf("one sender's notes were reordered: %v", rep.Failure)
	}
	// Two senders: delays happen, and still each sender's order holds.
	delayed := 0
	for seed := uint64(1); seed <= 100; seed++ {
		f := Search(t, func(w *World) {
			scenario(2)(w)
			w.Eventually("a delay was injected", func() error {
				if slices.ContainsFunc(w.Trace(), func(s string) bool { return strings.HasPrefix(s, "fault delay ") }) {
					delayed++
				}
				return nil
			})
		}, Random(), 1, StartSeed(seed)).Failure
		if f != nil {
			t.Fatalf("a delay broke a sender's order: %v", f)
		}
	}
	if delayed == 0 {
		t.Fatal("no delay was injected in 100 schedules with two senders")
	}
}

// With two senders a delay does reorder messages: what one sender queued
// may come after what the other queued later.
func TestDelayReordersAcrossSenders(t *testing.T) {
	scenario := func(w *World) {
		var notes []string
		pid := w.Spawn(actor.PropsFromProducer(func() actor.Actor { return &journal{notes: &notes} }))
		sent := false
		w.Action("send a", nil, func() { sent = true; w.Root.Send(pid, &note{text: "a"}) })
		w.Action("send b", func() bool { return sent }, func() { w.Root.Send(pid, &note{text: "b"}) })
		w.InjectFaults(Faults{Delay: true, Rate: 0.5, Match: func(m any) bool { _, ok := m.(*note); return ok }})
		w.Eventually("a before b", func() error {
			if got := strings.Join(notes, ""); got != "ab" {
				return fmt.Errorf("journal holds %q", got)
			}
			return nil
		})
	}
	rep := Search(t, scenario, Random(), 200)
	if rep.Failure == nil || !slices.ContainsFunc(rep.Failure.Trace, func(s string) bool { return strings.HasPrefix(s, "fault delay ") }) {
		t.Fatalf("delay never reordered the two senders: %v", rep.Failure)
	}
}

// The fault budget bounds faults per schedule.
func TestFaultBudget(t *testing.T) {
	scenario := func(w *World) {
		var notes []string
		pid := w.Spawn(actor.PropsFromProducer(func() actor.Actor { return &journal{notes: &notes} }))
		w.Action("send all", nil, func() {
			for _, text := range []string{"a", "b", "c", "d", "e"} {
				w.Root.Send(pid, &note{text: text})
			}
		})
		w.InjectFaults(Faults{Drop: true, Rate: 1, Budget: 2, Match: func(m any) bool { _, ok := m.(*note); return ok }})
		w.Eventually("at most two notes lost", func() error {
			if len(notes) < 3 {
				return fmt.Errorf("only %d notes kept", len(notes))
			}
			return nil
		})
	}
	if f := Search(t, scenario, Random(), 100).Failure; f != nil {
		t.Fatalf("more faults than the budget: %v", f)
	}
}
