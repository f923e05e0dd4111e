package actortest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// Scenario sets up a world: it spawns the actors under test, the edges
// that drive them (Upstream, Client), faults, invariants and liveness
// checks. It runs once per schedule, in a fresh world, and must depend on
// nothing but the world (use World.Rand for variation).
type Scenario func(w *World)

// Faults says which faults exploration may inject. Faults only ever hit
// user messages that Match accepts, so proto.actor's own protocol stays
// intact.
type Faults struct {
	// Match selects the messages that may be hit; nil disables faults.
	Match func(msg any) bool
	// Drop loses the message; Duplicate delivers it twice in a row; Delay
	// moves it behind the messages other senders queued for the same
	// actor, up to (never past) the next message of its own sender, as
	// proto.actor keeps each sender's order; Panic makes its Receive panic
	// (the actor's supervisor then decides).
	Drop, Duplicate, Delay, Panic bool
	// Budget is the most faults in one schedule (default 1).
	Budget int
	// Rate is the chance that a step injects a fault when one is possible
	// (default 0.05).
	Rate float64
}

// InjectFaults enables fault injection for this world.
func (w *World) InjectFaults(f Faults) {
	if f.Budget <= 0 {
		f.Budget = 1
	}
	if f.Rate <= 0 {
		f.Rate = 0.05
	}
	w.faults = f
}

// Move is one step a participant can take now.
type Move struct {
	Name string
	Do   func()
}

type participant struct {
	name  string
	moves func() []Move
}

// Participant registers a source of schedulable moves (an edge: the
// upstream model, a client). moves is asked after every step for what the
// participant can do now; the strategy decides when each happens.
func (w *World) Participant(name string, moves func() []Move) {
	w.participants = append(w.participants, participant{name: name, moves: moves})
}

// Action registers a one-shot move, available once enabled (nil: at once).
func (w *World) Action(name string, enabled func() bool, do func()) {
	done := false
	w.Participant(name, func() []Move {
		if done || (enabled != nil && !enabled()) {
			return nil
		}
		return []Move{{Name: name, Do: func() { done = true; do() }}}
	})
}

// TimeModel says when exploration lets virtual time pass.
type TimeModel uint8

const (
	// TimerMoves (the default): letting time run to the next timer is a
	// step the strategy may take at any point, even while messages wait,
	// and a timer that fired does not reach its mailbox at once: each
	// timer's posts are a move of their own ("timer → actor type"), which
	// the strategy orders against queued messages and participant moves.
	// So a timer can fire while a reply waits in the mailbox, and a reply
	// can come after the timeout. A timer's message is enqueued no earlier
	// than its deadline, and one timer goroutine's posts keep their order.
	TimerMoves TimeModel = iota
	// TimersWhenQuiet is the earlier rule: time passes only when no
	// message is deliverable, and a timer's posts are queued as it fires.
	// A queued message is then always handled before any timer fires, so
	// races between timers and queued messages are not explored; keep it
	// for checks that measure time from a send (the message is handled in
	// the same instant).
	TimersWhenQuiet
)

func (m TimeModel) String() string {
	if m == TimersWhenQuiet {
		return "timers-when-quiet"
	}
	return "timer-moves"
}

type choiceKind uint8

const (
	choiceDeliver choiceKind = iota
	choiceMove
	choiceFault
	choiceArrival
	choiceAdvance
)

type choice struct {
	kind  choiceKind
	label string
	owner string
	seq   uint64
	rate  float64 // for faults: the chance to pick one
	run   func()
}

