package examples_test

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/goleak"

	"github.com/armistice-go/armistice/actors/actortest"
	. "github.com/armistice-go/armistice/actors/actortest/examples"
	"github.com/armistice-go/armistice/internal/race"
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

// tellerScenario: an account holding 100, a teller, and two customers
// who each withdraw 80 at a moment the strategy picks.
func tellerScenario(teller func(account *actor.PID) actor.Actor) actortest.Scenario {
	return func(w *actortest.World) {
		acct := &Account{Balance: 100}
		account := spawn(w, actor.PropsFromProducer(func() actor.Actor { return acct }), "account")
		tellerPID := spawn(w, actor.PropsFromProducer(func() actor.Actor { return teller(account) }), "teller")
		answers := map[string]any{}
		for _, name := range []string{"alice", "bob"} {
			customer := spawn(w, actor.PropsFromFunc(func(c actor.Context) {
				switch m := c.Message().(type) {
				case Paid, Refused:
					answers[name] = m
				}
			}), name)
			w.Action(name+" withdraws 80", nil, func() {
				w.Root.RequestWithCustomSender(tellerPID, Withdraw{Amount: 80}, customer)
			})
		}
		w.Invariant("never overdrawn", func() error {
			if acct.Balance < 0 {
				return fmt.Errorf("balance %d", acct.Balance)
			}
			return nil
		})
		w.Eventually("both customers answered", func() error {
			if len(answers) != 2 {
				return fmt.Errorf("answers: %v", answers)
			}
			return nil
		})
	}
}

var (
	racyTeller  = tellerScenario(func(a *actor.PID) actor.Actor { return &RacyTeller{Account: a} })
	fixedTeller = tellerScenario(func(a *actor.PID) actor.Actor { return &FixedTeller{Account: a} })
)

// cashierScenario: a customer checks out one order; the payment gateway
// (an outside service) authorises it at a moment the strategy picks,
// possibly after the cashier's 2 s timeout.
func cashierScenario(v Version) actortest.Scenario {
	return func(w *actortest.World) {
		var asked *actor.PID
		gateway := spawn(w, actor.PropsFromFunc(func(c actor.Context) {
			if _, ok := c.Message().(Authorise); ok {
				asked = c.Sender()
			}
		}), "gateway")
		k := &Cashier{Gateway: gateway, Version: v}
		cashier := spawn(w, actor.PropsFromProducer(func() actor.Actor { return k }), "cashier")
		w.Action("customer checks out", nil, func() { w.Root.Send(cashier, Checkout{Order: "o1"}) })
		w.Action("gateway authorises", func() bool { return asked != nil }, func() {
			w.Root.Send(asked, Authorised{Order: "o1"})
		})
		w.Invariant("charged or cancelled, never both", func() error {
			if k.Charges["o1"] > 0 && k.Cancels["o1"] > 0 {
				return fmt.Errorf("order o1 charged %d and cancelled %d times", k.Charges["o1"], k.Cancels["o1"])
			}
			return nil
		})
		w.Eventually("the order is settled", func() error {
			if s := k.Orders["o1"]; s != Charged && s != Cancelled {
				return fmt.Errorf("order o1 is %d", s)
			}
			return nil
		})
	}
}

// findAndReplay is the tutorial's loop for one bug: the fixed order (a
// plain test) misses it, exploration finds it, and its seed replays it
// exactly, as does its printed trace.
func findAndReplay(t *testing.T, buggy actortest.Scenario, want error) {
	t.Helper()
	if f := actortest.Search(t, buggy, actortest.FIFO(), 1).Failure; f != nil {
		t.Errorf("FIFO found it (the tutorial says a plain test misses it): %v", firstLine(f))
	}
	for _, st := range []actortest.Strategy{actortest.Random(), actortest.PCT(3)} {
		rep := actortest.Search(t, buggy, st, 1000)
		f := rep.Failure
		if f == nil && os.Getenv(actortest.SeedEnv) != "" {
			t.Logf("%s: seed %s passes", st, os.Getenv(actortest.SeedEnv)) // a replay of the other strategy's seed
			continue
		}
		if f == nil {
			t.Fatalf("%s found nothing in %d schedules", st, rep.Schedules)
		}
		if !errors.Is(f, want) {
			t.Fatalf("%s: %v, want %v", st, f, want)
		}
		t.Logf("%s: after %d schedules: %s\n%s", st, rep.Schedules, firstLine(f), actortest.ReplayCommand(t, f.Seed))
		again := actortest.Search(t, buggy, st, 1, actortest.StartSeed(f.Seed)).Failure
		if again == nil || !slices.Equal(again.Trace, f.Trace) {
			t.Errorf("%s: seed %d did not replay:\n%v", st, f.Seed, again)
		}
		if r := actortest.Replay(t, buggy, actortest.ParseTrace(f.Error())); r == nil || r.Err.Error() != f.Err.Error() {
			t.Errorf("%s: the trace did not replay: %v", st, r)
		}
	}
}

