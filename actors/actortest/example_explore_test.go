package actortest_test

import (
	"fmt"
	"testing"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/armistice-go/armistice/actors/actortest"
)

// A ticket office, a tiny user actor: it sells its seats to whoever asks
// first and answers soldOut afterwards.
type (
	buy     struct{}
	sold    struct{}
	soldOut struct{}
)

func ticketOffice(seats int) *actor.Props {
	return actor.PropsFromFunc(func(ctx actor.Context) {
		if _, ok := ctx.Message().(buy); ok {
			if seats == 0 {
				ctx.Respond(soldOut{})
				return
			}
			seats--
			ctx.Respond(sold{})
		}
	})
}

// exploreExample is Example_explore's test body; TestExample_explore
// runs it.
var exploreExample func(t *testing.T)

// Example_explore checks that two buyers racing for the last seat never
// both get it, under 200 schedules (message orders and the moments the
// buyers act). Explore needs a *testing.T, so the example is a test body:
// TestExample_explore runs exactly this code.
func Example_explore() {
	exploreExample = func(t *testing.T) {
		lastSeat := func(w *actortest.World) { // runs once per schedule, in a fresh world
			office := w.Spawn(ticketOffice(1))
			answers := map[string]any{}
			for _, name := range []string{"alice", "bob"} {
				buyer := w.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
					switch m := ctx.Message().(type) {
					case sold, soldOut:
						answers[name] = m
					}
				}))
				// A move: the strategy decides when the buyer asks.
				w.Action(name+" buys", nil, func() { w.Root.RequestWithCustomSender(office, buy{}, buyer) })
			}
			w.Eventually("one seat, one buyer", func() error { // checked once the world is quiet
				if len(answers) != 2 || (answers["alice"] == sold{}) == (answers["bob"] == sold{}) {
					return fmt.Errorf("answers: %v", answers)
				}
				return nil
			})
		}
		actortest.Explore(t, lastSeat, actortest.Random(), 100)
		actortest.Explore(t, lastSeat, actortest.PCT(3), 100)
	}
}

func TestExample_explore(t *testing.T) {
	Example_explore()
	exploreExample(t)
}
