package actortest_test

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/scheduler"

	"github.com/armistice-go/armistice/actors/actortest"
)

// A tiny user actor, not part of Armistice: it sums add messages and
// reports the sum to sink every interval (and on flushNow), only when
// something was added since the last report.
type (
	add      struct{ N int }
	flushNow struct{}
	tick     struct{} // the counter's own timer
	flushed  struct{ Sum, Adds int }
)

func (f flushed) String() string { return fmt.Sprintf("flushed %d from %d adds", f.Sum, f.Adds) }

type counter struct {
	sink      *actor.PID
	every     time.Duration // 0: only on flushNow
	sum, adds int
	cancel    scheduler.CancelFunc
}

func counterProps(sink *actor.PID, every time.Duration) *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor { return &counter{sink: sink, every: every} })
}

func (c *counter) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		c.arm(ctx)
	case *actor.Stopping:
		if c.cancel != nil {
			c.cancel() // leave no timer behind
		}
	case add:
		c.sum += m.N
		c.adds++
	case flushNow:
		c.flush(ctx)
	case tick:
		c.flush(ctx)
		c.arm(ctx)
	}
}

func (c *counter) flush(ctx actor.Context) {
	if c.adds > 0 {
		ctx.Send(c.sink, flushed{Sum: c.sum, Adds: c.adds})
		c.sum, c.adds = 0, 0
	}
}

func (c *counter) arm(ctx actor.Context) {
	if c.every > 0 {
		c.cancel = scheduler.NewTimerScheduler(ctx.ActorSystem().Root).SendOnce(c.every, ctx.Self(), tick{})
	}
}

// exampleTB stands in for the *testing.T an Example does not get; in a
// test, pass t to NewProbe.
type exampleTB struct{ testing.TB }

func (exampleTB) Helper()        {}
func (exampleTB) Cleanup(func()) {}
func (exampleTB) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}

// Example uses a Probe as the sink of a plain actor system, outside any
// synctest bubble. In a test, RunSim adds virtual time: see
// TestExampleCounterFlushesEvery10s.
func Example() {
	logs := actortest.NewLogCapture() // keeps proto.actor's logs off stdout
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(logs)
	}))

	flushes := actortest.NewProbe[flushed](exampleTB{}, system)
	c := system.Root.Spawn(counterProps(flushes.PID(), 0))
	system.Root.Send(c, add{N: 2})
	system.Root.Send(c, add{N: 3})
	system.Root.Send(c, flushNow{})
	fmt.Println(flushes.Expect(time.Second))

	system.Root.Send(c, flushNow{}) // nothing added: no report
	system.Root.Send(c, add{N: 1})
	system.Root.Send(c, flushNow{})
	fmt.Println(flushes.Expect(time.Second))

	_ = system.Root.StopFuture(c).Wait()
	flushes.Stop()
	fmt.Println(len(flushes.Received()), "reports;", logs.Count(slog.LevelInfo, "actor system started"), "start log")
	// Output:
	// flushed 5 from 2 adds
	// flushed 1 from 1 adds
	// 2 reports; 1 start log
}

// TestExampleCounterFlushesEvery10s is the same counter in virtual time:
// an hour of flushing takes no real time.
func TestExampleCounterFlushesEvery10s(t *testing.T) {
	actortest.RunSim(t, func(s *actortest.Sim) {
		t := s.T
		flushes := actortest.NewProbe[flushed](s.T, s.System)
		start := s.Now()
		c := s.Spawn(counterProps(flushes.PID(), 10*time.Second))

		s.Root.Send(c, add{N: 4})
		s.Advance(3 * time.Second)
		s.Root.Send(c, add{N: 6})
		if got := flushes.Expect(time.Minute); got != (flushed{Sum: 10, Adds: 2}) {
			t.Fatalf("first flush = %v", got)
		}
		if d := s.Now().Sub(start); d != 10*time.Second {
			t.Errorf("first flush at +%v, want +10s", d)
		}

		flushes.ExpectNone(time.Hour + 5*time.Second) // idle: the timer keeps firing, nothing to report
		s.Root.Send(c, add{N: 1})
		if got := flushes.Expect(time.Minute); got != (flushed{Sum: 1, Adds: 1}) {
			t.Fatalf("second flush = %v", got)
		}
		if d := s.Now().Sub(start); d != time.Hour+20*time.Second {
			t.Errorf("second flush at +%v, want +1h20s", d)
		}
	})
}
