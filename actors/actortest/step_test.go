package actortest_test

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/scheduler"

	"github.com/armistice-go/armistice/actors/actortest"
)

// Small user actors (not Armistice) for the Step-mode tests.

type (
	deposit   struct{ Amount int }
	withdraw  struct{ Amount int }
	balance   struct{}
	balanceIs struct{ Amount int }
	refused   struct{ Want, Have int }
)

// account is a bank account: deposits are told, withdrawals and balance
// queries are answered.
type account struct{ funds int }

func (a *account) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case deposit:
		a.funds += m.Amount
	case withdraw:
		if m.Amount > a.funds {
			ctx.Respond(refused{Want: m.Amount, Have: a.funds})
			return
		}
		a.funds -= m.Amount
		ctx.Respond(balanceIs{Amount: a.funds})
	case balance:
		ctx.Respond(balanceIs{Amount: a.funds})
	}
}

type (
	greeting struct{}
	crash    struct{} // makes a stepLog actor panic
	stopKid  struct{}
	parcel   int
	// tray is a user message batch: proto.actor's mailbox posts its
	// messages one by one (and the tray itself).
	tray struct{ Items []any }
)

func (t tray) GetMessages() []any { return t.Items }

// stepLog records what an actor received. Its mutex matters only for
// the plain (unstepped) actors some tests compare with: stepped actors
// run on the test's goroutine.
type stepLog struct {
	mu  sync.Mutex
	got []any
}

func (l *stepLog) receive(ctx actor.Context) {
	l.mu.Lock()
	l.got = append(l.got, ctx.Message())
	l.mu.Unlock()
	if _, ok := ctx.Message().(crash); ok {
		panic("crash")
	}
}

func (l *stepLog) props(opts ...actor.PropsOption) *actor.Props {
	return actor.PropsFromFunc(l.receive, opts...)
}

// types lists the received messages as %T, values for parcels.
func (l *stepLog) types() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]string, 0, len(l.got))
	for _, m := range l.got {
		if p, ok := m.(parcel); ok {
			out = append(out, fmt.Sprintf("parcel %d", p))
			continue
		}
		out = append(out, fmt.Sprintf("%T", m))
	}
	return out
}

func spawnNamed(w *actortest.World, props *actor.Props, name string) *actor.PID {
	w.T.Helper()
	pid, err := w.SpawnNamed(props, name)
	if err != nil {
		w.T.Fatalf("spawn %s: %v", name, err)
	}
	return pid
}

// pending lists the world's queued messages as "actor [system ]type".
func pending(w *actortest.World) []string {
	var out []string
	for _, p := range w.Pending() {
		s := p.Actor + " "
		if p.System {
			s += "system "
		}
		if n, ok := p.Message.(parcel); ok {
			out = append(out, fmt.Sprintf("%sparcel %d", s, n))
			continue
		}
		out = append(out, s+fmt.Sprintf("%T", p.Message))
	}
	return out
}

func effectStrings(es []actortest.Effect) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.String()
	}
	return out
}

func expectList(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got %q\nwant %q", what, got, want)
	}
}

func isParcel(n int) func(any) bool {
	return func(m any) bool { return m == parcel(n) }
}

func isEven(m any) bool {
	p, ok := m.(parcel)
	return ok && p%2 == 0
}

