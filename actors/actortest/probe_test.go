package actortest_test

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/scheduler"

	"github.com/armistice-go/armistice/actors/actortest"
)

// probeFakeTB stands in for t so a failing expectation can be observed:
// Fatalf records the message and ends the goroutine (as the real one
// does), everything else goes to the real t.
type probeFakeTB struct {
	testing.TB
	mu    sync.Mutex
	fatal []string
}

func (f *probeFakeTB) Helper() {}

func (f *probeFakeTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.fatal = append(f.fatal, fmt.Sprintf(format, args...))
	f.mu.Unlock()
	runtime.Goexit()
}

func (f *probeFakeTB) Errorf(format string, args ...any) {
	f.mu.Lock()
	f.fatal = append(f.fatal, fmt.Sprintf(format, args...))
	f.mu.Unlock()
}

// failure runs fn in its own goroutine (Fatalf ends it) and returns the
// recorded failure, or "" if fn passed.
func (f *probeFakeTB) failure(fn func()) string {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	<-done
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.fatal, "\n")
}

type probeNote struct {
	Text string
	N    int
}

func TestProbeExpectSkipsOtherTypes(t *testing.T) {
	actortest.RunSim(t, func(s *actortest.Sim) {
		t := s.T
		p := actortest.NewProbe[string](s.T, s.System)
		s.Root.Send(p.PID(), 42)
		s.Root.Send(p.PID(), "hello")
		s.Root.Send(p.PID(), "world")
		start := s.Now()
		if got := p.Expect(time.Second); got != "hello" {
			t.Fatalf("Expect = %q, want hello", got)
		}
		if got := p.Expect(time.Second); got != "world" {
			t.Fatalf("Expect = %q, want world", got)
		}
		if d := s.Now().Sub(start); d != 0 {
			t.Errorf("Expect of arrived messages took %v of virtual time, want 0", d)
		}
		if got, want := p.Received(), []any{42, "hello", "world"}; !slices.Equal(got, want) {
			t.Errorf("Received = %v, want %v", got, want)
		}
	})
}

func TestProbeExpectWaitsInVirtualTime(t *testing.T) {
	actortest.RunSim(t, func(s *actortest.Sim) {
		t := s.T
		p := actortest.NewProbe[string](s.T, s.System)
		scheduler.NewTimerScheduler(s.Root).SendOnce(3*time.Second, p.PID(), "late")
		start := s.Now()
		if got := p.Expect(time.Minute); got != "late" {
			t.Fatalf("Expect = %q, want late", got)
		}
		if d := s.Now().Sub(start); d != 3*time.Second {
			t.Errorf("Expect returned after %v, want exactly 3s", d)
		}
	})
}

func TestProbeExpectFailureListsArrivals(t *testing.T) {
	actortest.RunSim(t, func(s *actortest.Sim) {
		t := s.T
		fake := &probeFakeTB{TB: s.T}
		p := actortest.NewProbe[string](fake, s.System)
		s.Root.Send(p.PID(), 6)
		s.Root.Send(p.PID(), "first")
		if got := p.Expect(time.Second); got != "first" {
			t.Fatalf("Expect = %q, want first", got)
		}
		s.Root.Send(p.PID(), 7)
		s.Root.Send(p.PID(), probeNote{Text: "hi", N: 3})
		start := s.Now()
		msg := fake.failure(func() { p.Expect(2 * time.Second) })
		for _, want := range []string{
			"Probe[string].Expect: no string within 2s",
			"received since the last expectation (2):",
			"int: 7",
			"actortest_test.probeNote: {Text:hi N:3}",
		} {
			if !strings.Contains(msg, want) {
				t.Errorf("failure message lacks %q:\n%s", want, msg)
			}
		}
		for _, old := range []string{"first", "int: 6"} {
			if strings.Contains(msg, old) {
				t.Errorf("failure message lists %q, from before the last expectation:\n%s", old, msg)
			}
		}
		if d := s.Now().Sub(start); d != 2*time.Second {
			t.Errorf("failing Expect waited %v, want exactly 2s", d)
		}
	})
}

