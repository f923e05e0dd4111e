package actortest

import (
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/scheduler"
)

type (
	simPing struct{ N int }
	simPong struct{ N int }
	simPoke struct{}
	simIdle struct{ At time.Time }
)

func simPonger() *actor.Props {
	return actor.PropsFromFunc(func(ctx actor.Context) {
		if m, ok := ctx.Message().(simPing); ok {
			ctx.Respond(simPong(m))
		}
	})
}

func simPinger(ponger, done *actor.PID, rounds int) *actor.Props {
	return actor.PropsFromFunc(func(ctx actor.Context) {
		switch m := ctx.Message().(type) {
		case *actor.Started:
			ctx.Request(ponger, simPing{N: 1})
		case simPong:
			if m.N < rounds {
				ctx.Request(ponger, simPing{N: m.N + 1})
				return
			}
			ctx.Send(done, "done")
		}
	})
}

func TestSimPingPong(t *testing.T) {
	RunSim(t, func(s *Sim) {
		t := s.T
		pongs := NewProbe[simPong](s.T, s.System)
		done := NewProbe[string](s.T, s.System)
		ponger := s.Spawn(Tap(simPonger(), pongs))
		start := s.Now()
		s.Spawn(simPinger(ponger, done.PID(), 3))
		for n := 1; n <= 3; n++ {
			if got := pongs.Expect(time.Second); got.N != n {
				t.Fatalf("pong #%d = %+v", n, got)
			}
		}
		if got := done.Expect(time.Second); got != "done" {
			t.Fatalf("done = %q", got)
		}
		pongs.ExpectNone(time.Minute)
		if d := s.Now().Sub(start); d != time.Minute {
			t.Errorf("virtual time moved %v, want only ExpectNone's minute", d)
		}
	})
}

func simIdler(sink *actor.PID) *actor.Props {
	return actor.PropsFromFunc(func(ctx actor.Context) {
		switch ctx.Message().(type) {
		case *actor.Started:
			ctx.SetReceiveTimeout(30 * time.Second)
		case *actor.ReceiveTimeout:
			ctx.Send(sink, simIdle{At: time.Now()})
		}
	})
}

func TestSimReceiveTimeoutInVirtualTime(t *testing.T) {
	RunSim(t, func(s *Sim) {
		t := s.T
		idle := NewProbe[simIdle](s.T, s.System)
		start := s.Now()
		pid := s.Spawn(simIdler(idle.PID()))

		s.Advance(10 * time.Second)
		s.Root.Send(pid, simPoke{}) // a message restarts the 30 s
		s.Quiesce()
		s.Advance(30*time.Second - time.Nanosecond)
		idle.ExpectNone(0)

		s.Advance(time.Nanosecond)
		got := idle.Expect(0)
		if d := got.At.Sub(start); d != 40*time.Second {
			t.Errorf("ReceiveTimeout fired at +%v, want exactly +40s", d)
		}
		if d := s.Now().Sub(start); d != 40*time.Second {
			t.Errorf("Now is +%v, want +40s", d)
		}
		// proto.actor cancels the timeout once it fires
		idle.ExpectNone(time.Hour)
	})
}

func TestSimSendOnce(t *testing.T) {
	RunSim(t, func(s *Sim) {
		t := s.T
		p := NewProbe[string](s.T, s.System)
		sched := scheduler.NewTimerScheduler(s.Root)
		start := s.Now()
		sched.SendOnce(5*time.Second, p.PID(), "tick")
		cancel := sched.SendOnce(10*time.Second, p.PID(), "cancelled")

		s.Advance(5*time.Second - time.Millisecond)
		if n := len(p.Received()); n != 0 {
			t.Fatalf("got %v before the timer was due", p.Received())
		}
		if got := p.Expect(time.Hour); got != "tick" {
			t.Fatalf("Expect = %q", got)
		}
		if d := s.Now().Sub(start); d != 5*time.Second {
			t.Errorf("tick arrived at +%v, want +5s", d)
		}
		cancel()
		p.ExpectNone(time.Hour)
	})
}