func TestStepBankAccount(t *testing.T) {
	actortest.RunStep(t, func(w *actortest.World) {
		t := w.T
		acct := &account{}
		pid := spawnNamed(w, actor.PropsFromProducer(func() actor.Actor { return acct }), "account")
		w.Root.Send(pid, deposit{Amount: 50})
		tooMuch := w.Root.RequestFuture(pid, withdraw{Amount: 80}, time.Second)
		bal := w.Root.RequestFuture(pid, balance{}, time.Second)

		// Nothing ran yet: even Started waits, ahead of the user messages.
		expectList(t, "pending before any step", pending(w), []string{
			"account system *actor.Started",
			"account actortest_test.deposit",
			"account actortest_test.withdraw",
			"account actortest_test.balance",
		})
		w.Step()
		w.Step()
		// Between steps the actor's state is the test's to read: it only
		// runs inside Step, on this goroutine.
		if acct.funds != 50 {
			t.Fatalf("funds after the deposit step = %d", acct.funds)
		}
		if n := w.RunUntilQuiet(); n != 2 {
			t.Errorf("RunUntilQuiet took %d steps, want 2", n)
		}
		if w.Step() {
			t.Error("a quiet world still stepped")
		}

		// The futures were answered during the steps, so Result does not wait.
		if got, err := tooMuch.Result(); err != nil || got != (refused{Want: 80, Have: 50}) {
			t.Errorf("withdraw 80 = %v, %v", got, err)
		}
		if got, err := bal.Result(); err != nil || got != (balanceIs{Amount: 50}) {
			t.Errorf("balance = %v, %v", got, err)
		}
		expectList(t, "trace", w.Trace(), []string{
			"deliver account system *actor.Started",
			"deliver account actortest_test.deposit",
			"deliver account actortest_test.withdraw",
			"deliver account actortest_test.balance",
		})
		expectList(t, "effects", effectStrings(w.Effects()), []string{
			"root spawn account",
			"account respond actortest_test.refused",
			"account respond actortest_test.balanceIs",
		})
		if r := w.EffectsOf(actortest.EffectRespond); len(r) != 2 || r[1].Message != (balanceIs{Amount: 50}) {
			t.Errorf("respond effects = %+v", r)
		}
	})
}

// A child spawned by a stepped actor from the user's own props is stepped
// too (spawn middleware), and those props stay as they were.
func TestStepChildGetsASteppingMailbox(t *testing.T) {
	actortest.RunStep(t, func(w *actortest.World) {
		t := w.T
		kid := &stepLog{}
		childProps := kid.props()
		var child *actor.PID
		var terminated []string
		parent := spawnNamed(w, actor.PropsFromFunc(func(ctx actor.Context) {
			switch m := ctx.Message().(type) {
			case *actor.Started:
				child, _ = ctx.SpawnNamed(childProps, "child")
				ctx.Watch(child)
				ctx.Send(child, greeting{})
			case stopKid:
				ctx.Stop(child)
			case *actor.Terminated:
				terminated = append(terminated, m.Who.Id)
			}
		}), "parent")

		w.Step() // the parent starts, spawns, watches and greets
		if len(kid.types()) != 0 {
			t.Fatalf("the child ran without a step: %q", kid.types())
		}
		expectList(t, "pending after the parent's start", pending(w), []string{
			"parent/child system *actor.Started",
			"parent/child system *actor.Watch",
			"parent/child actortest_test.greeting",
		})
		w.RunUntilQuiet()
		expectList(t, "child received", kid.types(), []string{"*actor.Started", "actortest_test.greeting"})

		w.Root.Send(parent, stopKid{})
		w.RunUntilQuiet()
		expectList(t, "child received", kid.types(), []string{"*actor.Started", "actortest_test.greeting", "*actor.Stopping", "*actor.Stopped"})
		// proto.actor tells a watching parent twice: as a watcher and as the parent.
		expectList(t, "parent got Terminated of", terminated, []string{"parent/child", "parent/child"})
		expectList(t, "effects", effectStrings(w.Effects()), []string{
			"root spawn parent",
			"parent spawn parent/child",
			"parent watch parent/child",
			"parent stop parent/child",
		})

		// The same props, spawned outside the world, get proto.actor's own
		// mailbox: they run with no step at all.
		before := len(kid.types())
		plain := w.System.Root.Spawn(childProps)
		w.System.Root.Send(plain, greeting{})
		synctest.Wait()
		expectList(t, "plain actor received", kid.types()[before:], []string{"*actor.Started", "actortest_test.greeting"})
		if err := w.System.Root.StopFuture(plain).Wait(); err != nil {
			t.Errorf("stop the plain actor: %v", err)
		}
	})
}