func TestProbeExpectNone(t *testing.T) {
	actortest.RunSim(t, func(s *actortest.Sim) {
		t := s.T
		fake := &probeFakeTB{TB: s.T}
		p := actortest.NewProbe[string](fake, s.System)
		s.Root.Send(p.PID(), 1) // not a string: allowed
		start := s.Now()
		if msg := fake.failure(func() { p.ExpectNone(5 * time.Second) }); msg != "" {
			t.Fatalf("ExpectNone failed with only an int received:\n%s", msg)
		}
		if d := s.Now().Sub(start); d != 5*time.Second {
			t.Errorf("ExpectNone waited %v, want exactly 5s", d)
		}

		scheduler.NewTimerScheduler(s.Root).SendOnce(time.Second, p.PID(), "unwanted")
		msg := fake.failure(func() { p.ExpectNone(5 * time.Second) })
		if !strings.Contains(msg, "ExpectNone: got string within 5s: unwanted") {
			t.Errorf("failure message = %q", msg)
		}
		if d := s.Now().Sub(start); d != 6*time.Second {
			t.Errorf("failing ExpectNone returned at +%v, want +6s (when the string came)", d)
		}
	})
}

func TestProbeFish(t *testing.T) {
	actortest.RunSim(t, func(s *actortest.Sim) {
		t := s.T
		fake := &probeFakeTB{TB: s.T}
		p := actortest.NewProbe[probeNote](fake, s.System)
		for i := range 4 {
			s.Root.Send(p.PID(), probeNote{Text: "n", N: i})
		}
		got := p.Fish(func(n probeNote) bool { return n.N == 2 }, time.Second)
		if got.N != 2 {
			t.Fatalf("Fish = %+v, want N=2", got)
		}
		if next := p.Expect(time.Second); next.N != 3 {
			t.Errorf("Expect after Fish = %+v, want N=3 (Fish consumes what it skips)", next)
		}

		s.Root.Send(p.PID(), probeNote{Text: "a", N: 10})
		s.Root.Send(p.PID(), probeNote{Text: "b", N: 11})
		msg := fake.failure(func() {
			p.Fish(func(n probeNote) bool { return n.Text == "z" }, time.Second)
		})
		for _, want := range []string{
			"Fish: no matching actortest_test.probeNote within 1s",
			"skipped (2):",
			"{Text:a N:10}",
			"{Text:b N:11}",
		} {
			if !strings.Contains(msg, want) {
				t.Errorf("failure message lacks %q:\n%s", want, msg)
			}
		}
	})
}

func TestProbeExpectTerminated(t *testing.T) {
	actortest.RunSim(t, func(s *actortest.Sim) {
		t := s.T
		fake := &probeFakeTB{TB: s.T}
		p := actortest.NewProbe[string](fake, s.System)
		idle := actor.PropsFromFunc(func(actor.Context) {})

		// a live actor, stopped later
		live := s.Spawn(idle)
		scheduler.NewTimerScheduler(s.Root).SendOnce(time.Second, live, &actor.PoisonPill{})
		start := s.Now()
		p.ExpectTerminated(live, time.Minute)
		if d := s.Now().Sub(start); d != time.Second {
			t.Errorf("ExpectTerminated returned after %v, want exactly 1s", d)
		}

		// an actor that is already gone
		gone := s.Spawn(idle)
		if err := s.Root.StopFuture(gone).Wait(); err != nil {
			t.Fatal(err)
		}
		p.ExpectTerminated(gone, time.Second)

		var terms int
		for _, m := range p.Received() {
			if _, ok := m.(*actor.Terminated); ok {
				terms++
			}
		}
		if terms != 2 {
			t.Errorf("Received has %d *actor.Terminated, want 2: %v", terms, p.Received())
		}

		// an actor that does not stop
		msg := fake.failure(func() { p.ExpectTerminated(s.Spawn(idle), time.Second) })
		if !strings.Contains(msg, "ExpectTerminated: no *actor.Terminated of") {
			t.Errorf("failure message = %q", msg)
		}
	})
}

