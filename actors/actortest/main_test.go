package actortest

import (
	"os"
	"runtime/debug"
	"testing"

	"go.uber.org/goleak"
)

// proto.actor's dead-letter throttle waits out its period on a goroutine
// of its own after a dead letter; it is the library's, not a leak.
//
// Each schedule builds a fresh actor system, whose process registry alone
// is 32,768 small maps (1,024 shards of 32), garbage once the schedule
// ends. With GOGC at 400 (unless GOGC is set) the explorations take about
// a fifth less CPU, for some 30 MB more heap (docs/testing.md, section 9).
func TestMain(m *testing.M) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"))
}