func TestStepSystemMessagesGoFirst(t *testing.T) {
	actortest.RunStep(t, func(w *actortest.World) {
		t := w.T
		box := &stepLog{}
		pid := spawnNamed(w, box.props(), "box")
		w.Step()
		w.Root.Send(pid, greeting{})
		w.Root.Send(pid, greeting{})
		w.Root.Stop(pid) // queued last, delivered first
		expectList(t, "pending", pending(w), []string{
			"box system *actor.Stop",
			"box actortest_test.greeting",
			"box actortest_test.greeting",
		})
		w.RunUntilQuiet()
		expectList(t, "received", box.types(), []string{"*actor.Started", "*actor.Stopping", "*actor.Stopped"})
	})
}

// supervised spawns a parent (with opts) whose child logs to kid and
// panics on crash, and runs both to quiet; terminated collects the
// Terminated the parent receives.
func supervised(w *actortest.World, kid *stepLog, opts ...actor.PropsOption) (child *actor.PID, terminated *[]string) {
	terminated = new([]string)
	spawnNamed(w, actor.PropsFromFunc(func(ctx actor.Context) {
		switch m := ctx.Message().(type) {
		case *actor.Started:
			child, _ = ctx.SpawnNamed(kid.props(), "kid")
		case *actor.Terminated:
			*terminated = append(*terminated, m.Who.Id)
		}
	}, opts...), "parent")
	w.RunUntilQuiet()
	return child, terminated
}

func stepN(w *actortest.World, n int) {
	for range n {
		if !w.Step() {
			w.T.Fatalf("nothing to step; trace:\n%s", strings.Join(w.Trace(), "\n"))
		}
	}
}

// The parent's default strategy restarts a child that panicked, through
// steps: suspend, failure, restart, resume.
func TestStepPanicRestartsThroughSteps(t *testing.T) {
	actortest.RunStep(t, func(w *actortest.World) {
		t := w.T
		kid := &stepLog{}
		child, _ := supervised(w, kid)
		w.Root.Send(child, crash{})
		w.Root.Send(child, greeting{})
		skip := len(w.Trace())
		stepN(w, 1) // the crash: the child suspends itself and tells its parent
		expectList(t, "pending after the panic", pending(w), []string{
			"parent system *actor.Failure",
			"parent/kid system *actor.SuspendMailbox",
			"parent/kid actortest_test.greeting",
		})
		w.RunUntilQuiet()
		expectList(t, "trace", w.Trace()[skip:], []string{
			"deliver parent/kid actortest_test.crash",
			"deliver parent/kid system *actor.SuspendMailbox",
			"deliver parent system *actor.Failure",
			"deliver parent/kid system *actor.Restart",
			"deliver parent/kid system *actor.ResumeMailbox",
			"deliver parent/kid actortest_test.greeting",
		})
		expectList(t, "child received", kid.types(), []string{
			"*actor.Started", "actortest_test.crash", "*actor.Restarting", "*actor.Started", "actortest_test.greeting",
		})
		// proto.actor's own logs are captured: the recovery and the directive.
		if n := w.Logs.Count(slog.LevelInfo, "[ACTOR] Recovering"); n != 1 {
			t.Errorf("%d recovery logs, want 1", n)
		}
		var directives []string
		for _, e := range w.Logs.Entries() {
			if e.Message == "[SUPERVISION]" {
				directives = append(directives, fmt.Sprint(e.Attrs["directive"]))
			}
		}
		expectList(t, "supervision logs", directives, []string{"RestartDirective"})
	})
}

