package actortest_test

import (
	"testing"

	. "github.com/armistice-go/armistice/actors/actortest"
	"github.com/asynkron/protoactor-go/actor"
)

type askQuestion struct{ n int }
type askAnswer struct{ n int }

// Ask steps the world until the answer arrives, through as many actors as
// it takes, and reports an actor that never answers.
func TestAskStepsUntilTheAnswer(t *testing.T) {
	RunStep(t, func(w *World) {
		doubler := w.Spawn(actor.PropsFromFunc(func(c actor.Context) {
			if q, ok := c.Message().(*askQuestion); ok {
				c.Respond(&askAnswer{n: 2 * q.n})
			}
		}))
		front := w.Spawn(actor.PropsFromFunc(func(c actor.Context) {
			if _, ok := c.Message().(*askQuestion); ok {
				c.Forward(doubler) // the answer comes from another actor
			}
		}))
		a, err := w.Ask(front, &askQuestion{n: 21})
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := a.(*askAnswer); !ok || got.n != 42 {
			t.Fatalf("answer = %#v", a)
		}
		silent := w.Spawn(actor.PropsFromFunc(func(actor.Context) {}))
		if _, err := w.Ask(silent, &askQuestion{n: 1}); err == nil {
			t.Fatal("an actor that never answers must give an error")
		}
	})
}
