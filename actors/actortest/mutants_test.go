//go:build mutants

package actortest_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/armistice-go/armistice/actors"
	. "github.com/armistice-go/armistice/actors/actortest"
)

// The deliberate bugs of the mutation check, each switched on by name in
// a build with the "mutants" tag (model/mutants_on.go,
// actors/mutants_on.go); the names say what breaks.
var mutants = []string{
	"cleanup-before-delivery",   // the request stops as soon as its end is appended
	"token-after-end",           // a token that arrives after the end is appended
	"second-end",                // a completion after a cancel appends a second end
	"fail-overrides-cancel",     // an upstream error after a cancel appends a second end
	"cancel-not-recorded-first", // cancel stops the producer and leaves the end to its error
	"cancel-not-idempotent",     // a second cancel answers "already finished"
	"detach-is-cancel",          // the last subscriber leaving cancels, whatever the policy
	"admit-after-cancel",        // a cancelled request still takes a slot granted late
	"cursor-off-by-one",         // a delivery skips the record after the cursor
	"duplicate-delivery",        // a delivery does not advance the cursor
	"lost-wakeup",               // new records do not answer a waiting Pull
	"no-farewell",               // a stopping request does not hand over what is left
	"slot-not-released",         // an ended request keeps its slot
	"drain-no-shutdown",         // drain never ends the requests still running
	// Timer mutants: each trusts that a timer disarmed or superseded
	// never fires, though its message may already be queued.
	"first-token-after-token",   // a first-token timeout queued behind the first token fails the request
	"idle-trusts-timer",         // the idle timer ends the request without looking at the latest token
	"deadline-after-end",        // a deadline queued behind the end appends a second end
	"queue-timeout-after-admit", // a queue timeout queued behind the admission fails a running request
}

// TestMutants runs every mutant under exploration (at most 1,000
// schedules each, spread over the engine scenarios, half random, half
// PCT) and under the single FIFO schedule of each scenario. Run it with
// scripts/mutants.sh.
func TestMutants(t *testing.T) {
	start := time.Now()
	perScenario := 1000 / len(scenarios)
	explore, fifo := 0, 0
	for _, m := range mutants {
		actors.SetMutant(m)
		killedBy, schedules := "", 0
		for _, sc := range scenarios {
			for _, st := range []Strategy{Random(), PCT(3)} {
				rep := Search(t, sc.run, st, perScenario/2)
				schedules += rep.Schedules
				if rep.Failure != nil {
					killedBy = fmt.Sprintf("%s, %s seed %d: %v", sc.name, st, rep.Failure.Seed, firstLine(rep.Failure.Err))
					break
				}
			}
			if killedBy != "" {
				break
			}
		}
		fifoBy := ""
		for _, sc := range scenarios {
			if rep := Search(t, sc.run, FIFO(), 1); rep.Failure != nil {
				fifoBy = sc.name
				break
			}
		}
		if killedBy != "" {
			explore++
			t.Logf("%-26s explore: killed after %4d schedules (%s)", m, schedules, killedBy)
		} else {
			t.Logf("%-26s explore: SURVIVED %d schedules", m, schedules)
		}
		if fifoBy != "" {
			fifo++
			t.Logf("%-26s fifo:    killed (%s)", m, fifoBy)
		} else {
			t.Logf("%-26s fifo:    survived", m)
		}
	}
	actors.SetMutant("")
	t.Logf("took %s", time.Since(start).Round(time.Millisecond))
	t.Logf("mutants killed: explore %d/%d, fifo %d/%d", explore, len(mutants), fifo, len(mutants))
	if explore*10 < len(mutants)*9 {
		t.Errorf("exploration killed %d of %d mutants; the target is all (90%% at the very least)", explore, len(mutants))
	}
}
