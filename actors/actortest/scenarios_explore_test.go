package actortest_test

import (
	"testing"

	. "github.com/armistice-go/armistice/actors/actortest"
)

// schedulesPerScenario is how many schedules CI explores per scenario and
// strategy.
const schedulesPerScenario = 1000

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
