package actortest_test

import (
	"testing"
	"time"

	. "github.com/armistice-go/armistice/actors/actortest"
	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/scheduler"
)

type ping struct{}

// A timer started with proto.actor's scheduler is recorded when it fires,
// and its message waits for a step like any other.
func TestTimerFiringIsRecordedAndWaitsForAStep(t *testing.T) {
	RunStep(t, func(w *World) {
		pings := 0
		pid := w.Spawn(actor.PropsFromFunc(func(c actor.Context) {
			switch c.Message().(type) {
			case *actor.Started:
				scheduler.NewTimerScheduler(c.ActorSystem().Root).SendOnce(5*time.Second, c.Self(), &ping{})
			case *ping:
				pings++
			}
		}))
		w.RunUntilQuiet()
		w.Advance(4 * time.Second)
		if got := len(w.EffectsOf(EffectTimer)); got != 0 {
			t.Fatalf("%d timer effects before the timer is due", got)
		}
		w.Advance(time.Second)
		timers := w.EffectsOf(EffectTimer)
		if len(timers) != 1 || timers[0].Target != pid.Id {
			t.Fatalf("timer effects = %v", timers)
		}
		if _, ok := timers[0].Message.(*ping); !ok {
			t.Fatalf("timer message = %T", timers[0].Message)
		}
		if pings != 0 {
			t.Fatal("the timer's message was delivered without a step")
		}
		w.RunUntilQuiet()
		if pings != 1 {
			t.Fatalf("pings after stepping = %d", pings)
		}
	})
}
