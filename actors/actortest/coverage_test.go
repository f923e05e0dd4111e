package actortest_test

import (
	"strings"
	"testing"

	"github.com/armistice-go/armistice/actors"
	. "github.com/armistice-go/armistice/actors/actortest"
	"github.com/armistice-go/armistice/model"
)

// Exploration is only worth its schedules if they differ: over 200 random
// schedules of cancel-between-tokens, the cancel must both win and lose,
// and the traces must be mostly distinct. FIFO, by contrast, is one
// schedule.
func TestExplorationReachesDifferentOutcomes(t *testing.T) {
	for _, tc := range []struct {
		strategy    Strategy
		n           int
		minOutcomes int
		minTraces   int
	}{
		{Random(), 200, 2, 100},
		{PCT(3), 200, 2, 50},
		{FIFO(), 5, 1, 1},
	} {
		outcomes, traces := map[string]int{}, map[string]bool{}
		scenario := func(w *World) {
			sup := engine(w, NewUpstream(w, Tokens("a", "b", "c")...), nil)
			reader := NewClient(w, "reader", sup, owner, spec("p", model.OnDisconnectContinue), Submit, Attach)
			canceller := NewClient(w, "canceller", sup, owner, actors.Spec{}, CancelOp)
			canceller.Follow(reader)
			w.Eventually("record the outcome", func() error {
				if end := reader.End(); end != nil {
					outcomes[end.Status.String()+"/"+end.Reason.String()]++
				}
				traces[strings.Join(w.Trace(), "\n")] = true
				return nil
			})
		}
		if f := Search(t, scenario, tc.strategy, tc.n).Failure; f != nil {
			t.Fatal(f)
		}
		if len(outcomes) < tc.minOutcomes || len(traces) < tc.minTraces {
			t.Errorf("%s over %d schedules: outcomes %v, %d distinct traces", tc.strategy, tc.n, outcomes, len(traces))
		}
		if tc.strategy.String() == "fifo" && len(traces) != 1 {
			t.Errorf("FIFO gave %d different schedules", len(traces))
		}
		t.Logf("%s: %d distinct traces, outcomes %v", tc.strategy, len(traces), outcomes)
	}
}
