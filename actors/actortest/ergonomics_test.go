package actortest_test

import (
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
