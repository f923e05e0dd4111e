package actortest_test

import (
	"testing"

	. "github.com/armistice-go/armistice/actors/actortest"
	"github.com/armistice-go/armistice/internal/race"
)

// schedulesPerScenario is how many schedules each engine scenario is
// explored under, half Random, half PCT(3): 1,000, or 100 under the race
// detector (race.Schedules), which makes each schedule 3 to 4 times
// slower and has little to see in a stepped schedule. .ci/run runs this
// package without -race too, so CI explores the full 1,000.
var schedulesPerScenario = race.Schedules(1000)

func TestEngineScenarios(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			Explore(t, sc.run, FIFO(), 1)
			Explore(t, sc.run, Random(), schedulesPerScenario/2)
			Explore(t, sc.run, PCT(3), schedulesPerScenario/2)
		})
	}
}
