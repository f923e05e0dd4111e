package actortest_test

import (
	"errors"
	"runtime"
	"strconv"
	"testing"

	"github.com/armistice-go/armistice/actors"
	"github.com/armistice-go/armistice/model"

	. "github.com/armistice-go/armistice/actors/actortest"
)

// cancelAlwaysLoses is the cancel-between-tokens scenario with a wrong
// expectation: that the reader always reads a completed answer. Some
// schedules (the cancel wins) break it, which gives a real failure to
// replay.
func cancelAlwaysLoses(w *World) {
	sup := engine(w, NewUpstream(w, Tokens("a", "b", "c")...), nil)
	reader := NewClient(w, "reader", sup, owner, spec("p", model.OnDisconnectContinue), Submit, Attach)
	canceller := NewClient(w, "canceller", sup, owner, actors.Spec{}, CancelOp)
	canceller.Follow(reader)
	w.Eventually("the answer always completes", func() error {
		if end := reader.End(); end != nil && end.Status != model.StatusCompleted {
			return errorf("read %s/%s", end.Status, end.Reason)
		}
		return nil
	})
}

func TestFailureReplaysExactly(t *testing.T) {
	rep := Search(t, cancelAlwaysLoses, Random(), 200)
	f := rep.Failure
	if f == nil {
		t.Fatalf("no schedule in %d broke the wrong expectation", rep.Schedules)
	}
	if !errors.Is(f, ErrLiveness) {
		t.Fatalf("failure = %v", f)
	}
	trace := ParseTrace(f.Error()) // as a developer would paste it from the log
	if len(trace) == 0 || trace[0] != "seed "+strconv.FormatUint(f.Seed, 10) || !equal(trace[1:], f.Trace) {
		t.Fatalf("ParseTrace read %q\nfrom %v", trace, f)
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for i := range 100 {
		runtime.GOMAXPROCS(1 + i%4) // whatever GOMAXPROCS is
		again := Replay(t, cancelAlwaysLoses, trace)
		if again == nil {
			t.Fatalf("replay %d did not fail", i)
		}
		if again.Err.Error() != f.Err.Error() || !equal(again.Trace, f.Trace) {
			t.Fatalf("replay %d differs:\n%v\nwant:\n%v", i, again, f)
		}
	}
}

func TestSeedReplaysExactly(t *testing.T) {
	f := Search(t, cancelAlwaysLoses, PCT(3), 200).Failure
	if f == nil {
		t.Fatal("PCT found no failing schedule in 200")
	}
	t.Setenv(SeedEnv, strconv.FormatUint(f.Seed, 10))
	for range 20 {
		again := Search(t, cancelAlwaysLoses, PCT(3), 1000).Failure
		if again == nil || again.Seed != f.Seed || !equal(again.Trace, f.Trace) {
			t.Fatalf("%s=%d did not reproduce the schedule:\n%v\nwant:\n%v", SeedEnv, f.Seed, again, f)
		}
	}
}

func TestReplayDivergenceIsReported(t *testing.T) {
	f := Replay(t, cancelBetweenTokens, []string{"deliver nobody *actors.Nothing"})
	if f == nil || !errors.Is(f, ErrDiverged) {
		t.Fatalf("replay of an impossible step = %v, want ErrDiverged", f)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