// choices lists what may happen next: each mailbox's next message, the
// faults on it, the participants' moves, the timers that fired (one per
// timer goroutine, in its order) and letting time run to the next timer.
// Under TimersWhenQuiet time may pass only when no message is deliverable.
func (w *World) choices() []choice {
	var cs []choice
	w.mu.Lock()
	boxes := slices.Clone(w.boxes)
	w.mu.Unlock()
	delivering := false
	for _, m := range boxes {
		w.mu.Lock()
		ok := m.deliverable()
		var label string
		var seq uint64
		var head any
		if ok {
			label, seq = m.headLabel(), m.headSeq()
			if len(m.sys) == 0 {
				head = unwrap(m.user[0].msg)
			}
		}
		w.mu.Unlock()
		if !ok {
			continue
		}
		delivering = true
		box := m
		cs = append(cs, choice{kind: choiceDeliver, label: "deliver " + label, owner: "actor " + m.Name(), seq: seq, run: func() { w.deliver(box, -1) }})
		if head != nil && w.faults.Match != nil && w.faultsUsed < w.faults.Budget && w.faults.Match(head) {
			cs = append(cs, w.faultChoices(box, label, seq)...)
		}
	}
	for i, p := range w.participants {
		for j, mv := range p.moves() {
			mv := mv
			name := p.name
			cs = append(cs, choice{kind: choiceMove, label: "move " + mv.Name, owner: "participant " + p.name,
				seq: math.MaxUint64/2 + uint64(i)<<16 + uint64(j), run: func() {
					prev := w.sender
					w.sender = "participant " + name
					mv.Do()
					w.sender = prev
				}})
		}
	}
	w.mu.Lock()
	arrivals := slices.Clone(w.arrivals)
	w.mu.Unlock()
	seen := map[uint64]bool{}
	labels := map[string]int{}
	for i, a := range arrivals {
		if seen[a.poster] {
			continue // a goroutine's later posts wait for its earlier ones
		}
		seen[a.poster] = true
		lbl := a.label
		if labels[lbl]++; labels[lbl] > 1 {
			lbl += fmt.Sprintf(" #%d", labels[lbl])
		}
		cs = append(cs, choice{kind: choiceArrival, label: lbl, owner: "time", seq: uint64(i), run: func() { w.enqueueArrival(a) }})
	}
	// After an advance that found no timer, time waits for another step
	// (which may start one) unless nothing else can happen.
	if (w.mayFire || len(cs) == 0) && !(w.Time == TimersWhenQuiet && delivering) {
		cs = append(cs, choice{kind: choiceAdvance, label: "advance", owner: "time", seq: math.MaxUint64})
	}
	return cs
}

func (w *World) faultChoices(m *mailbox, label string, seq uint64) []choice {
	var cs []choice
	add := func(kind string, on bool, f func()) {
		if on {
			cs = append(cs, choice{kind: choiceFault, label: "fault " + kind + " " + label, owner: "actor " + m.Name(), seq: seq,
				rate: w.faults.Rate, run: func() { w.faultsUsed++; f() }})
		}
	}
	pop := func() envelope {
		w.mu.Lock()
		defer w.mu.Unlock()
		e := m.user[0]
		m.user = m.user[1:]
		return e
	}
	add("drop", w.faults.Drop, func() { pop() })
	add("duplicate", w.faults.Duplicate, func() {
		w.mu.Lock()
		m.user = slices.Insert(m.user, 1, m.user[0])
		w.mu.Unlock()
		w.deliver(m, 0)
	})
	w.mu.Lock()
	passes := delayReach(m.user)
	w.mu.Unlock()
	add("delay", w.faults.Delay && passes > 0, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		k := delayReach(m.user)
		e := m.user[0]
		w.postSeq++
		e.seq = w.postSeq
		m.user = slices.Insert(m.user[1:], k, e)
	})
	add("panic", w.faults.Panic, func() {
		e := pop()
		m.invoker.EscalateFailure(fmt.Errorf("actortest: injected panic on %s", typeName(e.msg)), e.msg)
		w.settle()
	})
	return cs
}

// delayReach is how many queued messages the head may be delayed behind:
// those up to the next message of the same sender, which it must stay
// ahead of (proto.actor keeps each sender's order into a mailbox).
func delayReach(user []envelope) int {
	if len(user) < 2 {
		return 0
	}
	from := user[0].from
	for i, e := range user[1:] {
		if e.from == from {
			return i
		}
	}
	return len(user) - 1
}

// Strategy decides, step by step, which of the possible steps happens.
//
// Every parameter of a schedule is derived from its seed, so a printed
// seed replays the same schedule whatever else was searched before it.
type Strategy interface {
	String() string
	picker(seed uint64) picker
}

type picker func(step int, cs []choice) int

// FIFO is the single fixed schedule: the oldest queued message first, then
// moves in registration order, then time. It never injects faults.
func FIFO() Strategy { return fifo{} }

type fifo struct{}

func (fifo) String() string { return "fifo" }
func (fifo) picker(uint64) picker {
	return func(_ int, cs []choice) int {
		best := -1
		for i, c := range cs {
			if c.kind == choiceFault {
				continue
			}
			if best < 0 || c.seq < cs[best].seq {
				best = i
			}
		}
		return best
	}
}

// Random picks uniformly among the possible steps, with faults at their
// rate.
func Random() Strategy { return random{} }

type random struct{}

func (random) String() string { return "random" }
func (random) picker(seed uint64) picker {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	return func(_ int, cs []choice) int {
		if i, ok := maybeFault(rng, cs); ok {
			return i
		}
		var normal []int
		for i, c := range cs {
			if c.kind != choiceFault {
				normal = append(normal, i)
			}
		}
		return normal[rng.IntN(len(normal))]
	}
}

// maybeFault picks a fault at the world's fault rate, when one is possible.
func maybeFault(rng *rand.Rand, cs []choice) (int, bool) {
	var faults []int
	for i, c := range cs {
		if c.kind == choiceFault {
			faults = append(faults, i)
		}
	}
	if len(faults) == 0 || rng.Float64() >= cs[faults[0]].rate {
		return 0, false
	}
	return faults[rng.IntN(len(faults))], true
}