func TestStepPanicUnderStopStrategyStopsTheChild(t *testing.T) {
	actortest.RunStep(t, func(w *actortest.World) {
		t := w.T
		kid := &stepLog{}
		stop := actor.NewOneForOneStrategy(10, time.Second, func(any) actor.Directive { return actor.StopDirective })
		child, terminated := supervised(w, kid, actor.WithSupervisor(stop))
		w.Root.Send(child, crash{})
		w.Root.Send(child, greeting{})
		w.RunUntilQuiet()
		expectList(t, "child received", kid.types(), []string{"*actor.Started", "actortest_test.crash", "*actor.Stopping", "*actor.Stopped"})
		expectList(t, "parent got Terminated of", *terminated, []string{"parent/kid"})
		// Stopped while suspended: the greeting is never delivered, as with
		// proto.actor's own mailbox.
		expectList(t, "pending", pending(w), []string{"parent/kid actortest_test.greeting"})
	})
}

// A suspended mailbox still takes system messages, but user messages
// wait until it is resumed (here by a resuming supervisor: no restart).
func TestStepSuspendedMailboxHoldsUserMessagesUntilResume(t *testing.T) {
	actortest.RunStep(t, func(w *actortest.World) {
		t := w.T
		kid := &stepLog{}
		resume := actor.NewOneForOneStrategy(10, time.Second, func(any) actor.Directive { return actor.ResumeDirective })
		child, _ := supervised(w, kid, actor.WithSupervisor(resume))
		w.Root.Send(child, crash{})
		w.Root.Send(child, greeting{})
		stepN(w, 2) // the crash, then the suspension
		if w.Deliver(child, nil) {
			t.Fatal("Deliver reached a suspended mailbox")
		}
		stepN(w, 1) // the parent's Failure: it resumes the child
		if got := kid.types(); len(got) != 2 {
			t.Fatalf("the child received %q while suspended", got)
		}
		stepN(w, 1) // the resume
		if !w.Deliver(child, nil) {
			t.Fatal("Deliver found nothing after the resume")
		}
		expectList(t, "child received", kid.types(), []string{"*actor.Started", "actortest_test.crash", "actortest_test.greeting"})
	})
}

// A message batch is expanded as proto.actor's default mailbox does
// (mailbox.go, defaultMailbox.PostUserMessage): each inner message is
// posted, then the batch itself, bare or in an envelope.
func TestStepMessageBatchAsDefaultMailbox(t *testing.T) {
	actortest.RunStep(t, func(w *actortest.World) {
		t := w.T
		send := func(root *actor.RootContext, pid, sender *actor.PID) {
			root.Send(pid, tray{Items: []any{parcel(1), parcel(2)}})
			root.RequestWithCustomSender(pid, tray{Items: []any{parcel(3)}}, sender)
		}
		stepped, plain := &stepLog{}, &stepLog{}
		spid := spawnNamed(w, stepped.props(), "stepped")
		w.Step()
		send(w.Root, spid, spid)
		expectList(t, "pending", pending(w), []string{
			"stepped parcel 1", "stepped parcel 2", "stepped actortest_test.tray",
			"stepped parcel 3", "stepped actortest_test.tray",
		})
		w.RunUntilQuiet()

		ppid := w.System.Root.Spawn(plain.props())
		send(w.System.Root, ppid, ppid)
		synctest.Wait()
		expectList(t, "stepped vs default mailbox", stepped.types(), plain.types())
		if len(stepped.types()) != 6 {
			t.Errorf("received %q", stepped.types())
		}
		_ = w.System.Root.StopFuture(ppid).Wait()
	})
}

