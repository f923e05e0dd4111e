package actortest

import (
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Sim is the simulation mode: proto.actor's real dispatcher running in a
// testing/synctest bubble. Timers (SetReceiveTimeout, scheduler, future
// timeouts) run on the bubble's virtual clock, so a test can let hours
// pass instantly. Goroutine interleavings are still the Go scheduler's;
// use the stepping mode to control them.
type Sim struct {
	// T is the bubble's *testing.T (T.Run and T.Parallel are forbidden).
	T *testing.T
	// System is a fresh actor system, created inside the bubble.
	System *actor.ActorSystem
	// Root is System.Root.
	Root *actor.RootContext
	// Logs holds proto.actor's logs (and anything written to
	// Logs.Writer()); they are printed if the test fails.
	Logs *LogCapture

	mu      sync.Mutex
	spawned []*actor.PID
	dead    *deadLetters
}

// RunSim runs f in a fresh synctest bubble with a fresh actor system whose
// logs go to Logs. Afterwards it stops every actor spawned with Spawn or
// SpawnNamed (StopFuture, newest first), waits for quiescence, lets virtual
// time pass proto.actor's dead-letter throttle so no proto.actor goroutine
// is left, and shuts the system down. If the test failed, it prints the
// captured logs with t.Log.
//
// Teardown runs as the bubble's first registered t.Cleanup, so it runs
// last: after f, after a t.Fatal, and after the cleanups of probes made in
// f. Goroutines the test starts itself must be gone by then.
func RunSim(t *testing.T, f func(s *Sim)) {
	t.Helper()
	synctest.Test(t, func(t *testing.T) {
		logs := NewLogCapture()
		system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
			return slog.New(logs)
		}))
		s := &Sim{T: t, System: system, Root: system.Root, Logs: logs, dead: watchDeadLetters(system)}
		t.Cleanup(s.teardown)
		f(s)
	})
}

// Spawn spawns props on Root and remembers the PID, so teardown stops it.
func (s *Sim) Spawn(props *actor.Props) *actor.PID {
	pid := s.Root.Spawn(props)
	s.remember(pid)
	return pid
}

// SpawnNamed is Spawn with a fixed name; it fails like
// RootContext.SpawnNamed (actor.ErrNameExists) when the name is taken.
func (s *Sim) SpawnNamed(props *actor.Props, name string) (*actor.PID, error) {
	pid, err := s.Root.SpawnNamed(props, name)
	if err != nil {
		return pid, err
	}
	s.remember(pid)
	return pid, nil
}

func (s *Sim) remember(pid *actor.PID) {
	s.mu.Lock()
	s.spawned = append(s.spawned, pid)
	s.mu.Unlock()
}

// Advance lets d of virtual time pass: every timer due by then fires, in
// time order, with all actors settling before each step of the clock, and
// Advance returns once everything has settled again.
func (s *Sim) Advance(d time.Duration) {
	time.Sleep(d)
	synctest.Wait()
}

// Quiesce waits until every goroutine in the bubble (actors included) is
// blocked, without moving virtual time.
func (s *Sim) Quiesce() { synctest.Wait() }

// Now is the bubble's virtual time (it starts at 2000-01-01 00:00 UTC).
func (s *Sim) Now() time.Time { return time.Now() }

// teardown stops the spawned actors and waits out the dead-letter
// throttle: proto.actor starts a goroutine on the first dead letter of a
// throttle period and it lives one DeadLetterThrottleInterval, so the
// bubble may end only when that long has passed since the last dead letter
// (a late timer can still produce one while we wait, hence the loop).
func (s *Sim) teardown() {
	s.mu.Lock()
	spawned := s.spawned
	s.spawned = nil
	s.mu.Unlock()
	for i := len(spawned) - 1; i >= 0; i-- {
		if err := s.Root.StopFuture(spawned[i]).Wait(); err != nil {
			s.T.Errorf("actortest: stopping %v: %v", spawned[i], err)
		}
	}
	s.dead.waitOut(synctest.Wait)
	s.System.Shutdown()
	simDumpLogsOnFailure(s.T, s.Logs)
}

// simDumpLogsOnFailure prints the captured logs if t failed: quiet when
// green, the whole story when red.
func simDumpLogsOnFailure(t testing.TB, logs *LogCapture) {
	if !t.Failed() {
		return
	}
	var b strings.Builder
	logs.Dump(&b)
	t.Logf("captured logs:\n%s", b.String())
}