// verifyFix runs the fixed scenario under 1,000 schedules: 500 Random,
// 500 PCT(3); under the race detector a tenth of them (race.Schedules),
// the full 1,000 running in .ci/run's pass without -race.
func verifyFix(t *testing.T, fixed actortest.Scenario) {
	t.Helper()
	n := race.Schedules(1000) / 2
	actortest.Explore(t, fixed, actortest.Random(), n)
	actortest.Explore(t, fixed, actortest.PCT(3), n, actortest.StartSeed(uint64(n+1)))
}

func TestRacyTellerOverdraws(t *testing.T) { findAndReplay(t, racyTeller, actortest.ErrInvariant) }

func TestFixedTellerNeverOverdraws(t *testing.T) { verifyFix(t, fixedTeller) }

func TestNaiveCashierChargesLate(t *testing.T) {
	findAndReplay(t, cashierScenario(Naive), actortest.ErrInvariant)
}

func TestHalfFixedCashierTrustsCancel(t *testing.T) {
	findAndReplay(t, cashierScenario(HalfFixed), actortest.ErrInvariant)
}

func TestFixedCashier(t *testing.T) { verifyFix(t, cashierScenario(Fixed)) }

// printedFailure is what the tutorial shows: the half-fixed cashier's
// failure as Explore prints it.
func TestPrintedFailure(t *testing.T) {
	f := actortest.Search(t, cashierScenario(HalfFixed), actortest.Random(), 100).Failure
	if f == nil {
		t.Fatal("no failure")
	}
	t.Logf("%v\nreplay: %s", f, actortest.ReplayCommand(t, f.Seed))
}

// Under the earlier time rule (time passes only when nothing is
// deliverable) the half-fixed cashier looks correct: its timer can never
// fire while the authorisation waits in the mailbox.
func TestCashierTrustedCancelIsInvisibleWhenTimersWaitForQuiet(t *testing.T) {
	quiet := func(w *actortest.World) {
		w.Time = actortest.TimersWhenQuiet
		cashierScenario(HalfFixed)(w)
	}
	for _, st := range []actortest.Strategy{actortest.Random(), actortest.PCT(3)} {
		if f := actortest.Search(t, quiet, st, 100).Failure; f != nil {
			t.Errorf("%s found it under TimersWhenQuiet: %v", st, f)
		}
	}
}

// TestSchedulesToFind prints, for each bug and strategy, the median
// number of schedules a search needs to find it (over searches started
// at different seeds), and FIFO's verdict.
func TestSchedulesToFind(t *testing.T) {
	const searches, limit = 15, 1000
	bugs := []struct {
		name string
		run  actortest.Scenario
	}{
		{"teller overdraft", racyTeller},
		{"cashier: late authorisation (naive)", cashierScenario(Naive)},
		{"cashier: trusted cancel (half-fixed)", cashierScenario(HalfFixed)},
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-38s %-8s %-10s %s\n", "bug", "fifo", "random", "pct(3)")
	for _, bug := range bugs {
		fifo := "misses"
		if actortest.Search(t, bug.run, actortest.FIFO(), 1).Failure != nil {
			fifo = "finds"
		}
		var medians []string
		for _, st := range []actortest.Strategy{actortest.Random(), actortest.PCT(3)} {
			var ns []int
			for i := range searches {
				rep := actortest.Search(t, bug.run, st, limit, actortest.StartSeed(uint64(1+i*limit)))
				if rep.Failure == nil {
					t.Errorf("%s: %s found nothing in %d schedules from seed %d", bug.name, st, limit, 1+i*limit)
					continue
				}
				ns = append(ns, rep.Schedules)
			}
			slices.Sort(ns)
			medians = append(medians, fmt.Sprint(ns[len(ns)/2]))
		}
		fmt.Fprintf(&b, "%-38s %-8s %-10s %s\n", bug.name, fifo, medians[0], medians[1])
	}
	t.Logf("median schedules to find each bug (%d searches each):\n%s", searches, b.String())
}

func spawn(w *actortest.World, props *actor.Props, name string) *actor.PID {
	pid, err := w.SpawnNamed(props, name)
	if err != nil {
		w.Fail("spawn %s: %v", name, err)
	}
	return pid
}

func firstLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