// PCT is probabilistic concurrency testing (Burckhardt et al., ASPLOS
// 2010): every participant (an actor's mailbox, an edge, time) gets a
// random priority, the highest-priority possible step always runs, and at
// depth-1 random steps the running participant drops to the lowest
// priorities. Time is a participant like the others: its priority is
// random too, and it can be demoted. A bug needing d ordering constraints
// is found with probability at least 1/(n·k^(d-1)) per schedule. The
// change points fall among the first k steps, with k drawn from the seed
// (16 to 512), so a seed gives one schedule however the search went.
func PCT(depth int) Strategy {
	if depth < 1 {
		depth = 1
	}
	return pct{depth: depth}
}

type pct struct{ depth int }

func (p pct) String() string { return fmt.Sprintf("pct(%d)", p.depth) }
func (p pct) picker(seed uint64) picker {
	rng := rand.New(rand.NewPCG(seed, 0x9c7))
	k := 16 << rng.IntN(6)
	prio := map[string]int{}
	change := map[int]int{}
	for i := 1; i < p.depth; i++ {
		change[rng.IntN(k)] = i
	}
	return func(step int, cs []choice) int {
		if i, ok := maybeFault(rng, cs); ok {
			return i
		}
		best := -1
		for i, c := range cs {
			if c.kind == choiceFault {
				continue
			}
			pr, seen := prio[c.owner]
			if !seen {
				pr = p.depth + rng.IntN(1<<30)
				prio[c.owner] = pr
			}
			if best < 0 || pr > prio[cs[best].owner] || (pr == prio[cs[best].owner] && c.seq < cs[best].seq) {
				best = i
			}
		}
		if low, ok := change[step]; ok {
			prio[cs[best].owner] = low
		}
		return best
	}
}

// Failure is a schedule that broke the scenario, with what it takes to
// reproduce it.
type Failure struct {
	Strategy string
	Seed     uint64
	Schedule int // 0-based index among the schedules tried
	Err      error
	Trace    []string
}

func (f *Failure) Error() string {
	return fmt.Sprintf("%v\nstrategy %s, seed %d (schedule %d), %d steps\n%s", f.Err, f.Strategy, f.Seed, f.Schedule, len(f.Trace), formatTrace(f.Seed, f.Trace))
}

func (f *Failure) Unwrap() error { return f.Err }

// Report summarises a search.
type Report struct {
	Strategy  string
	Schedules int
	// MaxSteps is the longest schedule run.
	MaxSteps int
	// Failure is the first failing schedule, nil when all passed.
	Failure *Failure
}

// SeedEnv names the environment variable that restricts Explore and
// Search to one seed (to replay a printed failure): ACTORTEST_SEED=42.
const SeedEnv = "ACTORTEST_SEED"

// SearchOption changes which schedules Search and Explore try.
type SearchOption func(*searchConfig)

type searchConfig struct {
	first uint64
	count int
}

// StartSeed makes the search start at seed s instead of 1 (seeds s,
// s+1, ...), to look further without repeating schedules already tried.
func StartSeed(s uint64) SearchOption { return func(c *searchConfig) { c.first = s } }

// Count overrides the number of schedules.
func Count(n int) SearchOption { return func(c *searchConfig) { c.count = n } }

// Search runs the scenario under n schedules chosen by strategy, stopping
// at the first failure, which it returns in the report instead of failing
// t. Seeds are 1..n, or from StartSeed on; ACTORTEST_SEED overrides both
// and runs that one seed. A seed alone decides its schedule, so the seed of
// a failure replays it under any n and start.
func Search(t *testing.T, scenario Scenario, strategy Strategy, n int, opts ...SearchOption) Report {
	t.Helper()
	cfg := searchConfig{first: 1, count: n}
	for _, o := range opts {
		o(&cfg)
	}
	if s := os.Getenv(SeedEnv); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", SeedEnv, s, err)
		}
		cfg.first, cfg.count = seed, 1
	}
	rep := Report{Strategy: strategy.String()}
	for i := range cfg.count {
		seed := cfg.first + uint64(i)
		res := runSchedule(t, scenario, strategy.picker(seed), seed, nil)
		rep.Schedules++
		rep.MaxSteps = max(rep.MaxSteps, len(res.trace))
		if res.err != nil {
			rep.Failure = &Failure{Strategy: strategy.String(), Seed: seed, Schedule: i, Err: res.err, Trace: res.trace}
			return rep
		}
	}
	return rep
}

// Explore runs the scenario under n schedules and fails t at the first
// failing one, printing the seed, the step trace and the command that
// replays it.
func Explore(t *testing.T, scenario Scenario, strategy Strategy, n int, opts ...SearchOption) Report {
	t.Helper()
	rep := Search(t, scenario, strategy, n, opts...)
	if f := rep.Failure; f != nil {
		t.Fatalf("%v\nreplay: %s (or actortest.Replay with the trace above)", f, ReplayCommand(t, f.Seed))
	}
	return rep
}

