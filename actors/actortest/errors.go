package actortest

import "errors"

var (
	// ErrBlockedReceive: an actor's Receive blocked (on a future, a
	// channel, a lock) while the world was stepping. Virtual time had to
	// pass for it to return, which a stepped actor must never need.
	ErrBlockedReceive = errors.New("actortest: Receive blocked")
	// ErrInvariant: a safety invariant failed after a step.
	ErrInvariant = errors.New("actortest: invariant violated")
	// ErrLiveness: the world went quiet (or hit the step bound) with a
	// liveness condition unmet.
	ErrLiveness = errors.New("actortest: liveness violated")
	// ErrStepBound: the world did not go quiet within MaxSteps.
	ErrStepBound = errors.New("actortest: no quiescence within the step bound")
	// ErrDiverged: a replayed trace asked for a step that is not possible;
	// the code under test changed, or something outside the kit's control
	// decides the order.
	ErrDiverged = errors.New("actortest: replay diverged from the trace")
	// ErrScenario: the scenario itself reported a failure.
	ErrScenario = errors.New("actortest: scenario failed")
)
