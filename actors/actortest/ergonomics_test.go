package actortest_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/armistice-go/armistice/actors/actortest"
)

// A ReenterAfter continuation is named in the trace by the actor that
// awaits it and by the target of its future.
func TestContinuationIsNamedInTheTrace(t *testing.T) {
	var got []any
	var trace []string
	scenario := func(w *actortest.World) {
		askerScenario(false, &got)(w)
		w.Eventually("record", func() error { trace = w.Trace(); return nil })
	}
	if f := actortest.Search(t, scenario, actortest.FIFO(), 1).Failure; f != nil {
		t.Fatal(f)
	}
	want := "deliver asker system continuation ← oracle actortest_test.question"
	if !slices.Contains(trace, want) {
		t.Errorf("no %q in the trace:\n%q", want, trace)
	}
}

// A continuation whose future timed out says so.
func TestTimedOutContinuationIsNamed(t *testing.T) {
	actortest.RunStep(t, func(w *actortest.World) {
		t := w.T
		silent := spawnNamed(w, actor.PropsFromFunc(func(actor.Context) {}), "silent")
		var gotErr error
		spawnNamed(w, actor.PropsFromFunc(func(c actor.Context) {
			if _, ok := c.Message().(*actor.Started); ok {
				c.ReenterAfter(c.RequestFuture(silent, question{}, time.Second), func(_ any, err error) { gotErr = err })
			}
		}), "waiter")
		w.RunUntilQuiet()
		w.Advance(time.Second)
		expectList(t, "pending", typesOf(w.Pending()), []string{"waiter system continuation ← silent actortest_test.question (timed out)"})
		w.RunUntilQuiet()
		if gotErr != actor.ErrTimeout {
			t.Errorf("continuation got %v", gotErr)
		}
	})
}

// Pending says each message's type, and prints its fields.
func TestPendingShowsTypes(t *testing.T) {
	actortest.RunStep(t, func(w *actortest.World) {
		t := w.T
		pid := spawnNamed(w, actor.PropsFromProducer(func() actor.Actor { return &account{} }), "account")
		w.Root.Send(pid, deposit{Amount: 50})
		p := w.Pending()
		var s []string
		for _, e := range p {
			s = append(s, e.String())
		}
		expectList(t, "pending", s, []string{"account system *actor.Started", "account actortest_test.deposit {Amount:50}"})
		if p[1].Type != "actortest_test.deposit" {
			t.Errorf("Type = %q", p[1].Type)
		}
	})
}

// The replay command names the package and the test, subtest included.
func TestReplayCommandIsComplete(t *testing.T) {
	t.Run("sub case", func(t *testing.T) {
		want := `ACTORTEST_SEED=7 go test ./actors/actortest -run '^TestReplayCommandIsComplete$/^sub_case$'`
		if got := actortest.ReplayCommand(t, 7); got != want {
			t.Errorf("ReplayCommand =\n %s\nwant\n %s", got, want)
		}
	})
}

func typesOf(ps []actortest.Pending) []string {
	var out []string
	for _, p := range ps {
		s := p.Actor + " "
		if p.System {
			s += "system "
		}
		out = append(out, s+p.Type)
	}
	return out
}

// StartSeed and Count choose the seeds a search tries.
func TestSearchStartSeedAndCount(t *testing.T) {
	var seeds []uint64
	scenario := func(w *actortest.World) {
		n := w.Rand().Uint64() // the world's source is seeded by the schedule's seed
		w.Eventually("record", func() error { seeds = append(seeds, n); return nil })
	}
	rep := actortest.Search(t, scenario, actortest.Random(), 100, actortest.Count(3), actortest.StartSeed(10))
	if rep.Schedules != 3 || len(seeds) != 3 {
		t.Fatalf("ran %d schedules (%d recorded), want 3", rep.Schedules, len(seeds))
	}
	first := seeds
	seeds = nil
	actortest.Search(t, scenario, actortest.Random(), 1, actortest.StartSeed(11))
	if len(seeds) != 1 || seeds[0] != first[1] {
		t.Errorf("seed 11 alone drew %v, within the search %v", seeds, first[1])
	}
	always := func(w *actortest.World) { w.Eventually("fail", func() error { return errFail }) }
	if f := actortest.Search(t, always, actortest.PCT(3), 5, actortest.StartSeed(42)).Failure; f == nil || f.Seed != 42 {
		t.Errorf("failure = %v, want seed 42", f)
	}
}

var errFail = errors.New("always")