func TestStepEffects(t *testing.T) {
	actortest.RunStep(t, func(w *actortest.World) {
		t := w.T
		idle := &stepLog{}
		mgr := spawnNamed(w, actor.PropsFromFunc(func(ctx actor.Context) {
			switch ctx.Message().(type) {
			case *actor.Started:
				w1, _ := ctx.SpawnNamed(idle.props(), "w1")
				ctx.Watch(w1)
				ctx.Unwatch(w1)
				ctx.Stop(w1)
				w2, _ := ctx.SpawnNamed(idle.props(), "w2")
				ctx.Poison(w2)
				ctx.SetReceiveTimeout(time.Minute)
			case balance:
				ctx.Respond(balanceIs{Amount: 7})
			}
		}), "manager")
		f := w.Root.RequestFuture(mgr, balance{}, time.Second)
		w.RunUntilQuiet()
		if got, err := f.Result(); err != nil || got != (balanceIs{Amount: 7}) {
			t.Errorf("balance = %v, %v", got, err)
		}
		expectList(t, "effects", effectStrings(w.Effects()), []string{
			"root spawn manager",
			"manager spawn manager/w1",
			"manager watch manager/w1",
			"manager unwatch manager/w1",
			"manager stop manager/w1",
			"manager spawn manager/w2",
			"manager poison manager/w2",
			"manager receive_timeout 1m0s",
			"manager respond actortest_test.balanceIs",
		})
		if rt := w.EffectsOf(actortest.EffectReceiveTimeout); len(rt) != 1 || rt[0].Timeout != time.Minute {
			t.Errorf("receive_timeout effects = %+v", rt)
		}
		expectList(t, "workers received", idle.types(), []string{
			"*actor.Started", "*actor.Stopping", "*actor.Stopped", // w1, stopped
			"*actor.Started", "*actor.Stopping", "*actor.Stopped", // w2, poisoned
		})
	})
}

// Held messages go to the tail of their mailbox on release, in their
// original order, behind what arrived meanwhile.
func TestStepHoldAndRelease(t *testing.T) {
	actortest.RunStep(t, func(w *actortest.World) {
		t := w.T
		box := &stepLog{}
		pid := spawnNamed(w, box.props(), "box")
		w.Step()
		for n := 1; n <= 4; n++ {
			w.Root.Send(pid, parcel(n))
		}
		w.Hold(isEven) // the queued 2 and 4, and every even parcel to come
		w.Root.Send(pid, parcel(5))
		w.Root.Send(pid, parcel(6))
		w.RunUntilQuiet()
		expectList(t, "while holding", box.types()[1:], []string{"parcel 1", "parcel 3", "parcel 5"})
		w.Root.Send(pid, parcel(7))
		w.Release(isParcel(4)) // only 4
		w.Root.Send(pid, parcel(8))
		expectList(t, "pending after releasing 4", pending(w), []string{"box parcel 7", "box parcel 4"})
		w.Release(nil)
		expectList(t, "pending after releasing all", pending(w), []string{"box parcel 7", "box parcel 4", "box parcel 2", "box parcel 6", "box parcel 8"})
		w.RunUntilQuiet()
		w.Root.Send(pid, parcel(10)) // nothing is held any more
		w.RunUntilQuiet()
		expectList(t, "received", box.types()[1:], []string{
			"parcel 1", "parcel 3", "parcel 5", "parcel 7", "parcel 4", "parcel 2", "parcel 6", "parcel 8", "parcel 10",
		})
	})
}

func TestStepDeliverReorders(t *testing.T) {
	actortest.RunStep(t, func(w *actortest.World) {
		t := w.T
		box := &stepLog{}
		pid := spawnNamed(w, box.props(), "box")
		w.Step()
		for n := 1; n <= 3; n++ {
			w.Root.Send(pid, parcel(n))
		}
		if !w.Deliver(pid, isParcel(3)) {
			t.Fatal("Deliver did not find parcel 3")
		}
		if w.Deliver(pid, isParcel(9)) {
			t.Error("Deliver found a parcel never sent")
		}
		w.RunUntilQuiet()
		expectList(t, "received", box.types()[1:], []string{"parcel 3", "parcel 1", "parcel 2"})
		expectList(t, "trace", w.Trace()[1:], []string{
			"deliver box actortest_test.parcel", "deliver box actortest_test.parcel", "deliver box actortest_test.parcel",
		})
	})
}

