//go:build unix

package actortest_test

import (
	"syscall"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/armistice-go/armistice/actors/actortest"
	"github.com/armistice-go/armistice/internal/race"
)

// twentySteps is a scenario whose FIFO schedule has exactly 20 steps: an
// actor starts, a move sends it 17 messages, it handles them, and time
// finds no timer.
func twentySteps(w *actortest.World) {
	n := 0
	pid := w.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		if _, ok := c.Message().(parcel); ok {
			n++
		}
	}))
	w.Action("send", nil, func() {
		for i := range 17 {
			w.Root.Send(pid, parcel(i))
		}
	})
}

func TestTwentyStepScenarioHasTwentySteps(t *testing.T) {
	var steps int
	f := actortest.Search(t, func(w *actortest.World) {
		twentySteps(w)
		w.Eventually("count", func() error { steps = len(w.Trace()); return nil })
	}, actortest.FIFO(), 1).Failure
	if f != nil || steps != 20 {
		t.Fatalf("steps = %d, failure %v", steps, f)
	}
}

// TestScheduleRate measures whole schedules of the 20-step scenario per
// second (each a fresh actor system in a fresh bubble), the figure
// docs/testing.md publishes. Search needs a *testing.T (synctest does), so
// this is a test, not a benchmark (without -race: under the detector it
// runs 30 schedules each, and its rates are not the published ones):
//
//	go test -count=1 -run '^TestScheduleRate$' -v ./actors/actortest/
func TestScheduleRate(t *testing.T) {
	n := race.Schedules(300)
	for _, st := range []actortest.Strategy{actortest.FIFO(), actortest.Random(), actortest.PCT(3)} {
		start, cpu0 := time.Now(), cpuTime()
		rep := actortest.Search(t, twentySteps, st, n)
		if rep.Failure != nil {
			t.Fatal(rep.Failure)
		}
		d, cpu := time.Since(start), cpuTime()-cpu0
		t.Logf("%-7s %d schedules (up to %d steps) in %s: %.0f schedules/s; %.0f per CPU-second",
			st, n, rep.MaxSteps, d.Round(time.Millisecond), float64(n)/d.Seconds(), float64(n)/cpu.Seconds())
	}
}

// cpuTime is the process's user and system CPU time so far: a rate per
// CPU-second does not depend on what else the machine runs.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
