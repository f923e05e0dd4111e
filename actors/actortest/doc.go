// Package actortest is a deterministic test kit for proto.actor
// (github.com/asynkron/protoactor-go) actors. It tests your own,
// unmodified Props, and the children they spawn. Every mode runs inside a
// testing/synctest bubble, so timers, future timeouts and
// SetReceiveTimeout run on virtual time: a test never sleeps for real.
// The tutorial is docs/testing.md.
//
// # Modes
//
// Probe. NewProbe[T] spawns a plain actor that records what it receives.
// Expect, ExpectNone, Fish and ExpectTerminated wait in virtual time
// inside a bubble; failures list what did arrive. Tap returns a copy of
// some Props whose actors also send their outgoing messages to a probe.
// Probes work in every mode, and outside a bubble too.
//
// Sim. RunSim runs proto.actor's real dispatcher in a fresh bubble with a
// fresh actor system. Sim.Advance lets virtual time pass, Sim.Quiesce
// waits until every actor has settled. Goroutine interleavings are still
// the Go scheduler's.
//
// Step. RunStep gives a World. Actors spawned with World.Spawn,
// World.SpawnNamed or World.Root, and every child they spawn, get a
// stepping mailbox (injected by spawn middleware into a copy of the
// Props): nothing is delivered until the test steps, and each step runs
// one message on the test's goroutine, so actor state may be read
// between steps. Step delivers the oldest deliverable message; Deliver
// delivers a chosen one (a reordering); Hold sets messages aside and
// Release puts them back at the tail; RunUntilQuiet steps until nothing is
// deliverable; Ask sends a question and steps until the answer comes;
// Advance lets timers fire, and their messages then wait for steps too. The mailbox follows proto.actor's default one: system
// messages first, SuspendMailbox and ResumeMailbox, message batches
// expanded, a panic escalated to the supervisor, so a restart happens
// step by step. Pending lists the queue, Trace the steps taken, Effects
// and EffectsOf what the actors did through their context (spawn, Watch,
// Unwatch, Stop, Poison, Respond, SetReceiveTimeout) and the timers that
// fired, Logs proto.actor's logs. A Receive that waits until virtual time passes (Future.Result,
// time.Sleep, a select with a timer) is reported as ErrBlockedReceive
// (one that waits forever deadlocks the bubble, which synctest reports):
// use ctx.ReenterAfter or Future.PipeTo instead.
//
// Explore. A Scenario sets up a fresh World: actors, participants,
// faults and checks. Explore runs it under n schedules chosen by a
// Strategy and fails the test at the first failing one; Search returns
// that failure in its Report instead. At each step the strategy picks
// one of the deliverable messages, the moves of participants
// (World.Action, World.Participant, the scripted edges), the faults
// allowed by World.InjectFaults (drop, duplicate, delay, panic), letting
// time run to the next timer, and the timers that fired: by default
// (World.Time = TimerMoves) time may pass while messages wait, and a
// timer's message reaches its mailbox as a move of its own, so a timer can
// fire while a reply is queued and a reply can come after a timeout
// (TimersWhenQuiet keeps the earlier rule: time passes only when nothing
// is deliverable). FIFO is the single fixed order (no faults), Random
// picks uniformly, PCT(depth) is probabilistic concurrency testing, with
// time a participant of random priority. Search options StartSeed and
// Count choose the seeds; a seed alone decides its schedule. World.Invariant checks run after every step
// (ErrInvariant); World.Eventually checks run when the world is quiet
// (ErrLiveness): nothing deliverable, no move, no timer within
// World.Horizon. A run longer than World.MaxSteps fails with ErrStepBound,
// World.Fail with ErrScenario.
//
// # Scripted edges
//
// Upstream (NewUpstream, NewUpstreamFunc, Tokens, UpStep) is an
// llm.Provider for Armistice's engine whose streams are participants:
// each token, finish, error, cut or panic happens when the strategy
// picks it. Client (NewClient) is a scripted Armistice client actor: each
// of its ops (Submit, Attach, AttachRead, ReadMore, Detach, Vanish,
// CancelOp) is a move, and it checks what it reads as it reads it (no
// gap, no duplicate, nothing after the end); Agree checks that readers of
// one request saw one log. scenarios_test.go has the engine's scenarios.
//
// # Replaying a failure
//
// A failing schedule prints its error, strategy, seed, numbered step
// trace and the command that replays it (ReplayCommand). Setting
// ACTORTEST_SEED (SeedEnv) to the seed makes Explore and Search run that
// seed only, which gives the same schedule whatever the search's length:
//
//	ACTORTEST_SEED=4 go test ./actors/actortest -run '^TestMyScenario$'
//
// Replay(t, scenario, ParseTrace(printed)) follows a printed trace step by
// step, whatever GOMAXPROCS is, and returns the failure it reproduces; a
// step that is no longer possible gives ErrDiverged.
//
// # Limits
//
//   - Stepped actors must not wait inside Receive; a wait on a sync.Mutex
//     is not even detected (it is not durably blocking for synctest).
//   - Goroutines of your own are outside the schedule: what they post
//     during a step is collected at its end; each goroutine's posts keep
//     their order, and goroutines racing at one instant are ordered by what
//     they posted (virtual time, actor, message text), never by who won.
//     To explore their timing, post only from participant moves, as
//     Upstream does.
//   - Map iteration order, math/rand, backoff jitter and real I/O make a
//     schedule unrepeatable (Replay then reports ErrDiverged). World.Rand
//     is seeded by the schedule's seed, which a printed trace carries as
//     its line 0 ("seed N"), so both ACTORTEST_SEED and Replay reproduce it.
//   - Step and Explore need a *testing.T (synctest does), so their Examples
//     are test bodies run by tests (Example_step, Example_explore).
//   - Stepped actors run on the test's goroutine, so -race sees little of
//     them: run Sim-mode tests under -race as well.
//   - Actors spawned on World.System.Root (probes, for instance) are plain:
//     proto.actor's dispatcher runs them, unstepped.
package actortest