// Deliver's doc: it delivers the matching user message "after any system
// message pid has queued", and "reports whether one was found". Today a
// queued system message is delivered instead of the match, and reported
// as found.
func TestStepDeliverAfterPendingSystemMessages(t *testing.T) {
	actortest.RunStep(t, func(w *actortest.World) {
		t := w.T
		box, other := &stepLog{}, &stepLog{}
		pid := spawnNamed(w, box.props(), "box") // its Started is queued: a system message
		w.Root.Send(pid, parcel(1))
		w.Root.Send(pid, parcel(2))
		if !w.Deliver(pid, isParcel(2)) {
			t.Error("Deliver did not find parcel 2")
		}
		expectList(t, "received after one Deliver", box.types(), []string{"*actor.Started", "parcel 2"})

		opid := spawnNamed(w, other.props(), "other")
		w.Root.Send(opid, parcel(1))
		if w.Deliver(opid, isParcel(9)) {
			t.Error("Deliver reported a parcel never sent as found")
		}
	})
}

type (
	ask      struct{}
	question struct{}
	answer   struct{}
)

// asker answers ask by asking oracle, waiting on the future inside
// Receive (blocking) or through ReenterAfter.
func askerScenario(blocking bool, got *[]any) actortest.Scenario {
	return func(w *actortest.World) {
		oracle := spawnNamed(w, actor.PropsFromFunc(func(ctx actor.Context) {
			if _, ok := ctx.Message().(question); ok {
				ctx.Respond(answer{})
			}
		}), "oracle")
		asker := spawnNamed(w, actor.PropsFromFunc(func(ctx actor.Context) {
			if _, ok := ctx.Message().(ask); !ok {
				return
			}
			f := ctx.RequestFuture(oracle, question{}, 5*time.Second)
			if blocking {
				res, err := f.Result() // the oracle is stepped: it cannot answer while this waits
				*got = append(*got, res, err)
				return
			}
			ctx.ReenterAfter(f, func(res any, err error) { *got = append(*got, res, err) })
		}), "asker")
		w.Action("ask", nil, func() { w.Root.Send(asker, ask{}) })
	}
}

// RunStep would fail the test on a blocked Receive, so the scenario runs
// through Search, which returns the failure instead.
func TestStepBlockingReceiveIsReported(t *testing.T) {
	var got []any
	rep := actortest.Search(t, askerScenario(true, &got), actortest.FIFO(), 1)
	f := rep.Failure
	if f == nil || !errors.Is(f, actortest.ErrBlockedReceive) {
		t.Fatalf("failure = %v, want ErrBlockedReceive", f)
	}
	if !strings.Contains(f.Err.Error(), "asker blocked for 5s") {
		t.Errorf("error does not name the actor and the wait: %v", f.Err)
	}
	if len(got) != 2 || got[1] != actor.ErrTimeout {
		t.Errorf("the blocked Result returned %v, want a timeout", got)
	}
}

func TestStepReenterAfterDoesNotBlock(t *testing.T) {
	var got []any
	if f := actortest.Search(t, askerScenario(false, &got), actortest.FIFO(), 1).Failure; f != nil {
		t.Fatalf("ReenterAfter failed: %v", f)
	}
	if len(got) != 2 || got[0] != (answer{}) || got[1] != nil {
		t.Errorf("continuation got %v, want the answer", got)
	}
}

type wake struct{}

