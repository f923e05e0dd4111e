package actortest_test

import (
	"errors"
	"os"
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

// cancelAlwaysWins streams twelve tokens and wrongly expects the cancel
// to win: its failures (the answer completes) run well past 64 steps.
func cancelAlwaysWins(w *World) {
	sup := engine(w, NewUpstream(w, Tokens("a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l")...), nil)
	reader := NewClient(w, "reader", sup, owner, spec("p", model.OnDisconnectContinue), Submit, Attach)
	canceller := NewClient(w, "canceller", sup, owner, actors.Spec{}, CancelOp)
	canceller.Follow(reader)
	w.Eventually("the cancel always wins", func() error {
		if end := reader.End(); end != nil && end.Status == model.StatusCompleted {
			return errorf("read %s/%s", end.Status, end.Reason)
		}
		return nil
	})
}

// A printed seed replays its schedule under every strategy, for schedules
// shorter and longer than 64 steps, whether it runs alone
// (ACTORTEST_SEED), from a start seed, or in a search of another length.
func TestSeedReplaysExactly(t *testing.T) {
	for _, sc := range []struct {
		name string
		run  Scenario
	}{{"short", cancelAlwaysLoses}, {"long", cancelAlwaysWins}} {
		for _, st := range []Strategy{Random(), PCT(2), PCT(3)} {
			f := Search(t, sc.run, st, 200, StartSeed(3)).Failure
			if f == nil {
				t.Fatalf("%s, %s: no failing schedule in 200", sc.name, st)
			}
			if long := len(f.Trace) > 64; long != (sc.name == "long") {
				t.Fatalf("%s, %s: the failure has %d steps", sc.name, st, len(f.Trace))
			}
			same := func(how string, again *Failure) {
				t.Helper()
				if again == nil || again.Seed != f.Seed || !equal(again.Trace, f.Trace) {
					t.Errorf("%s, %s: %s did not reproduce seed %d (%d steps):\n%v", sc.name, st, how, f.Seed, len(f.Trace), again)
				}
			}
			same("StartSeed alone", Search(t, sc.run, st, 1, StartSeed(f.Seed)).Failure)
			same("a longer search from the seed", Search(t, sc.run, st, 1000, StartSeed(f.Seed)).Failure)
			t.Setenv(SeedEnv, strconv.FormatUint(f.Seed, 10))
			same(SeedEnv, Search(t, sc.run, st, 1000).Failure)
			os.Unsetenv(SeedEnv)
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
