package model_test

import (
	"fmt"
	"time"

	"github.com/armistice-go/armistice/model"
)

// ExampleStep walks a request through admission, two tokens and a cancel,
// executing the Append effects into a log as the actor shell does.
func ExampleStep() {
	start := time.Date(2025, time.March, 14, 9, 0, 0, 0, time.UTC)
	limits := model.Limits{
		QueueTimeout:      30 * time.Second,
		FirstTokenTimeout: 20 * time.Second,
		IdleTimeout:       30 * time.Second,
		PickupTimeout:     10 * time.Minute,
	}

	var log []model.Record
	run := func(name string, effects []model.Effect) {
		fmt.Printf("%s:", name)
		for _, e := range effects {
			switch e := e.(type) {
			case model.Append:
				log = append(log, e.Records...)
				fmt.Printf(" Append(%d)", len(e.Records))
			case model.ArmTimer:
				fmt.Printf(" ArmTimer(%s, g%d, %s)", e.Timer, e.Gen, e.After)
			default:
				fmt.Printf(" %T", e)
			}
		}
		fmt.Println()
	}

	l, effects := model.New(limits, start)
	run("new", effects)
	l, effects = model.Step(l, model.Admit{At: start.Add(time.Second)})
	run("admit", effects)
	l, effects = model.Step(l, model.Tokens{Texts: []string{"Hello", "", ", world"}, At: start.Add(2 * time.Second)})
	run("tokens", effects)
	l, effects = model.Step(l, model.Cancel{At: start.Add(3 * time.Second)})
	run("cancel", effects)
	l, effects = model.Step(l, model.Finish{Reason: model.ReasonStop, At: start.Add(4 * time.Second)})
	run("late finish", effects)

	fmt.Println("log:")
	for _, r := range log {
		fmt.Println(" ", r)
	}
	fmt.Printf("final: %s/%s/%s after %s\n", l.State, l.Status, l.Reason, l.FinishedAt.Sub(l.CreatedAt))
	// Output:
	// new: Append(1) ArmTimer(queue, g1, 30s)
	// admit: Append(1) model.StartProducer ArmTimer(first_token, g1, 20s)
	// tokens: Append(2) ArmTimer(idle, g1, 30s)
	// cancel: Append(1) model.StopProducer model.Finished model.CancelReply ArmTimer(pickup, g1, 10m0s)
	// late finish:
	// log:
	//   #1 state pending
	//   #2 state streaming
	//   #3 token "Hello"
	//   #4 token ", world"
	//   #5 end cancelled/cancelled/client_cancel tokens=2
	// final: cancelled/cancelled/client_cancel after 3s
}
