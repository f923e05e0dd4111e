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

// A delayed message goes behind what is queued for the same actor, so
// notes can arrive out of order: only the order check notices.
func TestDelayReorders(t *testing.T) {
	scenario := func(w *World) {
		var notes []string
		pid := w.Spawn(actor.PropsFromProducer(func() actor.Actor { return &journal{notes: &notes} }))
		w.Action("send all", nil, func() {
			for _, text := range []string{"a", "b", "c"} {
				w.Root.Send(pid, &note{text: text})
			}
		})
		w.InjectFaults(Faults{Delay: true, Rate: 0.5, Match: func(m any) bool { _, ok := m.(*note); return ok }})
		w.Eventually("notes in order", func() error {
			if got := strings.Join(notes, ""); got != "abc" {
				return fmt.Errorf("journal holds %q", got)
			}
			return nil
		})
	}
	rep := Search(t, scenario, Random(), 200)
	if rep.Failure == nil || !slices.ContainsFunc(rep.Failure.Trace, func(s string) bool { return strings.HasPrefix(s, "fault delay ") }) {
		t.Fatalf("delay never reordered the notes: %v", rep.Failure)
	}
	if f := Search(t, scenario, FIFO(), 1).Failure; f != nil {
		t.Fatalf("FIFO injects no fault, yet: %v", f)
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