func TestSimTeardownStopsSpawnedActors(t *testing.T) {
	var parentStopped, childStopped atomic.Bool
	RunSim(t, func(s *Sim) {
		t := s.T
		child := actor.PropsFromFunc(func(ctx actor.Context) {
			if _, ok := ctx.Message().(*actor.Stopped); ok {
				childStopped.Store(true)
			}
		})
		s.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
			switch ctx.Message().(type) {
			case *actor.Started:
				ctx.Spawn(child)
				ctx.SetReceiveTimeout(time.Hour) // a pending timer must not block teardown
			case *actor.Stopped:
				parentStopped.Store(true)
			}
		}))
		s.Quiesce()
		if parentStopped.Load() || childStopped.Load() {
			t.Fatal("stopped before teardown")
		}
	})
	if !parentStopped.Load() || !childStopped.Load() {
		t.Errorf("after RunSim: parent stopped %v, child stopped %v; want both", parentStopped.Load(), childStopped.Load())
	}
}

func TestSimSpawnNamed(t *testing.T) {
	RunSim(t, func(s *Sim) {
		t := s.T
		props := actor.PropsFromFunc(func(actor.Context) {})
		pid, err := s.SpawnNamed(props, "only")
		if err != nil || pid.Id != "only" {
			t.Fatalf("SpawnNamed = %v, %v", pid, err)
		}
		if _, err := s.SpawnNamed(props, "only"); !errors.Is(err, actor.ErrNameExists) {
			t.Errorf("second SpawnNamed err = %v, want ErrNameExists", err)
		}
	})
}

// TestSimDeadLettersTearDownCleanly has a dead letter during the test and
// two while teardown waits. Teardown starts at +0.5s; "late" (+0.9s)
// extends the wait; "later" (+1.4s) comes after the first throttle period
// ended (+1s), so it starts a new throttle goroutine that lives until
// +2.4s, past both a fixed one-interval wait (+1.5s) and a single wait
// for the last dead letter seen at teardown (+1.9s). If teardown left it
// running, the bubble would end with a blocked goroutine and synctest
// would fail the test.
func TestSimDeadLettersTearDownCleanly(t *testing.T) {
	var deadLetters atomic.Int32
	RunSim(t, func(s *Sim) {
		t := s.T
		s.System.EventStream.Subscribe(func(msg any) {
			if _, ok := msg.(*actor.DeadLetterEvent); ok {
				deadLetters.Add(1)
			}
		})
		// not s.Spawn: teardown must not touch it
		gone := s.Root.Spawn(actor.PropsFromFunc(func(actor.Context) {}))
		if err := s.Root.StopFuture(gone).Wait(); err != nil {
			t.Fatal(err)
		}
		s.Root.Send(gone, "lost")
		s.Quiesce()
		if n := s.Logs.Count(slog.LevelInfo, "[DeadLetter]"); n != 1 {
			t.Errorf("logged %d dead letters, want 1", n)
		}
		s.Advance(500 * time.Millisecond)
		sched := scheduler.NewTimerScheduler(s.Root)
		sched.SendOnce(400*time.Millisecond, gone, "late")
		sched.SendOnce(900*time.Millisecond, gone, "later")
	})
	if n := deadLetters.Load(); n != 3 {
		t.Errorf("saw %d dead letters, want 3 (lost, late, later)", n)
	}
}

// simFailedTB is a failed test that records what is logged to it.
type simFailedTB struct {
	testing.TB
	failed bool
	logged []string
}

func (f *simFailedTB) Failed() bool { return f.failed }
func (f *simFailedTB) Logf(format string, args ...any) {
	f.logged = append(f.logged, format)
	for _, a := range args {
		if s, ok := a.(string); ok {
			f.logged = append(f.logged, s)
		}
	}
}

func TestSimDumpsLogsOnlyOnFailure(t *testing.T) {
	logs := NewLogCapture()
	slog.New(logs).Warn("the clue", "pid", "x/1")

	green := &simFailedTB{TB: t}
	simDumpLogsOnFailure(green, logs)
	if len(green.logged) != 0 {
		t.Errorf("dumped logs of a passing test: %q", green.logged)
	}

	red := &simFailedTB{TB: t, failed: true}
	simDumpLogsOnFailure(red, logs)
	if all := strings.Join(red.logged, "\n"); !strings.Contains(all, "WARN the clue pid=x/1") {
		t.Errorf("dump of a failed test = %q, want the warning", all)
	}
}
