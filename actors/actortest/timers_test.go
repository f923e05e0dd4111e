package actortest_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/scheduler"

	. "github.com/armistice-go/armistice/actors/actortest"
)

type (
	query     struct{}
	reply     struct{}
	giveUp    struct{}
	startWait struct{}
)

// waiterScenario: a waiter asks a peer and gives up after 2 s; it
// cancels its timer when the reply comes, and trusts that cancel (the
// bug: a timer that already fired has its message queued, and cancel
// cannot take it back). The peer is a stepped actor, or (peerMove) a
// participant whose reply is a move.
func waiterScenario(tm TimeModel, peerMove bool) Scenario {
	return func(w *World) {
		w.Time = tm
		var got []string
		var asked *actor.PID
		peer := w.Spawn(actor.PropsFromFunc(func(c actor.Context) {
			if _, ok := c.Message().(query); ok {
				if peerMove {
					asked = c.Sender()
					return
				}
				c.Respond(reply{})
			}
		}))
		var cancel scheduler.CancelFunc
		waiter := w.Spawn(actor.PropsFromFunc(func(c actor.Context) {
			switch c.Message().(type) {
			case startWait:
				c.Request(peer, query{})
				cancel = scheduler.NewTimerScheduler(c).SendOnce(2*time.Second, c.Self(), giveUp{})
			case reply:
				got = append(got, "reply")
				cancel()
			case giveUp:
				got = append(got, "timeout")
			}
		}))
		w.Action("start", nil, func() { w.Root.Send(waiter, startWait{}) })
		if peerMove {
			w.Action("peer replies", func() bool { return asked != nil }, func() { w.Root.Send(asked, reply{}) })
		}
		w.Eventually("no timeout after the reply", func() error {
			if slices.Equal(got, []string{"reply", "timeout"}) {
				return errors.New("timed out after the reply: cancel did not stop a timer that had fired")
			}
			return nil
		})
		w.Eventually("the reply came first", func() error {
			if peerMove && len(got) > 0 && got[0] == "timeout" {
				return errors.New("the timeout beat the peer")
			}
			return nil
		})
	}
}

// The timer fires while the reply waits in the mailbox: reachable only
// when time may pass while messages are queued (TimerMoves), under Random
// and PCT alike.
func TestTimerMoves_TimerFiresWhileReplyQueued(t *testing.T) {
	for _, st := range []Strategy{Random(), PCT(3)} {
		rep := Search(t, waiterScenario(TimerMoves, false), st, 300)
		f := rep.Failure
		if f == nil || !strings.Contains(f.Err.Error(), "timed out after the reply") {
			t.Fatalf("%s: the timer never fired while the reply was queued in %d schedules: %v", st, rep.Schedules, f)
		}
		if !slices.ContainsFunc(f.Trace, func(s string) bool { return strings.HasPrefix(s, "timer → ") }) {
			t.Errorf("%s: the trace shows no timer arrival:\n%v", st, f)
		}
		t.Logf("%s: found after %d schedules", st, rep.Schedules)
		again := Replay(t, waiterScenario(TimerMoves, false), ParseTrace(f.Error()))
		if again == nil || again.Err.Error() != f.Err.Error() || !slices.Equal(again.Trace, f.Trace) {
			t.Errorf("%s: replay = %v", st, again)
		}
	}
	// The earlier rule handles every queued message before time passes.
	for _, st := range []Strategy{Random(), PCT(3)} {
		if f := Search(t, waiterScenario(TimersWhenQuiet, false), st, 100).Failure; f != nil {
			t.Errorf("%s under TimersWhenQuiet: %v", st, f)
		}
	}
}

// PCT gives time a random priority like any participant: the timeout can
// beat a participant that has a move all along.
func TestPCT_TimeBeatsAParticipant(t *testing.T) {
	for _, depth := range []int{1, 2, 3} {
		rep := Search(t, waiterScenario(TimerMoves, true), PCT(depth), 100)
		if rep.Failure == nil {
			t.Errorf("pct(%d): time never beat the participant in %d schedules", depth, rep.Schedules)
			continue
		}
		t.Logf("pct(%d): %s after %d schedules", depth, firstLine(rep.Failure.Err), rep.Schedules)
	}
}

// A timer's message reaches its mailbox as a move of its own, after its
// deadline, and is named in the trace by target and type.
func TestTimerMoves_ArrivalIsAMove(t *testing.T) {
	var trace []string
	scenario := func(w *World) {
		w.Spawn(actor.PropsFromFunc(func(c actor.Context) {
			if _, ok := c.Message().(*actor.Started); ok {
				scheduler.NewTimerScheduler(c).SendOnce(5*time.Second, c.Self(), giveUp{})
			}
		}))
		w.Eventually("record", func() error { trace = w.Trace(); return nil })
	}
	if f := Search(t, scenario, FIFO(), 1).Failure; f != nil {
		t.Fatal(f)
	}
	want := []string{"deliver $1 system *actor.Started", "advance | +5s", "timer → $1 actortest_test.giveUp", "deliver $1 actortest_test.giveUp", "advance | +1h0m0s"}
	if !slices.Equal(trace, want) {
		t.Errorf("trace:\n got %q\nwant %q", trace, want)
	}
}

// firstLine is an error's first line, for logs.
func firstLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