// Timers (proto.actor's scheduler, SetReceiveTimeout) fire only when the
// test lets virtual time pass, and their messages then wait for steps.
func TestStepTimersFireOnAdvance(t *testing.T) {
	actortest.RunStep(t, func(w *actortest.World) {
		t := w.T
		box := &stepLog{}
		spawnNamed(w, actor.PropsFromFunc(func(ctx actor.Context) {
			box.receive(ctx)
			if _, ok := ctx.Message().(*actor.Started); ok {
				ctx.SetReceiveTimeout(30 * time.Second)
				scheduler.NewTimerScheduler(ctx).SendOnce(10*time.Second, ctx.Self(), wake{})
			}
		}), "sleeper")
		start := time.Now()
		w.RunUntilQuiet()
		if d := time.Since(start); d != 0 {
			t.Errorf("stepping moved virtual time by %v", d)
		}
		w.Advance(9 * time.Second)
		expectList(t, "pending at 9s", pending(w), nil)
		w.Advance(time.Second)
		expectList(t, "pending at 10s", pending(w), []string{"sleeper actortest_test.wake"})
		expectList(t, "received before the step", box.types(), []string{"*actor.Started"})
		w.Step() // wake: it also restarts the 30 s receive timeout
		w.Advance(29 * time.Second)
		expectList(t, "pending at 39s", pending(w), nil)
		w.Advance(time.Second)
		expectList(t, "pending at 40s", pending(w), []string{"sleeper *actor.ReceiveTimeout"})
		w.RunUntilQuiet()
		expectList(t, "received", box.types(), []string{"*actor.Started", "actortest_test.wake", "*actor.ReceiveTimeout"})
		expectList(t, "timer effects", effectStrings(w.EffectsOf(actortest.EffectTimer)), []string{
			"timer → sleeper actortest_test.wake",
			"timer → sleeper *actor.ReceiveTimeout",
		})
		expectList(t, "trace", w.Trace(), []string{
			"deliver sleeper system *actor.Started",
			"advance 9s",
			"advance 1s",
			"deliver sleeper actortest_test.wake",
			"advance 29s",
			"advance 1s",
			"deliver sleeper *actor.ReceiveTimeout",
		})
	})
}

// Two clients each bump a counter by reading it and writing back the
// value plus one: a check-then-act race that loses an update when both
// read before either writes.
type (
	getCount struct{}
	countIs  struct{ N int }
	setCount struct{ N int }
	addOne   struct{}
	bump     struct{}
)

func counterScenario(racy bool) actortest.Scenario {
	return func(w *actortest.World) {
		n := 0
		counter := spawnNamed(w, actor.PropsFromFunc(func(ctx actor.Context) {
			switch m := ctx.Message().(type) {
			case getCount:
				ctx.Respond(countIs{N: n})
			case setCount:
				n = m.N
			case addOne:
				n++
			}
		}), "counter")
		for _, name := range []string{"alice", "bob"} {
			client := spawnNamed(w, actor.PropsFromFunc(func(ctx actor.Context) {
				switch m := ctx.Message().(type) {
				case bump:
					if racy {
						ctx.Request(counter, getCount{})
					} else {
						ctx.Send(counter, addOne{})
					}
				case countIs:
					ctx.Send(counter, setCount{N: m.N + 1})
				}
			}), name)
			w.Action(name+" bumps", nil, func() { w.Root.Send(client, bump{}) })
		}
		w.Eventually("two bumps count two", func() error {
			if n != 2 {
				return fmt.Errorf("count = %d", n)
			}
			return nil
		})
	}
}

func TestExplore_FindsCheckThenActRaceFIFOMisses(t *testing.T) {
	racy := counterScenario(true)
	// The fixed order runs each client to the end before the next moves.
	if f := actortest.Search(t, racy, actortest.FIFO(), 1).Failure; f != nil {
		t.Fatalf("FIFO found the race (the test assumes it cannot): %v", f)
	}
	for _, st := range []actortest.Strategy{actortest.Random(), actortest.PCT(3)} {
		rep := actortest.Search(t, racy, st, 300)
		f := rep.Failure
		if f == nil {
			t.Errorf("%s: no failure in %d schedules", st, rep.Schedules)
			continue
		}
		if !errors.Is(f, actortest.ErrLiveness) || !strings.Contains(f.Err.Error(), "count = 1") {
			t.Errorf("%s: failure = %v", st, f.Err)
		}
		t.Logf("%s: found after %d schedules (seed %d)", st, rep.Schedules, f.Seed)
		// The printed failure replays: its trace, as pasted from the log.
		again := actortest.Replay(t, racy, actortest.ParseTrace(f.Error()))
		if again == nil || !errors.Is(again, actortest.ErrLiveness) || again.Err.Error() != f.Err.Error() {
			t.Errorf("%s: replay = %v, want %v", st, again, f.Err)
		}
	}
	// Control: the atomic increment survives the same exploration.
	actortest.Explore(t, counterScenario(false), actortest.Random(), 100)
	actortest.Explore(t, counterScenario(false), actortest.PCT(3), 100)
}

