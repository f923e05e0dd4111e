package actortest_test

import (
	"testing"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/armistice-go/armistice/actors/actortest"
)

// A turnstile, a tiny user actor: a coin unlocks it, a push through an
// unlocked turnstile lets one visitor in and locks it again.
type (
	coin      struct{}
	push      struct{}
	turnstile struct {
		locked   bool
		visitors int
	}
)

func (ts *turnstile) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
	case *actor.Started:
		ts.locked = true
	case coin:
		ts.locked = false
	case push:
		if !ts.locked {
			ts.visitors++
			ts.locked = true
		}
	}
}

func isCoin(m any) bool { _, ok := m.(coin); return ok }

// stepExample is Example_step's test body; TestExample_step runs it.
var stepExample func(t *testing.T)

// Example_step drives a turnstile one message at a time. Step mode runs in
// a testing/synctest bubble, which needs a *testing.T, so the example is a
// test body: TestExample_step runs exactly this code.
func Example_step() {
	stepExample = func(t *testing.T) {
		actortest.RunStep(t, func(w *actortest.World) {
			gate := &turnstile{}
			pid, _ := w.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return gate }), "gate")
			w.Step() // *actor.Started: nothing runs until the world steps

			// Sent push, coin; delivered coin first (a reordering).
			w.Root.Send(pid, push{})
			w.Root.Send(pid, coin{})
			w.Deliver(pid, isCoin)
			w.Step()
			if gate.visitors != 1 { // actor state is safe to read between steps
				t.Errorf("visitors = %d, want 1", gate.visitors)
			}

			// Hold coins back: the push finds the gate locked.
			w.Hold(isCoin)
			w.Root.Send(pid, coin{})
			w.Root.Send(pid, push{})
			w.RunUntilQuiet()
			w.Release(nil) // the coin comes late, at the tail
			w.RunUntilQuiet()
			if gate.visitors != 1 || gate.locked {
				t.Errorf("visitors = %d, locked = %v; want 1, false", gate.visitors, gate.locked)
			}
			t.Logf("trace: %q", w.Trace())
		})
	}
}

func TestExample_step(t *testing.T) {
	Example_step()
	stepExample(t)
}