// tapTalker exercises each way an actor can send, so the test can check
// which of them Tap sees.
func tapTalker(sink, victim *actor.PID) *actor.Props {
	return actor.PropsFromFunc(func(ctx actor.Context) {
		switch m := ctx.Message().(type) {
		case *actor.Started:
			ctx.SetReceiveTimeout(time.Second)
		case *actor.ReceiveTimeout:
			ctx.CancelReceiveTimeout()
			ctx.Send(sink, "after-timeout")
		case string:
			switch m {
			case "go":
				ctx.Send(sink, "send")
				ctx.Request(sink, "request")
				ctx.RequestWithCustomSender(sink, "custom", ctx.Self())
				ctx.Forward(sink) // forwards "go"
				ctx.Poison(victim)
				ctx.Respond("respond")
			case "no-sender":
				ctx.Respond("to-dead-letters")
			}
		}
	})
}

func TestTapSeesOutgoingMessages(t *testing.T) {
	actortest.RunSim(t, func(s *actortest.Sim) {
		t := s.T
		tap := actortest.NewProbe[string](s.T, s.System)
		sink := actortest.NewProbe[string](s.T, s.System)
		victim := s.Spawn(actor.PropsFromFunc(func(actor.Context) {}))
		props := tapTalker(sink.PID(), victim)
		talker := s.Spawn(actortest.Tap(props, tap))

		res, err := s.Root.RequestFuture(talker, "go", time.Second).Result()
		if err != nil || res != "respond" {
			t.Fatalf("RequestFuture = %v, %v; want respond", res, err)
		}
		s.Root.Send(talker, "no-sender")
		tap.ExpectTerminated(victim, time.Second) // poisoned, untapped
		s.Advance(time.Second)                    // receive timeout fires

		want := []any{"send", "request", "custom", "go", "respond", "after-timeout"}
		var got []any
		for _, m := range tap.Received() {
			if _, ok := m.(*actor.Terminated); !ok {
				got = append(got, m)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("tap saw %v, want %v", got, want)
		}
		if got, want := sink.Received(), []any{"send", "request", "custom", "go", "after-timeout"}; !slices.Equal(got, want) {
			t.Errorf("sink got %v, want %v (the tap must not change delivery)", got, want)
		}

		// The original props are untouched: no tap on a second talker.
		plain := s.Spawn(props)
		if _, err := s.Root.RequestFuture(plain, "go", time.Second).Result(); err != nil {
			t.Fatal(err)
		}
		s.Quiesce()
		if n := len(tap.Received()); n != len(want)+1 {
			t.Errorf("tap got %d messages after an untapped actor ran, want %d: %v", n, len(want)+1, tap.Received())
		}
	})
}

func TestTapDoesNotDuplicateSendsToTheProbe(t *testing.T) {
	actortest.RunSim(t, func(s *actortest.Sim) {
		t := s.T
		p := actortest.NewProbe[string](s.T, s.System)
		echo := s.Spawn(actortest.Tap(actor.PropsFromFunc(func(ctx actor.Context) {
			if m, ok := ctx.Message().(string); ok {
				ctx.Send(p.PID(), "direct:"+m)
			}
		}), p))
		s.Root.Send(echo, "x")
		if got := p.Expect(time.Second); got != "direct:x" {
			t.Fatalf("Expect = %q", got)
		}
		p.ExpectNone(time.Second)
	})
}

// Expect(0) in a bubble lets the actors settle first: a message that a
// relay forwards at this very instant is there, without time passing.
func TestProbeExpectZeroSettlesTheBubble(t *testing.T) {
	actortest.RunSim(t, func(s *actortest.Sim) {
		t := s.T
		p := actortest.NewProbe[string](s.T, s.System)
		relay := s.Spawn(actor.PropsFromFunc(func(c actor.Context) {
			if m, ok := c.Message().(string); ok {
				c.Send(p.PID(), m+"!")
			}
		}))
		s.Root.Send(relay, "now")
		start := s.Now()
		if got := p.Expect(0); got != "now!" {
			t.Fatalf("Expect(0) = %q, want now!", got)
		}
		if d := s.Now().Sub(start); d != 0 {
			t.Errorf("Expect(0) took %v of virtual time", d)
		}
		s.Root.Send(relay, "again")
		fake := &probeFakeTB{TB: t}
		q := actortest.NewProbe[int](fake, s.System)
		if msg := fake.failure(func() { q.ExpectNone(0) }); msg != "" {
			t.Errorf("ExpectNone(0) on an idle probe failed: %s", msg)
		}
	})
}