// Messages one goroutine posts to a stepped actor arrive in the order it
// posted them, as with any proto.actor mailbox: here a plain (unstepped)
// relay forwards 2 then 1 from one Receive, within one step.
func TestStepOneSendersOrderIsKept(t *testing.T) {
	actortest.RunStep(t, func(w *actortest.World) {
		t := w.T
		box := &stepLog{}
		pid := spawnNamed(w, box.props(), "box")
		w.Step()
		relay := w.System.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
			if ps, ok := ctx.Message().([]parcel); ok {
				for _, p := range ps {
					ctx.Send(pid, p)
				}
			}
		}))
		w.System.Root.Send(relay, []parcel{2, 1})
		w.RunUntilQuiet()
		expectList(t, "received", box.types()[1:], []string{"parcel 2", "parcel 1"})
		_ = w.System.Root.StopFuture(relay).Wait()
	})
}

// StopFuture and PoisonFuture stop and poison too: they are effects like
// Stop and Poison.
func TestStepEffectsOfStopFutureAndPoisonFuture(t *testing.T) {
	actortest.RunStep(t, func(w *actortest.World) {
		t := w.T
		idle := &stepLog{}
		spawnNamed(w, actor.PropsFromFunc(func(ctx actor.Context) {
			if _, ok := ctx.Message().(*actor.Started); ok {
				w1, _ := ctx.SpawnNamed(idle.props(), "w1")
				ctx.StopFuture(w1) // not waited on: that would block Receive
				w2, _ := ctx.SpawnNamed(idle.props(), "w2")
				ctx.PoisonFuture(w2)
			}
		}), "manager")
		w.RunUntilQuiet()
		expectList(t, "effects", effectStrings(w.Effects()), []string{
			"root spawn manager",
			"manager spawn manager/w1",
			"manager stop manager/w1",
			"manager spawn manager/w2",
			"manager poison manager/w2",
		})
	})
}

// A scenario may vary itself with World.Rand (the package doc recommends
// it); replaying its printed trace must see the same variation.
func TestExplore_ReplayOfARandScenario(t *testing.T) {
	varied := func(w *actortest.World) {
		box := &stepLog{}
		pid := spawnNamed(w, box.props(), "box")
		n := 1 + w.Rand().IntN(1000)
		w.Action("send", nil, func() { w.Root.Send(pid, parcel(n)) })
		w.Eventually("never", func() error { return fmt.Errorf("received %q", box.types()) })
	}
	f := actortest.Search(t, varied, actortest.Random(), 1).Failure
	if f == nil {
		t.Fatal("the always-failing scenario passed")
	}
	again := actortest.Replay(t, varied, actortest.ParseTrace(f.Error()))
	if again == nil || again.Err.Error() != f.Err.Error() {
		t.Errorf("replay = %v\nwant %v", again, f.Err)
	}
}

// MaxSteps "bounds a run"; a world that never goes quiet should fail with
// ErrStepBound ("did not go quiet within MaxSteps") after MaxSteps steps.
func TestStepRunUntilQuietStopsAtMaxSteps(t *testing.T) {
	steps := 0
	busy := func(w *actortest.World) {
		w.MaxSteps = 10
		spawnNamed(w, actor.PropsFromFunc(func(ctx actor.Context) {
			ctx.Send(ctx.Self(), greeting{}) // forever
		}), "busy")
		steps = w.RunUntilQuiet()
	}
	f := actortest.Search(t, busy, actortest.FIFO(), 1).Failure
	if f == nil || !errors.Is(f, actortest.ErrStepBound) {
		t.Errorf("failure = %v, want ErrStepBound", f)
	}
	if steps != 10 {
		t.Errorf("RunUntilQuiet took %d steps with MaxSteps 10", steps)
	}
}