// ReplayCommand is the shell command that runs t's test again with only
// the given seed: ACTORTEST_SEED=N go test ./pkg -run '^TestX$/^sub$'.
// The package path is relative to the module root (found from the test's
// working directory, which go test sets to the package's).
func ReplayCommand(t testing.TB, seed uint64) string {
	var parts []string
	for _, p := range strings.Split(t.Name(), "/") {
		parts = append(parts, "^"+regexp.QuoteMeta(p)+"$")
	}
	return fmt.Sprintf("%s=%d go test %s -run '%s'", SeedEnv, seed, packagePath(), strings.Join(parts, "/"))
}

// packagePath is "./dir/of/package" relative to the nearest go.mod, or
// "." when none is found.
func packagePath() string {
	wd, err := os.Getwd()
	if err != nil {
		return "."
	}
	for dir := wd; ; {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			rel, err := filepath.Rel(dir, wd)
			if err != nil || rel == "." {
				return "."
			}
			return "./" + filepath.ToSlash(rel)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "."
		}
		dir = parent
	}
}

// Replay runs the scenario following trace step by step (labels as
// printed, one per element) and returns the failure it reproduces, or nil.
// A first element "seed N" (as ParseTrace reads it from a printed trace)
// gives the world the schedule's seed, for scenarios that use World.Rand.
// A trace that asks for an impossible step gives ErrDiverged.
func Replay(t *testing.T, scenario Scenario, trace []string) *Failure {
	t.Helper()
	var seed uint64
	if len(trace) > 0 && strings.HasPrefix(trace[0], "seed ") {
		s, err := strconv.ParseUint(strings.TrimPrefix(trace[0], "seed "), 10, 64)
		if err != nil {
			t.Fatalf("replay: bad seed line %q: %v", trace[0], err)
		}
		seed, trace = s, trace[1:]
	}
	res := runSchedule(t, scenario, nil, seed, trace)
	if res.err == nil {
		return nil
	}
	return &Failure{Strategy: "replay", Seed: seed, Err: res.err, Trace: res.trace}
}

// ParseTrace reads the steps of a trace as printed in a failure: the
// numbered lines, the first being "seed N"; everything else is skipped, so
// a whole failure message can be pasted and handed to Replay.
func ParseTrace(s string) []string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		i := strings.IndexByte(line, ' ')
		if i <= 0 {
			continue
		}
		if _, err := strconv.Atoi(line[:i]); err != nil {
			continue
		}
		out = append(out, strings.TrimSpace(line[i:]))
	}
	return out
}

type runResult struct {
	err   error
	trace []string
}

// label strips a trace note ("advance | +5s" → "advance").
func label(s string) string {
	if i := strings.Index(s, " | "); i >= 0 {
		return s[:i]
	}
	return s
}

func runSchedule(t *testing.T, scenario Scenario, pick picker, seed uint64, replay []string) (res runResult) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, seed)
		defer func() {
			res = runResult{err: w.failure, trace: slices.Clone(w.trace)}
			w.teardown()
		}()
		scenario(w)
		w.settle()
		w.run(pick, replay)
	})
	return res
}

func (w *World) run(pick picker, replay []string) {
	for step := 0; w.failure == nil; step++ {
		if step >= w.MaxSteps {
			w.failure = fmt.Errorf("%w (%d)", ErrStepBound, w.MaxSteps)
			return
		}
		cs := w.choices()
		var i int
		if replay != nil {
			if step >= len(replay) {
				return
			}
			i = slices.IndexFunc(cs, func(c choice) bool { return c.label == label(replay[step]) })
			if i < 0 {
				var have []string
				for _, c := range cs {
					have = append(have, c.label)
				}
				w.failure = fmt.Errorf("%w at step %d: want %q, possible: %q", ErrDiverged, step+1, replay[step], have)
				return
			}
		} else {
			i = pick(step, cs)
		}
		c := cs[i]
		if c.kind != choiceAdvance {
			w.trace = append(w.trace, c.label)
			c.run()
			if c.kind != choiceDeliver && c.kind != choiceArrival {
				w.settle() // a delivery settled already; an arrival runs no code
			}
			w.mayFire = true // the step may have started a timer
			w.checkInvariants()
			continue
		}
		start := time.Now()
		fired := w.advance(w.Horizon)
		w.mayFire = fired
		w.trace = append(w.trace, "advance | +"+time.Since(start).String())
		if !fired && len(cs) == 1 {
			w.checkLiveness() // quiet: nothing queued, nothing to do, no timer within the horizon
			return
		}
		w.checkInvariants()
	}
}
