// Package race says whether the race detector is compiled in, so that a
// test made of many repetitions of the same deterministic work can run a
// fraction of them under the detector.
//
// It is for actors/actortest's schedule explorations: a schedule runs its
// stepped actors one message at a time on the test's goroutine, so the
// detector has little to see in any schedule, and the thousandth goes
// through the same code as the hundredth, 3 to 4 times slower than
// without it. Under -race they explore Schedules(n); .ci/run runs those
// packages a second time without -race, at the full n (docs/testing.md,
// "Schedule budgets under -race").
package race

// Divisor is by how much Schedules cuts a budget under the race detector.
const Divisor = 10

// Schedules is the number of schedules to explore for a budget of n: n
// without the race detector, n/Divisor (at least 1) with it.
func Schedules(n int) int {
	if Enabled {
		return max(1, n/Divisor)
	}
	return n
}
